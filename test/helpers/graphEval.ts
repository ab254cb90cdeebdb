/**
 * Run an op graph with every op's evalFloat (the float meaning constant folding uses), for comparing
 * with onnxruntime in tests. Feeds are given with the IR's shapes (a batch input keeps its leading 1).
 */
import { NodeAttrs, nodeLabel, type Graph, type Tensor } from '../../src/graph/ir.js';
import { OPS } from '../../src/graph/ops/index.js';

export function evalGraph(graph: Graph, feeds: Record<string, ArrayLike<number | boolean>>): Map<string, Tensor> {
  const env = new Map<string, Tensor>(graph.constants);
  for (const i of graph.inputs) {
    const data = feeds[i.name];
    if (!data) throw new Error(`no feed for input '${i.name}'`);
    env.set(i.name, { dtype: i.dtype, shape: [...i.shape], data: Float64Array.from(Array.from(data, Number)) });
  }
  for (const node of graph.nodes) {
    const def = OPS.get(node.op);
    if (!def) throw new Error(`${nodeLabel(node)}: no OpDef`);
    const ins = node.inputs.map((n) => (n === '' ? undefined : env.get(n)));
    const outs = def.evalFloat({ node, attrs: new NodeAttrs(node), opset: graph.opset ?? 13 }, ins);
    node.outputs.forEach((o, k) => o && env.set(o, outs[k]));
  }
  return env;
}
