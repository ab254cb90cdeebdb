/** Constraint cost of a graph's integer program, per node, from the gadgets' stated counts. */
import { gadgetOf, type Gadget } from './gadgets.js';
import { formBounds, type QProgram } from './quant/lower.js';
import { inputCheckConstraints } from './instances.js';
import { size } from './ir.js';
import { weightCount } from './quant/privateWeights.js';

export interface NodeCost {
  node: string;
  constraints: number;
  /** Gadget instances by template name. */
  gadgets: Record<string, number>;
}

/** The BN254 scalar field (circom's default prime). */
const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const modP = (v: bigint) => ((v % P) + P) % P;
function invP(a: bigint): bigint {
  let [r, b, e] = [1n, a, P - 2n];
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}

/**
 * The public-output assignments out[j] <== form_j that circom --O2 keeps: it removes a linear constraint
 * by substituting one internal (non-public) signal, so of the outputs only as many disappear as the rank
 * of their forms' coefficients on internal signals (primitive outputs); the rest (an output that is a
 * constant, an input, or a second combination of the same signals, such as LogSoftmax's x - m - log S
 * for every element of a group) cost one constraint each. Assumes the outputs are public (logits).
 */
export function outputConstraints(program: QProgram): number {
  // Inputs and private weights are main inputs, not internal signals circom could substitute.
  const nIn = program.inputs.reduce((a, i) => a + size(i.shape), 0) + weightCount(program);
  const pivots = new Map<number, { order: number; row: Map<number, bigint> }>();
  let n = 0;
  for (const o of program.outputs) {
    for (const f of o.elems) {
      n++;
      const row = new Map<number, bigint>();
      for (const [sig, w] of f.terms) if (sig >= nIn) row.set(sig, modP((row.get(sig) ?? 0n) + BigInt(w)));
      for (const [k, v] of row) if (v === 0n) row.delete(k);
      for (;;) {
        let best: number | undefined;
        for (const k of row.keys()) if (pivots.has(k) && (best === undefined || pivots.get(k)!.order < pivots.get(best)!.order)) best = k;
        if (best === undefined) break;
        const c = row.get(best)!;
        for (const [k, v] of pivots.get(best)!.row) {
          const nv = modP((row.get(k) ?? 0n) - c * v);
          if (nv === 0n) row.delete(k);
          else row.set(k, nv);
        }
      }
      const first = row.keys().next();
      if (first.done) continue;
      const inv = invP(row.get(first.value)!);
      for (const [k, v] of row) row.set(k, (v * inv) % P);
      pivots.set(first.value, { order: pivots.size, row });
    }
  }
  return n - pivots.size;
}

export function programCosts(program: QProgram): { inputs: number; weights: number; nodes: NodeCost[]; outputs: number; total: number } {
  const inputs = program.inputs.reduce((a, i) => a + size(i.shape) * inputCheckConstraints(i.lo, i.hi), 0);
  const weights = (program.weights ?? []).reduce((a, w) => a + w.values.length * w.bits, 0);
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
  return { inputs, weights, nodes, outputs, total: inputs + weights + outputs + nodes.reduce((a, n) => a + n.constraints, 0) };
}

/** One line per costly node, for people (the class argmax and commitment are not included). */
export function graphCosts(program: QProgram): string[] {
  const { inputs, weights, nodes, outputs } = programCosts(program);
  return [
    `inputs: ${inputs} constraints (range checks)`,
    ...(weights ? [`private weights: ${weights} constraints (range checks; the commitment is not included)`] : []),
    ...(outputs ? [`outputs: ${outputs} constraints (output assignments circom cannot fold)`] : []),
    ...nodes.map(
      (n) =>
        `${n.node}: ${n.constraints} constraints (${Object.entries(n.gadgets)
          .map(([t, k]) => `${k} x ${t}`)
          .join(', ')})`,
    ),
  ];
}
