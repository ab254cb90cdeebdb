import type { ModelCircuit } from '../circuit/index.js';
import type { DecodedOutput } from '../format/decode.js';
import type { QuantizedModel } from '../quantize/types.js';
import { ZkinferError } from '../util/errors.js';
import { fitToArchitecture } from './architecture.js';
import { modelIdOfCommitment, weightsCommitment, weightsWitness } from './commitment.js';

/** What src/prove needs to prove with private weights: the witness signals and the reference model. */
export interface PrivateWeightsInputs {
  /** w<l>, b<l>, m<l>, weightsSalt. */
  signals: Record<string, unknown>;
  /** The weights fitted to the architecture: runQuantized on it is what the circuit must output. */
  fitted: QuantizedModel;
  /** The circomlibjs twin of the commitment the proof will publish. */
  commitment: Promise<bigint>;
}

export interface WeightsOptions {
  /** Private-weights circuits: the quantized model to prove with (default: the model the circuit was compiled from). */
  weights?: QuantizedModel;
  /** Private-weights circuits: the salt of the weights commitment. Required: the same weights and salt give the same model id. */
  weightsSalt?: bigint;
}

/** null for constant-weights circuits (which refuse weights options); throws a clear error on a bad model or salt. */
export function privateWeightsInputs(model: ModelCircuit, options: WeightsOptions): PrivateWeightsInputs | null {
  if (model.layout.visibility.weights !== 'private') {
    if (options.weights !== undefined || options.weightsSalt !== undefined)
      throw new ZkinferError('BAD_INPUT', 'weights and weightsSalt are only taken by private-weights circuits');
    return null;
  }
  const arch = model.architecture;
  if (!arch) throw new ZkinferError('BAD_INPUT', 'this private-weights model has no architecture (compile it with compileModel)');
  if (options.weightsSalt === undefined) throw new ZkinferError('BAD_INPUT', 'a private-weights proof needs the weights salt (the model id is the commitment under it)');
  const fitted = fitToArchitecture(options.weights ?? model.qmodel, arch);
  const signals = weightsWitness(fitted, arch, options.weightsSalt);
  return { signals, fitted, commitment: weightsCommitment(fitted, arch, options.weightsSalt) };
}

/** The ids a bundle carries: the key's id, or for private weights the commitment as model id plus keyId. */
export function bundleIds(keyId: string, decoded: DecodedOutput): { modelId: string; keyId?: string } {
  return decoded.weightsCommitment === undefined ? { modelId: keyId } : { modelId: modelIdOfCommitment(decoded.weightsCommitment), keyId };
}
