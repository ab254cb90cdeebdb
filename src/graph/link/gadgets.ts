/**
 * The linker's gadget library: each distinct gadget kind (template + params) of a graph circuit compiled
 * once by circom as a tiny main (`component main = T(params);`) to r1cs + witness wasm + symbols, cached
 * by content hash like every circom compile (compileCircom). The circom templates stay the only copy of
 * each gadget's constraints; the linker only renumbers and substitutes.
 */
import { compileCircom, type CompiledCircuit } from '../../circuit/compile.js';
import { readFile } from 'node:fs/promises';
import { loadSymbolTable } from '../../circuit/symbols.js';
import { TEMPLATE_FILES, type GadgetInstance } from '../instances.js';

/** Sparse linear combination over a gadget's local wires: parallel arrays of wire index and coefficient. */
export interface LocalLc {
  wires: number[];
  coefs: bigint[];
}

export interface GadgetKind {
  key: string;
  circuit: CompiledCircuit;
  nWires: number;
  /** Local wire of each input port (`in`, `in[3]`, `salt`) and output port (`out`, `q`, `index`). */
  inputs: Map<string, number>;
  outputs: Map<string, number>;
  /** Local wires 1..: outputs, then inputs (all private in a tiny main), then internals. */
  firstInput: number;
  nInputs: number;
  /** The quadratic constraints, and the linear ones as rows (sum = 0). */
  constraints: Array<[LocalLc, LocalLc, LocalLc]>;
  linear: LocalLc[];
  /** Local wire -> signal name below main (`div.qBits[2]`), for the linked circuit's .sym. */
  names: string[];
  /** Every name of each local wire (circom lists a signal's aliases, e.g. act.q and div.q, with one wire). */
  aliases: string[][];
}

export const kindKey = (g: Pick<GadgetInstance, 'template' | 'params'>) => `${g.template}(${g.params.map((p) => (Array.isArray(p) ? `[${p.join(',')}]` : String(p))).join(', ')})`;

/** The tiny main of one gadget kind. */
export function gadgetSource(g: Pick<GadgetInstance, 'template' | 'params'>): string {
  const file = TEMPLATE_FILES[g.template];
  if (!file) throw new Error(`internal error: no circuits/ file for template ${g.template}`);
  return `pragma circom 2.1.6;\ninclude "${file}.circom";\ncomponent main = ${kindKey(g)};\n`;
}

const toLc = (m: Map<number, bigint>): LocalLc => {
  const wires = [...m.keys()].sort((a, b) => a - b);
  return { wires, coefs: wires.map((w) => m.get(w)!) };
};

/**
 * A small gadget r1cs read directly (iden3 format: header and constraint sections): r1csfile would build
 * a curve (wasm, worker threads) per file, which costs more than the gadget itself.
 */
async function readGadgetR1cs(file: string) {
  const buf = await readFile(file);
  if (buf.toString('latin1', 0, 4) !== 'r1cs') throw new Error(`internal error: ${file} is not an r1cs file`);
  let pos = 12;
  let header: { n8: number; nVars: number; nOutputs: number; nPubInputs: number; nPrvInputs: number; nConstraints: number } | undefined;
  let constraintsAt = -1;
  for (let k = 0; k < buf.readUInt32LE(8); k++) {
    const type = buf.readUInt32LE(pos);
    const size = Number(buf.readBigUInt64LE(pos + 4));
    const at = pos + 12;
    if (type === 1) {
      const n8 = buf.readUInt32LE(at);
      const h = at + 4 + n8;
      header = {
        n8,
        nVars: buf.readUInt32LE(h),
        nOutputs: buf.readUInt32LE(h + 4),
        nPubInputs: buf.readUInt32LE(h + 8),
        nPrvInputs: buf.readUInt32LE(h + 12),
        nConstraints: buf.readUInt32LE(h + 24),
      };
    } else if (type === 2) constraintsAt = at;
    pos = at + size;
  }
  if (!header || constraintsAt < 0) throw new Error(`internal error: ${file} has no header or constraints section`);
  const { n8 } = header;
  let p = constraintsAt;
  const lc = () => {
    const m = new Map<number, bigint>();
    const n = buf.readUInt32LE(p);
    p += 4;
    for (let t = 0; t < n; t++) {
      const w = buf.readUInt32LE(p);
      let v = 0n;
      for (let i = n8 - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[p + 4 + i]);
      m.set(w, v);
      p += 4 + n8;
    }
    return m;
  };
  const constraints: Array<[Map<number, bigint>, Map<number, bigint>, Map<number, bigint>]> = [];
  for (let c = 0; c < header.nConstraints; c++) constraints.push([lc(), lc(), lc()]);
  return { ...header, constraints };
}

