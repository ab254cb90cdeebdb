import type { ModelBounds } from '../quantize/bounds.js';
import type { QuantizedModel } from '../quantize/types.js';
import { compileCircom, type CompiledCircuit } from './compile.js';
import { emitCircuit, type PublicLayout, type Visibility } from './emit.js';
import { emitPrivateWeightsCircuit } from '../weights/emit.js';
import type { WeightsArchitecture } from '../weights/architecture.js';

/** The circuit stage's output: the quantized model with its compiled circuit and public signal layout. */
export interface ModelCircuit {
  qmodel: QuantizedModel;
  circuit: CompiledCircuit;
  layout: PublicLayout;
  bounds: ModelBounds;
  /** Private-weights circuits: the architecture every fitting model shares (src/weights/architecture.ts). */
  architecture?: WeightsArchitecture;
}

export interface CompileOptions {
  artifactsDir?: string;
  /** Inferences per proof (default 1). */
  batch?: number;
  /** What the proof reveals (default: public input and logits). */
  visibility?: Visibility;
}

export async function compileModel(qmodel: QuantizedModel, options: CompileOptions = {}): Promise<ModelCircuit> {
  if (options.visibility?.weights === 'private') {
    const { source, bounds, layout, architecture } = emitPrivateWeightsCircuit(qmodel, options.batch ?? 1, options.visibility);
    return { qmodel, circuit: await compileCircom(source, { name: 'model', artifactsDir: options.artifactsDir }), layout, bounds, architecture };
  }
  const { source, bounds, layout } = emitCircuit(qmodel, options.batch ?? 1, options.visibility);
  const circuit = await compileCircom(source, { name: 'model', artifactsDir: options.artifactsDir });
  return { qmodel, circuit, layout, bounds };
}

export { emitCircuit, publicLayout, PUBLIC_VISIBILITY, type PublicLayout, type Visibility } from './emit.js';
export type { CompiledCircuit } from './compile.js';
