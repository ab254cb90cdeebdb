/**
 * Shape inference and constant folding, in one sweep over the nodes in topological order. For each node:
 * its OpDef is looked up (an unknown op is refused, listing the supported ones); if every input is a
 * constant, evalFloat computes the outputs, which become constants, and the node goes; Shape and Size
 * fold as soon as their input's shape is known; otherwise `infer` gives each output's dtype and shape,
 * recorded in graph.values. So Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains end as one
 * Reshape with a constant shape. Graph outputs get their inferred shapes (checked against declared
 * ones, symbolic dims aside). Rewrites the graph in place and returns it.
 */
import { fail } from '../../util/errors.js';
import { NodeAttrs, nodeLabel, type Graph, type Node, type Tensor, type ValueInfo } from '../ir.js';
import { evalNode, OPS, supportedOps } from '../ops/index.js';
import type { OpCtx, OpInput, TypeShape } from '../ops/types.js';

/** Default opset when a hand-built graph does not say (the ONNX version most exporters write). */
const DEFAULT_OPSET = 13;

export function inferShapes(graph: Graph): Graph {
  const values = graph.values ?? new Map<string, ValueInfo>();
  graph.values = values;
  for (const i of graph.inputs) values.set(i.name, { name: i.name, dtype: i.dtype, shape: [...i.shape] });
  const opset = graph.opset ?? DEFAULT_OPSET;
  const keep: Node[] = [];
  let folded = 0;
  // A worklist: an op with `expand` is replaced in place by the nodes it is made of, which are swept next.
  const work = [...graph.nodes];
  for (let n = 0; n < work.length; n++) {
    const node = work[n];
    const def = OPS.get(node.op);
    if (!def) fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: operator ${node.op} is not supported (supported: ${supportedOps().join(', ')})`);
    const ctx: OpCtx = { node, attrs: new NodeAttrs(node), opset };
    const inputs: Array<OpInput | undefined> = node.inputs.map((name, k) => {
      if (name === '') return undefined;
      const c = graph.constants.get(name);
      if (c) return { dtype: c.dtype, shape: c.shape, value: c };
      const v = values.get(name);
      if (!v) fail('BAD_MODEL', `${nodeLabel(node)}: input ${k} ('${name}') is not computed before it is read`);
      return { dtype: v.dtype, shape: v.shape };
    });
    const allConstant = inputs.every((x) => x === undefined || x.value !== undefined);
    if (def.expand && !allConstant) {
      const e = def.expand(ctx, inputs);
      for (const [name, t] of e.constants) graph.constants.set(name, t);
      work.splice(n + 1, 0, ...e.nodes);
      continue;
    }
    if (allConstant || def.foldsOnShape) {
      const ts = inputs.map((x): Tensor | undefined => x && (x.value ?? { dtype: x.dtype, shape: x.shape, data: new Float64Array(0) }));
      const outs = evalNode(def, ctx, ts);
      node.outputs.forEach((o, k) => {
        if (o !== '') graph.constants.set(o, outs[k]);
      });
      folded++;
      continue;
    }
    const shapes: TypeShape[] = def.infer(ctx, inputs);
    node.outputs.forEach((o, k) => {
      if (o === '') return;
      if (!shapes[k])
        fail('UNSUPPORTED_LAYER', `${nodeLabel(node)}: output ${k} ('${o}') is not supported (the op gives ${shapes.length} output${shapes.length === 1 ? '' : 's'})`);
      values.set(o, { name: o, dtype: shapes[k].dtype, shape: [...shapes[k].shape] });
    });
    keep.push(node);
  }
  graph.nodes = keep;
  if (folded > 0) graph.notes.push(`folded ${folded} node${folded === 1 ? '' : 's'} with constant inputs into constants`);
  const batched = graph.inputs.some((i) => i.batch);
  graph.outputs = graph.outputs.map((o, k) => {
    const c = graph.constants.get(o.name);
    const v = c ? { dtype: c.dtype, shape: c.shape } : values.get(o.name);
    if (!v) fail('BAD_MODEL', `graph output '${o.name}' is not computed by any node`);
    const declared = graph.declaredOutputShapes?.[k];
    const clash = declared && (declared.length !== v.shape.length || declared.some((d, i) => d !== -1 && d !== v.shape[i]));
    if (clash) {
      fail('BAD_MODEL', `graph output '${o.name}' is declared with shape [${declared.map((d) => (d === -1 ? '?' : d)).join(', ')}] but computes [${v.shape.join(', ')}]`);
    }
    const batch = batched && v.shape.length > 0 && v.shape[0] === 1 && (declared === undefined || declared[0] === -1 || declared[0] === 1);
    return { name: o.name, dtype: v.dtype, shape: [...v.shape], ...(batch ? { batch: true } : {}) };
  });
  return graph;
}
