/**
 * Every operator zkinfer knows, by ONNX op_type. Each family file lists its OpDefs; an op appears once.
 */
import { compareOps } from './compare.js';
import { convOps } from './conv.js';
import { linearOps } from './linear.js';
import { nonlinearOps } from './nonlinear.js';
import { normalizeOps } from './normalize.js';
import { poolOps } from './pool.js';
import { shapeOps } from './shape.js';
import type { OpDef } from './types.js';

export const OPS: ReadonlyMap<string, OpDef> = (() => {
  const map = new Map<string, OpDef>();
  for (const def of [...shapeOps, ...linearOps, ...convOps, ...poolOps, ...nonlinearOps, ...compareOps, ...normalizeOps]) {
    if (map.has(def.op)) throw new Error(`internal error: op ${def.op} is defined twice`);
    map.set(def.op, def);
  }
  return map;
})();

export function supportedOps(): string[] {
  return [...OPS.keys()].sort();
}
