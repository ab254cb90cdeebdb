/**
 * zkinfer library API. The pipeline runs model -> quantize -> circuit -> setup -> prove -> verify, each
 * stage a folder under src/ with one small entry point; `buildModel` chains the first four.
 */
import { compileModel } from './circuit/index.js';
import { loadModelSource, type LoadOptions } from './model/index.js';
import { quantizeModel, type QuantizeOptions } from './quantize/quantize.js';
import { setupModel, type CompiledModel, type SetupOptions } from './setup/index.js';

export interface BuildOptions extends LoadOptions, SetupOptions {
  quantize?: Partial<QuantizeOptions>;
  /** Inferences per proof (default 1). */
  batch?: number;
  onStage?: (stage: 'load' | 'quantize' | 'compile' | 'setup') => void;
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
  options.onStage?.('compile');
  const circuit = await compileModel(qmodel, { artifactsDir: options.artifactsDir, batch: options.batch });
  options.onStage?.('setup');
  return setupModel(circuit, options);
}

export { loadModelSource, BUNDLED_MODELS, DEFAULT_MODEL } from './model/index.js';
export { loadTfjsLayersModel } from './model/tfjsLayers.js';
export { quantizeModel } from './quantize/quantize.js';
export { runQuantized, validateInput } from './quantize/reference.js';
export { compileModel, emitCircuit } from './circuit/index.js';
export { setupModel, type CompiledModel } from './setup/index.js';
export { prove, proveBatch } from './prove/index.js';
export { verify, type VerifyResult } from './verify/index.js';
export { parseBundle, type ProofBundle } from './format/bundle.js';
export { parseKey, modelIdOf, type ZkinferKey } from './format/key.js';
export { ZkinferError } from './util/errors.js';
