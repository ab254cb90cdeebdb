/**
 * The batch dimension. zkinfer proves one sample at a time, so a leading input dimension that is 1 or
 * symbolic ('batch_size', '?', missing) is a batch of 1. The IR keeps it as a leading 1 (every op then
 * sees exactly the shapes onnxruntime sees at batch 1, so no op needs a batch-free rule) and marks the
 * input `batch: true`: input files and printed shapes use userShape(), which drops it. Shape inference
 * marks outputs the same way (passes/fold.ts). Any other symbolic dimension is refused by name.
 * Rewrites graph.inputs in place and returns the graph.
 */
import { fail } from '../../util/errors.js';
import type { Graph } from '../ir.js';

export function dropBatch(graph: Graph): Graph {
  for (const input of graph.inputs) {
    const s = input.shape;
    if (s.length > 0 && (s[0] === 1 || s[0] === -1)) {
      if (s[0] === -1) graph.notes.push(`input '${input.name}': symbolic batch dimension taken as 1 and hidden (shape [${s.slice(1).join(', ')}])`);
      else graph.notes.push(`input '${input.name}': leading dimension of 1 taken as the batch and hidden (shape [${s.slice(1).join(', ')}])`);
      input.shape = [1, ...s.slice(1)];
      input.batch = true;
    }
    const k = input.shape.indexOf(-1);
    if (k >= 0) {
      fail(
        'UNSUPPORTED_LAYER',
        `graph input '${input.name}': dimension ${k} of [${s.map((d) => (d === -1 ? '?' : d)).join(', ')}] is symbolic or unknown; only a leading batch dimension may be (export the model with fixed sizes)`,
      );
    }
  }
  return graph;
}
