/**
 * Every operator zkinfer knows, by ONNX op_type. Each family file lists its OpDefs; an op appears once.
 */
import { compareOps } from './compare.js';
import { convOps } from './conv.js';
import { linearOps } from './linear.js';
import { nonlinearOps } from './nonlinear.js';
import { normalizeOps } from './normalize.js';
import { evalFusedPool, fusedPoolNode, poolOps } from './pool.js';
import { recurrentOps } from './recurrent.js';
import { shapeOps } from './shape.js';
import { NodeAttrs, type Node, type Tensor } from '../ir.js';
import type { OpCtx, OpDef } from './types.js';

export const OPS: ReadonlyMap<string, OpDef> = (() => {
  const map = new Map<string, OpDef>();
  for (const def of [...shapeOps, ...linearOps, ...convOps, ...poolOps, ...nonlinearOps, ...compareOps, ...normalizeOps, ...recurrentOps(evalNodes)]) {
    if (map.has(def.op)) throw new Error(`internal error: op ${def.op} is defined twice`);
    map.set(def.op, def);
  }
  return map;
})();

export function supportedOps(): string[] {
  return [...OPS.keys()].sort();
}

/**
 * A node's float outputs: its op's evalFloat, then the activation and max pool fusion passes attached
 * (`__act`, `__pool`: passes/fuse.ts). Constant folding and calibration both evaluate nodes through this.
 */
export function evalNode(def: OpDef, ctx: OpCtx, inputs: Array<Tensor | undefined>): Tensor[] {
  let outs = def.evalFloat(ctx, inputs);
  if (ctx.node.attrs.__act === 'Relu') outs = outs.map((t, k) => (k === 0 ? { ...t, data: t.data.map((v) => Math.max(0, v)) } : t));
  const pooled = fusedPoolNode(ctx.node);
  if (pooled) outs = [evalFusedPool(ctx, pooled, outs[0]), ...outs.slice(1)];
  return outs;
}

/** Evaluate nodes in order into `values` (an expansion's nodes: ops/recurrent.ts). */
function evalNodes(nodes: Node[], values: Map<string, Tensor>, opset: number): void {
  for (const node of nodes) {
    const def = OPS.get(node.op)!;
    const outs = evalNode(
      def,
      { node, attrs: new NodeAttrs(node), opset },
      node.inputs.map((n) => (n === '' ? undefined : values.get(n))),
    );
    node.outputs.forEach((o, k) => o !== '' && values.set(o, outs[k]));
  }
}