async function loadKind(key: string, circuit: CompiledCircuit): Promise<GadgetKind> {
  const [r1cs, symbols] = await Promise.all([readGadgetR1cs(circuit.r1csPath), loadSymbolTable(circuit.symPath)]);
  if (r1cs.nPubInputs !== 0) throw new Error(`internal error: gadget ${key} has public inputs`);
  const names: string[] = new Array(r1cs.nVars).fill('');
  const aliases: string[][] = Array.from({ length: r1cs.nVars }, () => []);
  for (const s of symbols) {
    if (s.varIdx < 0) continue;
    const n = s.name.replace(/^main\./, '');
    aliases[s.varIdx].push(n);
    if (!names[s.varIdx]) names[s.varIdx] = n;
  }
  const firstInput = 1 + r1cs.nOutputs;
  const inputs = new Map<string, number>();
  const outputs = new Map<string, number>();
  for (let w = 1; w < firstInput + r1cs.nPrvInputs; w++) (w < firstInput ? outputs : inputs).set(names[w], w);
  // Linear constraints (circom keeps them in a tiny main when they join inputs and outputs, e.g. q and
  // its bits) are removed in the model by substituting one of the instance's wires (plan.ts), as --O2 does.
  const constraints: GadgetKind['constraints'] = [];
  const linear: LocalLc[] = [];
  const constOnly = (m: Map<number, bigint>) => m.size === 0 || (m.size === 1 && m.has(0));
  for (const [a, b, c] of r1cs.constraints) {
    if (!constOnly(a) && !constOnly(b)) {
      constraints.push([toLc(a), toLc(b), toLc(c)]);
      continue;
    }
    // k * L = C with k constant (0 when A or B is empty): row k * L - C = 0.
    const [k, l] = constOnly(a) ? [a.get(0) ?? 0n, b] : [b.get(0) ?? 0n, a];
    const row = new Map<number, bigint>();
    if (k) for (const [w, v] of l) row.set(w, k * v);
    for (const [w, v] of c) row.set(w, (row.get(w) ?? 0n) - v);
    linear.push(toLc(row));
  }
  return { key, circuit, nWires: r1cs.nVars, inputs, outputs, firstInput, nInputs: r1cs.nPrvInputs, constraints, linear, names, aliases };
}

/** Compile (or load from the cache) every distinct gadget kind of the instances, one circom run each. */
export async function gadgetLibrary(
  instances: Iterable<GadgetInstance>,
  options: { artifactsDir?: string; onKind?: (key: string, done: number, total: number) => void } = {},
): Promise<Map<string, GadgetKind>> {
  const todo = new Map<string, GadgetInstance>();
  for (const g of instances) {
    const k = kindKey(g);
    if (!todo.has(k)) todo.set(k, g);
  }
  const out = new Map<string, GadgetKind>();
  let done = 0;
  // Two circom processes at a time: each spends most of its second compiling circom2's own wasm.
  const queue = [...todo];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [key, g] = next;
      const circuit = await compileCircom(gadgetSource(g), { name: 'gadget', artifactsDir: options.artifactsDir });
      out.set(key, await loadKind(key, circuit));
      options.onKind?.(key, ++done, todo.size);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}
