import { FIELD_P } from '../circuit/witness.js';
import { randomSalt } from '../format/commitment.js';
import { loadModelSource } from '../model/index.js';
import { quantizeModel } from '../quantize/quantize.js';
import { ZkinferError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { deriveArchitecture } from '../weights/architecture.js';
import { modelIdOfCommitment, weightsCommitment } from '../weights/commitment.js';
import type { WeightsOptions } from '../weights/prove.js';
import { readQuantizedModel } from '../weights/qmodelFile.js';

/** CLI pieces of private weights (--weights private, --weights-file, --weights-salt, commit-weights). */
export interface WeightsFlags {
  /** 'constant' (default) or 'private'. */
  weights?: string;
  /** A quantized model JSON (zkinfer-qmodel) whose weights to prove with. */
  weightsFile?: string;
  /** Decimal salt of the weights commitment. */
  weightsSalt?: string;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

/** The visibility field for --weights: absent for constant weights, so default circuits stay as they were. */
export function weightsVisibility(flags: WeightsFlags): { weights?: 'private' } {
  if (flags.weights !== undefined && flags.weights !== 'constant' && flags.weights !== 'private') {
    throw new ZkinferError('BAD_INPUT', `--weights must be constant or private (got ${flags.weights})`);
  }
  return flags.weights === 'private' ? { weights: 'private' } : {};
}

export function parseWeightsSalt(text: string): bigint {
  if (!/^(0|[1-9]\d*)$/.test(text) || BigInt(text) >= FIELD_P) throw new ZkinferError('BAD_INPUT', '--weights-salt must be a decimal field element in [0, p)');
  return BigInt(text);
}

/** The prover's weights options from the flags (both undefined without private weights). */
export async function weightsProveOptions(flags: WeightsFlags): Promise<WeightsOptions> {
  return {
    ...(flags.weightsFile ? { weights: await readQuantizedModel(flags.weightsFile) } : {}),
    ...(flags.weightsSalt !== undefined ? { weightsSalt: parseWeightsSalt(flags.weightsSalt) } : {}),
  };
}

/**
 * `zkinfer commit-weights`: the model id a model owner publishes. The architecture is the one `--model`
 * compiles to with --weights private; the weights are --weights-file's (default: --model's own). Without
 * --weights-salt a fresh random salt is drawn and printed: it is secret and every proof needs it.
 */
export async function commitWeightsCommand(flags: WeightsFlags & { model: string; calibration?: string; writeQmodel?: string }): Promise<void> {
  const source = await loadModelSource(flags.model, { calibrationFile: flags.calibration });
  const qmodel = quantizeModel(source.float, source.calibration, { inputBits: source.inputBits, inputScale: source.inputScale, labels: source.labels });
  const arch = deriveArchitecture(qmodel);
  const weights = flags.weightsFile ? await readQuantizedModel(flags.weightsFile) : qmodel;
  const salt = flags.weightsSalt !== undefined ? parseWeightsSalt(flags.weightsSalt) : randomSalt();
  const commitment = await weightsCommitment(weights, arch, salt);
  if (flags.writeQmodel) await writeFileAtomic(flags.writeQmodel, JSON.stringify(weights));
  if (flags.weightsSalt === undefined) out(`weights salt       ${salt} (SECRET: provers need it; it keeps the weights from being guessed)`);
  out(`weights commitment ${commitment}`);
  out(`model id           ${modelIdOfCommitment(commitment)}`);
  if (flags.writeQmodel) out(`quantized model    ${flags.writeQmodel} (pass it to zkinfer prove --weights private --weights-file)`);
}
