/**
 * Streaming writers for the linked circuit: the iden3 binary r1cs (what circom writes and snarkjs reads:
 * magic "r1cs", version 1, sections header / constraints / wire-to-label) and the .sym text, through a
 * small buffer, so a circuit of millions of constraints never sits in memory at once.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { FIELD_P } from '../../circuit/witness.js';
import type { LinkPlan, WireLc } from './plan.js';

const N8 = 32;
const M64 = (1n << 64n) - 1n;

class FileWriter {
  private fd: number;
  private buf = Buffer.alloc(1 << 20);
  private at = 0;
  /** Bytes written so far (file offset of the next byte). */
  pos = 0;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  private room(n: number) {
    if (this.at + n > this.buf.length) this.flush();
  }
  flush() {
    if (this.at) writeSync(this.fd, this.buf, 0, this.at);
    this.at = 0;
  }
  u32(v: number) {
    this.room(4);
    this.buf.writeUInt32LE(v, this.at);
    this.at += 4;
    this.pos += 4;
  }
  u64(v: number) {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.at);
    this.at += 8;
    this.pos += 8;
  }
  /** A field element, N8 bytes little-endian (standard form, as circom writes). */
  fe(v: bigint) {
    this.room(N8);
    if (v < 0x100000000n) {
      this.buf.fill(0, this.at, this.at + N8);
      this.buf.writeUInt32LE(Number(v), this.at);
    } else {
      for (let i = 0; i < N8 / 8; i++) {
        this.buf.writeBigUInt64LE(v & M64, this.at + 8 * i);
        v >>= 64n;
      }
    }
    this.at += N8;
    this.pos += N8;
  }
  text(s: string) {
    const b = Buffer.from(s);
    if (b.length > this.buf.length) {
      this.flush();
      writeSync(this.fd, b);
    } else {
      this.room(b.length);
      b.copy(this.buf, this.at);
      this.at += b.length;
    }
    this.pos += b.length;
  }
  /** Overwrite bytes already written (section sizes and counts known only at the end). */
  patch(position: number, bytes: Buffer) {
    this.flush();
    writeSync(this.fd, bytes, 0, bytes.length, position);
  }
  close() {
    this.flush();
    closeSync(this.fd);
  }
}

const writeLc = (f: FileWriter, lc: WireLc) => {
  f.u32(lc.wires.length);
  for (let t = 0; t < lc.wires.length; t++) {
    f.u32(lc.wires[t]);
    f.fe(lc.coefs[t]);
  }
};

/** Write the r1cs; returns the number of constraints and linear-form terms written. */
export function writeR1cs(path: string, plan: LinkPlan, onProgress?: (done: number, total: number) => void): { constraints: number; terms: number } {
  const f = new FileWriter(path);
  try {
    f.text('r1cs');
    f.u32(1);
    f.u32(3);
    // Header section.
    f.u32(1);
    f.u64(4 + N8 + 4 * 4 + 8 + 4);
    f.u32(N8);
    f.fe(FIELD_P);
    f.u32(plan.nWires);
    f.u32(plan.nOutputs);
    f.u32(plan.nPubInputs);
    f.u32(plan.nPrvInputs);
    f.u64(plan.nWires + plan.pivots.size);
    const countAt = f.pos;
    f.u32(0);
    // Constraints section (size patched at the end).
    f.u32(2);
    const sizeAt = f.pos;
    f.u64(0);
    const start = f.pos;
    let n = 0;
    let terms = 0;
    const step = Math.max(1, Math.floor(plan.instances.length / 100));
    for (let i = 0; i < plan.instances.length; i++) {
      for (const [a, b, c] of plan.constraintsOf(i)) {
        writeLc(f, a);
        writeLc(f, b);
        writeLc(f, c);
        terms += a.wires.length + b.wires.length + c.wires.length;
        n++;
      }
      if (onProgress && i % step === 0) onProgress(i, plan.instances.length);
    }
    for (const c of plan.linear) {
      writeLc(f, { wires: [], coefs: [] });
      writeLc(f, { wires: [], coefs: [] });
      writeLc(f, c);
      terms += c.wires.length;
      n++;
    }
    const size = f.pos - start;
    // Wire-to-label section: labels are the wire indices (the .sym file's first column).
    f.u32(3);
    f.u64(plan.nWires * 8);
    for (let w = 0; w < plan.nWires; w++) f.u64(w);
    const count = Buffer.alloc(4);
    count.writeUInt32LE(n);
    f.patch(countAt, count);
    const sz = Buffer.alloc(8);
    sz.writeBigUInt64LE(BigInt(size));
    f.patch(sizeAt, sz);
    if (n !== plan.nConstraints) throw new Error(`internal error: wrote ${n} constraints, planned ${plan.nConstraints}`);
    return { constraints: n, terms };
  } finally {
    f.close();
  }
}

/**
 * The .sym file in circom's format (`label,wire,component,name`), names in circom's scheme
 * (main.x[3], main.p12.div.qBits[0], main.item[1].p12...); eliminated instance wires get wire -1.
 */
export function writeSym(path: string, plan: LinkPlan): void {
  const f = new FileWriter(path);
  try {
    for (const [w, name] of plan.mainNames()) f.text(`${w},${w},0,${name}\n`);
    let label = plan.nWires;
    for (let i = 0; i < plan.instances.length; i++) {
      const kd = plan.kindOf[i];
      const prefix = plan.prefixOf(i);
      const g = plan.instances[i];
      // A primitive's wire also carries circom's name for it, v[s - nIn - nW] (the wire holds port + offset).
      const itemPrefix = prefix.slice(0, prefix.length - g.name.length - 1);
      const primNames = new Map<number, string>();
      for (const o of g.outputs) if ('signal' in o.target) primNames.set(kd.outputs.get(o.port)!, `${itemPrefix}v[${o.target.signal - plan.inst.nIn - plan.inst.nW}]`);
      for (let l = 1; l < kd.nWires; l++) {
        if (l >= kd.firstInput && l < kd.firstInput + kd.nInputs) continue;
        const w = plan.wireOf(i, l);
        for (const name of kd.aliases[l]) f.text(`${w >= 0 ? w : label},${w},${i + 1},${prefix}${name}\n`);
        const v = primNames.get(l);
        if (v) f.text(`${w >= 0 ? w : label},${w},0,${v}\n`);
        if (w < 0) label++;
      }
    }
  } finally {
    f.close();
  }
}
