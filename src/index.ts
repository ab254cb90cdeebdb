/**
 * zkinfer library API. The pipeline runs model -> quantize -> circuit -> setup -> prove -> verify, each
 * stage a folder under src/ with one small entry point; `buildModel` chains the first four.
 */
import { compileModel, type Visibility } from './circuit/index.js';
import { loadModelSource, type LoadOptions } from './model/index.js';
import { quantizeModel, type QuantizeOptions } from './quantize/quantize.js';
import { setupModel, type CompiledModel, type SetupOptions } from './setup/index.js';
import { validateInput } from './quantize/reference.js';
import { ZkinferError } from './util/errors.js';

export interface BuildOptions extends LoadOptions, SetupOptions {
  quantize?: Partial<QuantizeOptions>;
  /** Inferences per proof (default 1). */
  batch?: number;
  /** What proofs reveal (default: public input and logits). */
  visibility?: Visibility;
  onStage?: (stage: 'load' | 'quantize' | 'compile' | 'setup') => void;
  /**
   * The inputs about to be proved, checked against the quantized model before anything is compiled or
   * set up, so a bad batch item fails in seconds, not after the setup.
   */
  inputs?: unknown[];
}

/** Load, quantize, compile and set up a model (every step cached by content hash under artifacts/). */
export async function buildModel(spec?: string, options: BuildOptions = {}): Promise<CompiledModel> {
  options.onStage?.('load');
  const source = await loadModelSource(spec, options);
  options.onStage?.('quantize');
  const qmodel = quantizeModel(source.float, source.calibration, {
    inputBits: source.inputBits,
    inputScale: source.inputScale,
    labels: source.labels,
    ...options.quantize,
  });
  options.inputs?.forEach((input, i) => {
    try {
      validateInput(qmodel, input);
    } catch (err) {
      if (err instanceof ZkinferError && options.inputs!.length > 1) throw new ZkinferError(err.code, `batch item ${i}: ${err.message}`);
      throw err;
    }
  });
  options.onStage?.('compile');
  const circuit = await compileModel(qmodel, { artifactsDir: options.artifactsDir, batch: options.batch, visibility: options.visibility });
  options.onStage?.('setup');
  return setupModel(circuit, options);
}

export { loadModelSource, BUNDLED_MODELS, DEFAULT_MODEL } from './model/index.js';
export { loadTfjsLayersModel } from './model/tfjsLayers.js';
export { loadOnnxModel } from './model/onnx.js';
export { quantizeModel } from './quantize/quantize.js';
export { runQuantized, validateInput } from './quantize/reference.js';
export { compileModel, emitCircuit, PUBLIC_VISIBILITY, type Visibility } from './circuit/index.js';
export { setupModel, type CompiledModel } from './setup/index.js';
export { prove, proveBatch, proveWithOpenings, type Opening, type ProveOptions } from './prove/index.js';
export { inputCommitment, randomSalt } from './format/commitment.js';
export { deriveArchitecture, fitToArchitecture, type WeightsArchitecture } from './weights/architecture.js';
export { weightsCommitment, modelIdOfCommitment } from './weights/commitment.js';
export { parseQuantizedModel, readQuantizedModel } from './weights/qmodelFile.js';
export { verify, verifyBundle, verifyChain, type VerifyResult, type VerifyOptions, type ChainVerifyResult } from './verify/index.js';
export { parseChainKey, parseChainBundle, chainIdOf, type ChainKey, type ChainBundle } from './format/chain.js';
export { parseBundle, type ProofBundle } from './format/bundle.js';
export { parseKey, modelIdOf, type ZkinferKey } from './format/key.js';
export { ZkinferError } from './util/errors.js';
export { loadKeyRegistry, createKeyRegistry, verifyWithRegistry, type KeyRegistry, type KeyEntry, type RegistryVerdict, type VerifyFailure } from './verify/registry.js';
export {
  solidityVerifier,
  solidityCallData,
  encodeVerifyProofCall,
  verifierCallArgs,
  verifyProofSignature,
  estimateVerifierRuntimeBytes,
  type VerifierCallArgs,
  type VerifierOptions,
} from './verify/solidity.js';
export { buildApp, DEFAULT_BODY_LIMIT, DEFAULT_REQUEST_TIMEOUT_MS, type AppOptions, type ModelSummary } from './server/app.js';
export { startServer, type ServeOptions, type RunningServer } from './server/serve.js';
export { storeModel, loadStoredModel, manifestPath } from './prove/modelStore.js';
export { BullProveQueue, startProveWorker, DEFAULT_QUEUE, type ProveJobData, type ProveWorker, type WorkerOptions as ProveWorkerOptions } from './queue/bullmq.js';
export { LocalProveBackend, type LocalBackendOptions } from './queue/localBackend.js';
export { ProverThreads, ProveFailure } from './queue/proverThreads.js';
export { BackendUnavailableError, idempotencyKey, type ProveBackend, type BackendHealth, type JobStatus, type JobState, type SubmitOptions } from './queue/backend.js';

// The op-graph pipeline (ONNX models of any shape): src/graph/.
export {
  loadGraph,
  readSample,
  readSamples,
  buildGraphModel,
  proveGraph,
  proveGraphBatch,
  graphWeightsCommitment,
  weightsFromConstants,
  lowerGraph,
  runFloat,
  quantizeInputs,
  runProgram,
  dequantizeOutputs,
  evaluateAgreement,
  splitGraph,
  compileSplit,
  setupSplit,
  proveSplit,
  type SplitModel,
  type SplitProgram,
  type Graph,
  type GraphModel,
  type GraphWeightsOptions,
  type QProgram,
  type Sample,
  type LowerOptions,
  type Agreement,
} from './graph/index.js';
export { supportedOps } from './graph/ops/index.js';
