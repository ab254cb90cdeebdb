/**
 * Compare two constraint systems by signal name: each wire is named from its .sym file (preferring an
 * alias the other file also keeps, so circom's `main.p3.act.q` / `main.p3.div.q` aliases meet), each
 * constraint is normalised (A and B scaled so their first term by name has coefficient 1, C scaled by
 * the inverse product, A and B sorted; a linear constraint scaled the same way) and the systems compared
 * as sets of strings.
 */
import { loadSymbolTable } from '../../src/circuit/symbols.js';
import { loadR1cs } from '../../tools/r1cs.js';
import { inv, mod } from '../../src/graph/link/plan.js';

export async function keptNames(symPath: string): Promise<Set<string>> {
  return new Set((await loadSymbolTable(symPath)).filter((s) => s.varIdx >= 0).map((s) => s.name));
}

/** The normalised constraints of an r1cs, wires named with a preference for the names in `other`. */
export async function canonicalConstraints(r1csPath: string, symPath: string, other: Set<string>): Promise<string[]> {
  const [r, sym] = await Promise.all([loadR1cs(r1csPath), loadSymbolTable(symPath)]);
  const name = new Map<number, string>([[0, '1']]);
  const better = (n: string, old: string | undefined) => old === undefined || (other.has(n) && !other.has(old)) || (other.has(n) === other.has(old) && n < old);
  for (const s of sym) if (s.varIdx > 0 && better(s.name, name.get(s.varIdx))) name.set(s.varIdx, s.name);
  const lead = (m: Map<number, bigint>) => {
    let best: [string, bigint] | undefined;
    for (const [w, v] of m) if (!best || name.get(w)! < best[0]) best = [name.get(w)!, v];
    return best![1];
  };
  const str = (m: Map<number, bigint>, scale: bigint) =>
    [...m]
      .map(([w, v]) => [name.get(w)!, mod(v * scale)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([n, v]) => `${v}*${n}`)
      .join(' + ');
  return r.constraints.map(([a, b, c]) => {
    if (a.size && b.size) {
      const [ia, ib] = [inv(lead(a)), inv(lead(b))];
      const [x, y] = [str(a, ia), str(b, ib)].sort();
      return `(${x}) * (${y}) = ${str(c, ia * ib)}`;
    }
    return `0 = ${str(c, inv(lead(c)))}`;
  });
}

/** Witness vector of a .wtns (version 2) in memory. */
export function wtnsValues(wtns: Uint8Array): bigint[] {
  const view = Buffer.from(wtns.buffer, wtns.byteOffset, wtns.byteLength);
  const n8 = view.readUInt32LE(24);
  const n = view.readUInt32LE(28 + n8);
  const start = 28 + n8 + 4 + 12;
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    let v = 0n;
    for (let k = n8 - 1; k >= 0; k--) v = (v << 8n) | BigInt(view[start + i * n8 + k]);
    out.push(v);
  }
  return out;
}
