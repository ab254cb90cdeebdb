/**
 * Identity and inference-mode Dropout pass their input on: readers of the output read the input instead
 * and the node goes. A node whose output is a graph output stays (the output keeps its name; it lowers to
 * the same forms at no cost), and so does a Dropout whose mask is read or
 * that has a training_mode input (the op checks it is off). Rewrites in place, returns the graph.
 */
import type { Graph } from '../ir.js';

export function eliminateIdentity(graph: Graph): Graph {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const rename = new Map<string, string>();
  const read = new Set(graph.nodes.flatMap((n) => n.inputs));
  const keep: typeof graph.nodes = [];
  for (const n of graph.nodes) {
    n.inputs = n.inputs.map((i) => rename.get(i) ?? i);
    const passes = n.op === 'Identity' || (n.op === 'Dropout' && !(n.outputs[1] && (read.has(n.outputs[1]) || outputs.has(n.outputs[1]))) && !n.inputs[2]);
    if (passes && n.inputs[0] && !outputs.has(n.outputs[0])) {
      rename.set(n.outputs[0], n.inputs[0]);
      continue;
    }
    keep.push(n);
  }
  graph.nodes = keep;
  return graph;
}
