/**
 * Dead code: nodes none of whose outputs a graph output depends on (each is noted), and constants no
 * remaining node reads. Graph inputs stay (the user still feeds them) but an unused one is noted.
 * Rewrites the graph in place and returns it.
 */
import { nodeLabel, type Graph } from '../ir.js';

export function deadNodes(graph: Graph): Graph {
  const wanted = new Set(graph.outputs.map((o) => o.name));
  const keep: typeof graph.nodes = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.outputs.some((o) => wanted.has(o))) {
      keep.push(n);
      for (const x of n.inputs) if (x) wanted.add(x);
    } else {
      graph.notes.push(`dropped ${nodeLabel(n)}: no graph output depends on it`);
    }
  }
  graph.nodes = keep.reverse();
  let dropped = 0;
  for (const name of [...graph.constants.keys()]) {
    if (!wanted.has(name)) {
      graph.constants.delete(name);
      dropped++;
    }
  }
  if (dropped > 0) graph.notes.push(`dropped ${dropped} unused constant${dropped === 1 ? '' : 's'}`);
  for (const input of graph.inputs) {
    const note = `input '${input.name}' is not used by any output`;
    if (!wanted.has(input.name) && !graph.notes.includes(note)) graph.notes.push(note);
  }
  if (graph.values) for (const name of [...graph.values.keys()]) if (!wanted.has(name)) graph.values.delete(name);
  return graph;
}
