import { readFile } from 'node:fs/promises';
import { readR1cs } from 'r1csfile';
import { FIELD_P } from '../src/circuit/witness.js';

/**
 * A small R1CS evaluator for soundness tests and the circuit audit (dev tooling, not in the package): load
 * a circuit's constraints as plain bigints, check a (possibly tampered) witness against them, and address
 * witness entries by signal name via the .sym file.
 */

/** Linear combination: witness index -> coefficient in [0, p). */
export type LinearCombination = Map<number, bigint>;

export interface R1csSystem {
  prime: bigint;
  nVars: number;
  nOutputs: number;
  nPubInputs: number;
  nPrvInputs: number;
  /** Each constraint is [A, B, C] and holds when (A·w) * (B·w) = C·w (mod p). */
  constraints: Array<[LinearCombination, LinearCombination, LinearCombination]>;
}

interface FieldLike {
  toObject(a: unknown): bigint;
}

export async function loadR1cs(r1csPath: string): Promise<R1csSystem> {
  const raw = await readR1cs(r1csPath, true, false, true);
  try {
    // With a curve (the normal case) coefficients come back as Montgomery-form byte arrays of curve.Fr;
    // F.toObject turns them into plain integers (it is the identity on ffjavascript's pure-JS F1Field).
    const F = (raw as unknown as { F: FieldLike }).F;
    const toLc = (lc: Record<number, unknown>): LinearCombination => {
      const out: LinearCombination = new Map();
      for (const [k, v] of Object.entries(lc)) out.set(Number(k), BigInt(F.toObject(v)));
      return out;
    };
    // Indexed loop: above 2^20 constraints r1csfile returns a BigArray, which has no .map.
    const constraints: R1csSystem['constraints'] = [];
    for (let i = 0; i < raw.nConstraints; i++) {
      const [a, b, c] = raw.constraints[i];
      constraints.push([toLc(a), toLc(b), toLc(c)]);
    }
    return { prime: BigInt(raw.prime), nVars: raw.nVars, nOutputs: raw.nOutputs, nPubInputs: raw.nPubInputs, nPrvInputs: raw.nPrvInputs, constraints };
  } finally {
    await raw.curve?.terminate();
  }
}

function mod(x: bigint, p: bigint): bigint {
  const r = x % p;
  return r < 0n ? r + p : r;
}

function dot(lc: LinearCombination, w: readonly bigint[], p: bigint): bigint {
  let acc = 0n;
  for (const [i, c] of lc) acc += c * w[i];
  return mod(acc, p);
}

/** Evaluate every constraint; `failing` lists the indices of the violated ones. */
export function checkWitness(r1cs: R1csSystem, witness: readonly bigint[]): { ok: boolean; failing: number[] } {
  if (witness.length !== r1cs.nVars) throw new Error(`witness has ${witness.length} entries, the R1CS has ${r1cs.nVars} wires`);
  const p = r1cs.prime;
  // Entries are reduced first, so callers may pass negative integers or values >= p.
  const w = witness.map((x) => mod(x, p));
  if (w[0] !== 1n) return { ok: false, failing: [-1] }; // wire 0 is the constant 1 in every R1CS
  const failing: number[] = [];
  r1cs.constraints.forEach(([a, b, c], i) => {
    if (mod(dot(a, w, p) * dot(b, w, p), p) !== dot(c, w, p)) failing.push(i);
  });
  return { ok: failing.length === 0, failing };
}

/**
 * Signal name -> witness index from a circom .sym file (lines `labelIdx,varIdx,componentIdx,name`).
 * Signals removed by --O2 simplification (varIdx -1) are not in the witness; they map to -1 so that
 * callers can tell "optimised away" from "no such signal".
 */
export async function loadSymbols(symPath: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await readFile(symPath, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    const parts = line.split(',');
    if (parts.length < 4) throw new Error(`malformed .sym line: ${line}`);
    out.set(parts.slice(3).join(','), Number(parts[1]));
  }
  return out;
}

/** Does the signal survive in the witness vector? (false if optimised away; throws if unknown). */
export function hasSignal(symbols: Map<string, number>, name: string): boolean {
  const idx = symbols.get(name);
  if (idx === undefined) throw new Error(`no signal named ${name}`);
  return idx >= 0;
}

/**
 * Copy of `witness` with the named signals overwritten (values are reduced mod p, so -1 means p - 1).
 * Throws if a name is unknown or the signal was optimised away by --O2 (it cannot be set: its value is
 * fixed by a linear combination of the remaining wires, which the caller must set instead).
 */
export function withSignals(witness: readonly bigint[], symbols: Map<string, number>, values: Record<string, bigint | number>): bigint[] {
  const out = [...witness];
  for (const [name, value] of Object.entries(values)) {
    const idx = symbols.get(name);
    if (idx === undefined) throw new Error(`withSignals: no signal named ${name}`);
    if (idx < 0) throw new Error(`withSignals: signal ${name} was optimised away by --O2 and is not in the witness`);
    out[idx] = mod(BigInt(value), FIELD_P);
  }
  return out;
}
