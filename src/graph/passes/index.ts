/**
 * The passes every importer's graph goes through, in order. Each is a named Graph -> Graph function
 * (those that rewrite in place say so and return the same graph).
 */
import type { Graph } from '../ir.js';
import { deadNodes } from './deadNodes.js';
import { dropBatch } from './dropBatch.js';
import { inferShapes } from './fold.js';
import { eliminateIdentity } from './identity.js';
import { cancelTransposes, foldBatchNorm, foldChannelAffine, fuseActivation, fuseMaxPool } from './fuse.js';

export const PASSES: ReadonlyArray<[string, (g: Graph) => Graph]> = [
  // Before anything else reads the graph: pass-through nodes go, and dead branches are not checked.
  ['eliminateIdentity', eliminateIdentity],
  ['deadNodes', deadNodes],
  ['dropBatch', dropBatch],
  // One topological sweep: folds constant subgraphs (Shape chains included), infers every other shape.
  ['inferShapes', inferShapes],
  // Folding leaves nodes that only fed a folded Shape, and constants nothing reads any more.
  ['deadNodes', deadNodes],
  // Fusions that save constraints (passes/fuse.ts), now that constants are folded and shapes known.
  ['cancelTransposes', cancelTransposes],
  ['foldBatchNorm', foldBatchNorm],
  ['foldChannelAffine', (g) => foldChannelAffine(g, (v) => g.values?.get(v)?.shape.length)],
  ['fuseActivation', fuseActivation],
  ['fuseMaxPool', (g) => fuseMaxPool(g, g.opset)],
];

export function runPasses(graph: Graph): Graph {
  let g = graph;
  for (const [, pass] of PASSES) g = pass(g);
  return g;
}

export { deadNodes, dropBatch, eliminateIdentity, inferShapes, foldBatchNorm, foldChannelAffine, fuseActivation, cancelTransposes, fuseMaxPool };
