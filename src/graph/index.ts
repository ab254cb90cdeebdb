/**
 * The op-graph pipeline's entry points: load a model file as a graph (import + passes), read inputs in the
 * model's own units, build (lower, compile, set up), prove, evaluate.
 */
import { fail } from '../util/errors.js';
import { readJsonFile } from '../util/fs.js';
import type { Graph } from './ir.js';
import { loadOnnxGraph } from './onnx.js';
import { loadTfjsGraph } from './tfjs.js';
import { runPasses } from './passes/index.js';
import { parseCalibrationFile, parseInputFile } from './inputs.js';
import type { Sample } from './quant/lower.js';

/** Import a model file and run the shared passes (folding, dead nodes, batch dimension, fusions). */
export async function loadGraph(file: string): Promise<Graph> {
  if (file.endsWith('.onnx')) return runPasses(await loadOnnxGraph(file));
  if (file.endsWith('.json')) return runPasses(await loadTfjsGraph(file));
  return fail('BAD_INPUT', `${file}: the graph pipeline reads .onnx files and tfjs Layers model.json files`);
}

export async function readSample(graph: Graph, file: string, what = 'input'): Promise<Sample> {
  return parseInputFile(await readJsonFile(file, what, 'BAD_INPUT'), graph.inputs, `${what} ${file}`);
}

export async function readSamples(graph: Graph, file: string, what = 'calibration data'): Promise<Sample[]> {
  return parseCalibrationFile(await readJsonFile(file, what, 'BAD_INPUT'), graph.inputs, `${what} ${file}`);
}

export {
  buildGraphModel,
  compileGraphProgram,
  setupGraphCircuit,
  proveGraph,
  proveGraphBatch,
  graphWeightsCommitment,
  type GraphModel,
  type GraphCircuit,
  type GraphWeightsOptions,
} from './pipeline.js';
export { weightsFromConstants, type QWeightTensor } from './quant/privateWeights.js';
export { lowerGraph, runFloat, type QProgram, type Sample, type LowerOptions } from './quant/lower.js';
export { quantizeInputs, runProgram, dequantizeOutputs } from './quant/reference.js';
export { evaluateAgreement, type Agreement } from './evaluate.js';
export { emitGraphCircuit } from './emit.js';
export { splitGraph, runChain, type SplitOptions, type SplitProgram } from './split.js';
export { compileSplit, setupSplit, proveSplit, type SplitModel, type SplitCircuits, type SplitProveOptions } from './splitPipeline.js';
export type { Graph } from './ir.js';
export { importTfjsGraph, loadTfjsGraph, type TfjsWeights } from './tfjs.js';
