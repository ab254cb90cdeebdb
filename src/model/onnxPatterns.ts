/**
 * Multi-node ONNX idioms that mean one supported op, rewritten before the import walks the graph.
 *
 * PyTorch's `x.view(x.size(0), -1)` exports as Shape(x) -> Gather(index 0) -> Unsqueeze(axis 0) ->
 * Concat(with [-1]) -> Reshape(x, shape): a reshape to [batch, -1], i.e. Flatten(axis 1). Only that exact
 * chain is recognised, and only when its intermediate values are read by nothing else.
 */
import type { OnnxNode, OnnxTensor } from './onnxProto.js';
import { Attrs, int64Values, nodeLabel, type NodeCtx } from './onnxValues.js';

type Indexed = [OnnxNode, number];

function constInts(ctx: NodeCtx, name: string | undefined): { dims: number[]; values: number[] } | undefined {
  const t: OnnxTensor | undefined = name ? ctx.initializers.get(name) : undefined;
  if (!t) return undefined;
  try {
    return { dims: t.dims.map(Number), values: int64Values(ctx, t, 'constant') };
  } catch {
    return undefined; // not INT64: not the pattern
  }
}

/** The node's attributes if it has only `known` ones, else null (then it is not the pattern). */
function attrsOnly(ctx: NodeCtx, known: string[]): Attrs | null {
  try {
    return new Attrs(ctx, known);
  } catch {
    return null;
  }
}

/**
 * Replace each `view(size(0), -1)` chain by a Flatten node (named like the Reshape); returns the nodes
 * without the chain's helpers and a note per rewrite.
 */
export function rewriteViewFlatten(nodes: Indexed[], initializers: Map<string, OnnxTensor>): { nodes: Indexed[]; notes: string[] } {
  const producer = new Map<string, Indexed>();
  const readers = new Map<string, number>();
  for (const entry of nodes) {
    for (const o of entry[0].output) producer.set(o, entry);
    for (const i of entry[0].input) readers.set(i, (readers.get(i) ?? 0) + 1);
  }
  const ctxOf = ([node, index]: Indexed): NodeCtx => ({ node, label: nodeLabel(node, index), initializers });
  const only = (value: string, op: string): Indexed | undefined => {
    const p = producer.get(value);
    return p && p[0].op_type === op && (p[0].domain ?? '') === '' && readers.get(value) === 1 && p[0].output.length === 1 ? p : undefined;
  };
  const removed = new Set<OnnxNode>();
  const replaced = new Map<OnnxNode, OnnxNode>();
  const notes: string[] = [];
  for (const entry of nodes) {
    const [reshape] = entry;
    if (reshape.op_type !== 'Reshape' || (reshape.domain ?? '') !== '' || reshape.input.length !== 2 || initializers.has(reshape.input[1])) continue;
    const concat = only(reshape.input[1], 'Concat');
    if (!concat || concat[0].input.length !== 2 || attrsOnly(ctxOf(concat), ['axis'])?.int('axis', 0) !== 0) continue;
    const minusOne = constInts(ctxOf(concat), concat[0].input[1]);
    if (!minusOne || minusOne.dims.join() !== '1' || minusOne.values[0] !== -1) continue;
    const unsqueeze = only(concat[0].input[0], 'Unsqueeze');
    if (!unsqueeze) continue;
    const ua = attrsOnly(ctxOf(unsqueeze), ['axes']);
    const axes = unsqueeze[0].input[1] ? constInts(ctxOf(unsqueeze), unsqueeze[0].input[1])?.values : ua?.ints('axes');
    if (!ua || axes?.join() !== '0') continue;
    const gather = only(unsqueeze[0].input[0], 'Gather');
    if (!gather || attrsOnly(ctxOf(gather), ['axis'])?.int('axis', 0) !== 0) continue;
    const index = constInts(ctxOf(gather), gather[0].input[1]);
    if (!index || index.dims.length !== 0 || index.values[0] !== 0) continue;
    const shape = only(gather[0].input[0], 'Shape');
    if (!shape || attrsOnly(ctxOf(shape), []) === null || shape[0].input[0] !== reshape.input[0]) continue;
    if (attrsOnly(ctxOf(entry), ['allowzero']) === null) continue;
    for (const [n] of [concat, unsqueeze, gather, shape]) removed.add(n);
    replaced.set(reshape, { ...reshape, op_type: 'Flatten', input: [reshape.input[0]], attribute: [] });
    notes.push(`${nodeLabel(reshape, entry[1])} with its Shape/Gather/Unsqueeze/Concat inputs (PyTorch's x.view(x.size(0), -1)) imported as Flatten`);
  }
  return { nodes: nodes.filter(([n]) => !removed.has(n)).map(([n, i]) => [replaced.get(n) ?? n, i]), notes };
}
