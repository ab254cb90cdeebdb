/** Constraint cost of a graph's integer program, per node, from the gadgets' stated counts. */
import { gadgetOf, type Gadget } from './gadgets.js';
import { formBounds, type QProgram } from './quant/lower.js';
import { unsignedBits } from './quant/prims.js';
import { size } from './ir.js';

export interface NodeCost {
  node: string;
  constraints: number;
  /** Gadget instances by template name. */
  gadgets: Record<string, number>;
}

/**
 * Output elements that stay constraints: circom (--O2) removes the linear constraint out = form by
 * substituting one intermediate signal of the form, which each signal can do once; an output that is a
 * constant, a form over graph inputs only (public or main inputs are never substituted), or whose
 * primitive signals were all used by earlier outputs keeps its constraint.
 */
export function outputConstraints(program: QProgram): number {
  const nIn = program.inputs.reduce((a, i) => a + size(i.shape), 0);
  const used = new Set<number>();
  let count = 0;
  for (const o of program.outputs) {
    for (const f of o.elems) {
      const free = f.terms.find(([s]) => s >= nIn && !used.has(s));
      if (free) used.add(free[0]);
      else count++;
    }
  }
  return count;
}

export function programCosts(program: QProgram): { inputs: number; outputs: number; nodes: NodeCost[]; total: number } {
  const inputs = program.inputs.reduce((a, i) => a + size(i.shape) * unsignedBits(i.hi - i.lo), 0);
  const byNode = new Map<string, NodeCost>();
  const bounds = formBounds(program);
  for (const p of program.prims) {
    const g: Gadget = gadgetOf(p, bounds);
    const c = byNode.get(p.node) ?? { node: p.node, constraints: 0, gadgets: {} };
    c.constraints += g.constraints;
    c.gadgets[g.template] = (c.gadgets[g.template] ?? 0) + 1;
    byNode.set(p.node, c);
  }
  const nodes = [...byNode.values()];
  const outputs = outputConstraints(program);
  return { inputs, outputs, nodes, total: inputs + outputs + nodes.reduce((a, n) => a + n.constraints, 0) };
}

/** One line per costly node, for people (the class argmax and commitment are not included). */
export function graphCosts(program: QProgram): string[] {
  const { inputs, nodes } = programCosts(program);
  return [
    `inputs: ${inputs} constraints (range checks)`,
    ...nodes.map((n) => `${n.node}: ${n.constraints} constraints (${Object.entries(n.gadgets).map(([t, k]) => `${k} x ${t}`).join(', ')})`),
  ];
}
