/**
 * The linked circuit's witness, as a snarkjs .wtns in memory: the integer reference (runSignals) gives
 * every primitive's value and so every gadget input; each instance's own wires come from its gadget's
 * compiled witness calculator (one per gadget kind, reused across instances), copied byte for byte into
 * the model's wire vector. A gadget output that differs from the reference is a zkinfer bug.
 */
import { FIELD_P, witnessCalculator } from '../../circuit/witness.js';
import { ZkinferError } from '../../util/errors.js';
import type { QProgram } from '../quant/lower.js';
import { evalForm } from '../quant/prims.js';
import { runSignals } from '../quant/reference.js';
import type { PortSource } from '../instances.js';
import type { LinkPlan } from './plan.js';

const N8 = 32;
/** Bytes before the first witness value in circom_runtime's calculateWTNSBin output. */
const WTNS_HEADER = 12 + 12 + 4 + N8 + 4 + 12;

const mod = (v: bigint) => ((v % FIELD_P) + FIELD_P) % FIELD_P;

function putFe(buf: Buffer, at: number, v: bigint) {
  for (let i = 0; i < N8 / 8; i++) {
    buf.writeBigUInt64LE(v & 0xffffffffffffffffn, at + 8 * i);
    v >>= 64n;
  }
}

function getFe(buf: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = N8 - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[at + i]);
  return v;
}

/** The witness inputs of one item: the input integers, the salt of a private input, the salt of committed outputs, and the private weights (one integer array per tensor) and their salt. */
export interface LinkedItem {
  x: number[];
  salt?: bigint;
  outSalt?: bigint;
  weights?: number[][];
  weightsSalt?: bigint;
}

export async function linkedWitness(plan: LinkPlan, program: QProgram, items: LinkedItem[], stats?: { gadgetCalls: number; gadgetMs: number }): Promise<Uint8Array> {
  const { inst } = plan;
  const out = Buffer.alloc(WTNS_HEADER + plan.nWires * N8);
  // Header: "wtns", version 2, 2 sections; section 1: n8, prime, witness count; section 2: the values.
  out.write('wtns', 0);
  out.writeUInt32LE(2, 4);
  out.writeUInt32LE(2, 8);
  out.writeUInt32LE(1, 12);
  out.writeBigUInt64LE(BigInt(4 + N8 + 4), 16);
  out.writeUInt32LE(N8, 24);
  putFe(out, 28, FIELD_P);
  out.writeUInt32LE(plan.nWires, 28 + N8);
  out.writeUInt32LE(2, 32 + N8);
  out.writeBigUInt64LE(BigInt(plan.nWires * N8), 36 + N8);
  const set = (wire: number, v: bigint) => putFe(out, WTNS_HEADER + wire * N8, mod(v));
  set(0, 1n);

  const perItem = plan.instances.length / items.length;
  for (const [b, item] of items.entries()) {
    const s = runSignals(program, item.x, item.weights);
    const outs = inst.outputs.map((f) => evalForm(f, s));
    item.x.forEach((v, i) => set(plan.xWire(b, i), BigInt(v)));
    if (plan.saltWire(b) >= 0) {
      if (item.salt === undefined) throw new Error('internal error: a private-input witness needs a salt');
      set(plan.saltWire(b), item.salt);
    }
    if (plan.outSaltWire(b) >= 0) {
      if (item.outSalt === undefined) throw new Error('internal error: a committed-outputs witness needs an output salt');
      set(plan.outSaltWire(b), item.outSalt);
    }
    outs.forEach((v, j) => plan.outWire(b, j) >= 0 && set(plan.outWire(b, j), BigInt(v)));
    if (plan.weightsSaltWire() >= 0) {
      if (item.weightsSalt === undefined) throw new Error('internal error: a private-weights witness needs the weights salt');
      for (let j = 0; j < inst.nW; j++) set(plan.weightWire(j), BigInt(s[inst.nIn + j]));
      set(plan.weightsSaltWire(), item.weightsSalt);
    }
    // Signals beyond the program's (the weights commitment chain's states) are field elements, kept as bigints.
    const chain = new Map<number, bigint>();
    const value = (src: PortSource): bigint => {
      if ('main' in src)
        return (
          (src.main === 'salt' ? item.salt! : src.main === 'outSalt' ? item.outSalt! : src.main === 'weightsSalt' ? item.weightsSalt! : BigInt(outs[src.index!])) +
          (src.offset ?? 0n)
        );
      const f = src.form;
      const v = f.terms.some(([sig]) => sig >= s.length)
        ? f.terms.reduce((a, [sig, c]) => a + BigInt(c) * (chain.get(sig) ?? BigInt(s[sig])), BigInt(f.bias))
        : BigInt(evalForm(f, s));
      return v * BigInt(src.scale ?? 1) + (src.offset ?? 0n);
    };
    for (let gi = 0; gi < perItem; gi++) {
      const i = b * perItem + gi;
      const g = plan.instances[i];
      const kd = plan.kindOf[i];
      const input: Record<string, bigint | bigint[]> = {};
      for (const { port, source } of g.inputs) {
        const m = /^(\w+)\[(\d+)\]$/.exec(port);
        const v = mod(value(source));
        if (m) ((input[m[1]] ??= []) as bigint[])[Number(m[2])] = v;
        else input[port] = v;
      }
      const wc = await witnessCalculator(kd.circuit.wasmPath);
      const t0 = stats ? performance.now() : 0;
      let w: Uint8Array;
      try {
        w = await wc.calculateWTNSBin(input, true);
      } catch (err) {
        throw new ZkinferError(
          'BAD_INPUT',
          `the circuit rejected the input at ${g.name}${g.node ? ` (node ${g.node})` : ''}: ${String((err as Error)?.message ?? err).split('\n')[0]}`,
        );
      }
      if (stats) {
        stats.gadgetCalls++;
        stats.gadgetMs += performance.now() - t0;
      }
      for (const o of g.outputs) {
        const got = getFe(w, WTNS_HEADER + kd.outputs.get(o.port)! * N8);
        if ('signal' in o.target && o.target.signal >= s.length) chain.set(o.target.signal, got);
        else if ('signal' in o.target) {
          if (mod(got + BigInt(o.offset ?? 0)) !== mod(BigInt(s[o.target.signal])))
            throw new Error(`internal error: gadget ${g.name} (${kd.key}) computed ${got}, the integer reference ${s[o.target.signal]}`);
        } else
          set(
            o.target.main === 'class'
              ? plan.classWire(b)
              : o.target.main === 'outputCommitment'
                ? plan.outputCommitmentWire(b)
                : o.target.main === 'weightsCommitment'
                  ? plan.weightsCommitmentWire()
                  : plan.commitmentWire(b),
            got + BigInt(o.offset ?? 0),
          );
      }
      for (let l = 1; l < kd.nWires; l++) {
        const wire = plan.wireOf(i, l);
        if (wire < 0 || (l >= kd.firstInput && l < kd.firstInput + kd.nInputs)) continue;
        const off = plan.shiftOf(i, l);
        if (off) set(wire, getFe(w, WTNS_HEADER + l * N8) + off);
        else out.set(w.subarray(WTNS_HEADER + l * N8, WTNS_HEADER + (l + 1) * N8), WTNS_HEADER + wire * N8);
      }
    }
  }
  return out;
}
