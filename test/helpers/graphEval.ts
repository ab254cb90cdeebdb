/**
 * Run an op graph in float (every op's evalFloat, as constant folding and calibration do), for comparing
 * with onnxruntime in tests. Feeds are given with the IR's shapes (a batch input keeps its leading 1).
 */
import type { Graph, Tensor } from '../../src/graph/ir.js';
import { runFloat } from '../../src/graph/quant/lower.js';

export function evalGraph(graph: Graph, feeds: Record<string, ArrayLike<number | boolean>>): Map<string, Tensor> {
  const sample = new Map<string, Float64Array>();
  for (const i of graph.inputs) {
    const data = feeds[i.name];
    if (!data) throw new Error(`no feed for input '${i.name}'`);
    sample.set(i.name, Float64Array.from(Array.from(data, Number)));
  }
  return runFloat(graph, sample);
}
