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

export function programCosts(program: QProgram): { inputs: number; nodes: NodeCost[]; total: number } {
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
  return { inputs, nodes, total: inputs + nodes.reduce((a, n) => a + n.constraints, 0) };
}

/** One line per costly node, for people (the class argmax and commitment are not included). */
export function graphCosts(program: QProgram): string[] {
  const { inputs, nodes } = programCosts(program);
  return [
    `inputs: ${inputs} constraints (range checks)`,
    ...nodes.map((n) => `${n.node}: ${n.constraints} constraints (${Object.entries(n.gadgets).map(([t, k]) => `${k} x ${t}`).join(', ')})`),
  ];
}
