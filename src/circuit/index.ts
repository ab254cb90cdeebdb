import type { ModelBounds } from '../quantize/bounds.js';
import type { QuantizedModel } from '../quantize/types.js';
import { compileCircom, type CompiledCircuit } from './compile.js';
import { emitCircuit, type PublicLayout } from './emit.js';

/** The circuit stage's output: the quantized model with its compiled circuit and public signal layout. */
export interface ModelCircuit {
  qmodel: QuantizedModel;
  circuit: CompiledCircuit;
  layout: PublicLayout;
  bounds: ModelBounds;
}

/** Compile the model's circuit; `batch` > 1 proves that many inferences in one proof. */
export async function compileModel(qmodel: QuantizedModel, options: { artifactsDir?: string; batch?: number } = {}): Promise<ModelCircuit> {
  const { source, bounds, layout } = emitCircuit(qmodel, options.batch ?? 1);
  const circuit = await compileCircom(source, { name: 'model', artifactsDir: options.artifactsDir });
  return { qmodel, circuit, layout, bounds };
}

export { emitCircuit, publicLayout, type PublicLayout } from './emit.js';
export type { CompiledCircuit } from './compile.js';
