/**
 * The linker's wire plan: which model wire each gadget-instance wire becomes, and what each gadget input
 * port is, as a linear form over model wires.
 *
 * Wires, in snarkjs order: 1, the main outputs (out[] with logits visibility, class, inputCommitment,
 * outputCommitment; per batch item within each; then weightsCommitment), the public inputs x, the private
 * inputs (x, salt, outSalt, then the private weights w[] and weightsSalt), then each instance's
 * own wires (its gadget's outputs and internals, in the gadget's order). A gadget's input wires are not
 * wires of the model: every constraint that reads one reads the linear form that drives it instead (what
 * circom --O2 does with `c.in <== form`), and a primitive's output signal is its gadget's output wire plus
 * a constant. The main's output assignments (out[j] <== form, class <== best.index, inputCommitment <==
 * commitment.out) are linear constraints that circom removes by substituting one internal signal; the
 * plan does the same (Gaussian elimination over the assignments, pivoting on instance wires), so the
 * constraint and wire counts equal circom's. Only an assignment with no instance wire left (an output
 * that is a constant, an input, or a combination of other outputs) stays as a linear constraint.
 */
import { FIELD_P } from '../../circuit/witness.js';
import type { Form } from '../quant/qtensor.js';
import type { GadgetInstance, GraphInstances, PortSource } from '../instances.js';
import { kindKey, type GadgetKind } from './gadgets.js';

const P = FIELD_P;
export const mod = (v: bigint) => {
  const r = v % P;
  return r < 0n ? r + P : r;
};
/** a^-1 mod p (Fermat). */
export function inv(a: bigint): bigint {
  let [r, b, e] = [1n, mod(a), P - 2n];
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}

/** Instance-local wires are keyed above every main wire: KEY_BASE + instance * 2^22 + local wire. */
const KEY_BASE = 2 ** 31;
const LOCAL_SPAN = 2 ** 22;
const key = (inst: number, local: number) => KEY_BASE + inst * LOCAL_SPAN + local;

/** bias + sum coef * key (coefficients are unreduced integers until written). */
export interface KeyForm {
  bias: bigint;
  terms: Map<number, bigint>;
}

const addTo = (acc: KeyForm, f: KeyForm, c: bigint) => {
  acc.bias += c * f.bias;
  for (const [k, v] of f.terms) acc.terms.set(k, (acc.terms.get(k) ?? 0n) + c * v);
};

/** A linear combination over model wires, sorted by wire, coefficients in [0, p). */
export interface WireLc {
  wires: number[];
  coefs: bigint[];
}

export interface LinkPlan {
  inst: GraphInstances;
  kinds: Map<string, GadgetKind>;
  /** Every instance, batch item by item: the gadgets, then the classifier. */
  instances: GadgetInstance[];
  kindOf: GadgetKind[];
  nWires: number;
  nOutputs: number;
  nPubInputs: number;
  nPrvInputs: number;
  nConstraints: number;
  /** Linear constraints left from the output assignments (written after the instances' constraints). */
  linear: WireLc[];
  /** Eliminated instance wires (key -> form over other keys and main wires). */
  pivots: Map<number, KeyForm>;
  /** Model wire of each main signal of item b (-1 for salt, class, commitment when the circuit has none). */
  xWire(b: number, i: number): number;
  saltWire(b: number): number;
  outSaltWire(b: number): number;
  outWire(b: number, j: number): number;
  classWire(b: number): number;
  commitmentWire(b: number): number;
  outputCommitmentWire(b: number): number;
  /** Private weights (one set per proof): weight signal j, the salt and the commitment (-1 without). */
  weightWire(j: number): number;
  weightsSaltWire(): number;
  weightsCommitmentWire(): number;
  /** What the model wire of an instance's local wire holds beyond the local value (a primitive's offset). */
  shiftOf(instance: number, local: number): bigint;
  /** Model wire of an instance's local wire, or -1 for an eliminated one (then see pivots). */
  wireOf(instance: number, local: number): number;
  /** The constraints of one instance over model wires. */
  constraintsOf(instance: number): Array<[WireLc, WireLc, WireLc]>;
  /** Main signal names for the .sym file: [wire, name]. */
  mainNames(): Array<[number, string]>;
  /** Name prefix of an instance's wires (`main.p12.`, `main.item[1].p12.`). */
  prefixOf(instance: number): string;
}

export function planLink(inst: GraphInstances, kinds: Map<string, GadgetKind>): LinkPlan {
  const { layout, nIn, nOut, nW } = inst;
  const k = layout.batch;
  const vis = layout.visibility;
  const perItem = [...inst.gadgets, ...(inst.classifier ? [inst.classifier] : [])];
  const instances: GadgetInstance[] = [];
  for (let b = 0; b < k; b++) instances.push(...perItem);
  const kindOf = instances.map((g) => kinds.get(kindKey(g))!);
  const itemOf = (i: number) => Math.floor(i / perItem.length);

  // Main wires.
  const logits = layout.outputs > 0;
  const committed = layout.outputCommitmentIndex >= 0;
  const hasClass = layout.classIndex >= 0;
  const priv = vis.input === 'private';
  const pw = nW > 0;
  if (pw && k > 1) throw new Error('internal error: private weights prove one inference per proof');
  let w = 1;
  let outBase = w;
  if (logits) w += k * nOut;
  const classBase = w;
  if (hasClass) w += k;
  const commitBase = w;
  if (priv) w += k;
  const outCommitBase = w;
  if (committed) w += k;
  const wcBase = w;
  if (pw) w += 1;
  const nOutputs = w - 1;
  const xBase = w;
  w += k * nIn;
  const saltBase = w;
  if (priv) w += k;
  const outSaltBase = w;
  if (committed) w += k;
  const wBase = w;
  w += nW;
  const wSaltBase = w;
  if (pw) w += 1;
  // With class-only visibility out[] is internal; circom keeps it as a wire too (and removes the
  // latest signal of each assignment instead), so the plan does the same.
  if (!logits) {
    outBase = w;
    w += k * nOut;
  }
  const nPubInputs = priv ? 0 : k * nIn;
  const nPrvInputs = (priv ? k * nIn + k : 0) + (committed ? k : 0) + (pw ? nW + 1 : 0);
  const nMain = w;

  // Where each primitive's output signal lives: instance (within an item) and port.
  const primAt = new Map<number, { g: number; port: string; offset: number }>();
  perItem.forEach((g, gi) => {
    for (const o of g.outputs) if ('signal' in o.target) primAt.set(o.target.signal, { g: gi, port: o.port, offset: o.offset ?? 0 });
  });
  // A primitive out = <component>.port + offset is kept as the wire of `out` (circom keeps v[], and
  // removes the port signal): the gadget's port then reads wire - offset.
  const shift = new Map<number, bigint>();
  instances.forEach((g, i) => {
    for (const o of g.outputs) if ('signal' in o.target && o.offset) shift.set(key(i, kindOf[i].outputs.get(o.port)!), BigInt(o.offset));
  });
  /** acc += c * (signal s of item b). */
  const addSignal = (acc: KeyForm, b: number, s: number, c: bigint) => {
    let kk: number;
    if (s < nIn) kk = xBase + b * nIn + s;
    else if (s < nIn + nW) kk = wBase + s - nIn;
    else {
      const at = primAt.get(s);
      if (!at) throw new Error(`internal error: signal ${s} has no defining instance`);
      const i = b * perItem.length + at.g;
      kk = key(i, kindOf[i].outputs.get(at.port)!);
    }
    acc.terms.set(kk, (acc.terms.get(kk) ?? 0n) + c);
  };
  const formOf = (b: number, f: Form, scale = 1n, offset = 0n): KeyForm => {
    const acc: KeyForm = { bias: BigInt(f.bias) * scale + offset, terms: new Map() };
    for (const [s, wt] of f.terms) addSignal(acc, b, s, BigInt(wt) * scale);
    return acc;
  };
  const outForm = (b: number, j: number): KeyForm => ({ bias: 0n, terms: new Map([[outBase + b * nOut + j, 1n]]) });
  const sourceForm = (b: number, s: PortSource): KeyForm => {
    if ('main' in s) {
      const f =
        s.main === 'salt'
          ? { bias: 0n, terms: new Map([[saltBase + b, 1n]]) }
          : s.main === 'outSalt'
            ? { bias: 0n, terms: new Map([[outSaltBase + b, 1n]]) }
            : s.main === 'weightsSalt'
              ? { bias: 0n, terms: new Map([[wSaltBase, 1n]]) }
              : outForm(b, s.index!);
      return { bias: f.bias + (s.offset ?? 0n), terms: f.terms };
    }
    return formOf(b, s.form, BigInt(s.scale ?? 1), s.offset ?? 0n);
  };

  // Linear constraints (the gadgets' own, then the output assignments): Gaussian elimination, each
  // pivoting on one instance wire. Replacements stay fully reduced (a new pivot is substituted into every
  // replacement that mentions it, found through `occurs`), so reducing a row is one pass.
  const pivots = new Map<number, KeyForm>();
  const occurs = new Map<number, Set<number>>();
  const linearRows: KeyForm[] = [];
  const normalise = (row: KeyForm) => {
    row.bias = mod(row.bias);
    for (const [kk, v] of row.terms) {
      const r = mod(v);
      if (r === 0n) row.terms.delete(kk);
      else row.terms.set(kk, r);
    }
  };
  /** row[kk] -> row[kk] * replacement, in place (coefficient reduced first, so numbers stay small). */
  const substitute = (row: KeyForm, kk: number, rep: KeyForm) => {
    const c = mod(row.terms.get(kk)!);
    row.terms.delete(kk);
    addTo(row, rep, c);
  };
  const reduce = (row: KeyForm) => {
    for (const kk of [...row.terms.keys()]) {
      const rep = pivots.get(kk);
      if (rep) substitute(row, kk, rep);
    }
    normalise(row);
  };
  /** Eliminate row = 0 by one of its instance wires, the latest (as circom --O2 does here). */
  const eliminate = (row: KeyForm) => {
    reduce(row);
    let pivot = -1;
    for (const kk of row.terms.keys()) if (kk >= KEY_BASE && kk > pivot) pivot = kk;
    if (pivot < 0) {
      if (row.terms.size || row.bias) linearRows.push(row);
      return;
    }
    // pivot = -(row - c * pivot) / c
    const c = inv(row.terms.get(pivot)!);
    const rep: KeyForm = { bias: mod(-row.bias * c), terms: new Map() };
    for (const [kk, v] of row.terms) if (kk !== pivot) rep.terms.set(kk, mod(-v * c));
    for (const r of occurs.get(pivot) ?? []) {
      const other = pivots.get(r)!;
      if (!other.terms.has(pivot)) continue;
      substitute(other, pivot, rep);
      normalise(other);
      for (const kk of rep.terms.keys()) if (kk >= KEY_BASE) (occurs.get(kk) ?? occurs.set(kk, new Set()).get(kk)!).add(r);
    }
    occurs.delete(pivot);
    for (const kk of rep.terms.keys()) if (kk >= KEY_BASE) (occurs.get(kk) ?? occurs.set(kk, new Set()).get(kk)!).add(pivot);
    pivots.set(pivot, rep);
  };
  /** mainWire - f = 0. */
  const assign = (mainWire: number, f: KeyForm) => {
    const row: KeyForm = { bias: -f.bias, terms: new Map([[mainWire, 1n]]) };
    for (const [kk, v] of f.terms) row.terms.set(kk, (row.terms.get(kk) ?? 0n) - v);
    eliminate(row);
  };
  instances.forEach((g, i) => {
    const kd = kindOf[i];
    if (!kd.linear.length) return;
    const b = itemOf(i);
    const ports = new Map(g.inputs.map(({ port, source }) => [kd.inputs.get(port)!, sourceForm(b, source)]));
    for (const l of kd.linear) {
      const row: KeyForm = { bias: 0n, terms: new Map() };
      l.wires.forEach((local, t) => {
        const port = ports.get(local);
        if (port) addTo(row, port, l.coefs[t]);
        else if (local === 0) row.bias += l.coefs[t];
        else {
          const kk = key(i, local);
          row.terms.set(kk, (row.terms.get(kk) ?? 0n) + l.coefs[t]);
          row.bias -= l.coefs[t] * (shift.get(kk) ?? 0n);
        }
      });
      eliminate(row);
    }
  });
  for (let b = 0; b < k; b++) {
    for (let j = 0; j < nOut; j++) assign(outBase + b * nOut + j, formOf(b, inst.outputs[j]));
    perItem.forEach((g, gi) => {
      const i = b * perItem.length + gi;
      for (const o of g.outputs) {
        if ('signal' in o.target) continue;
        const main =
          o.target.main === 'class' ? classBase + b : o.target.main === 'outputCommitment' ? outCommitBase + b : o.target.main === 'weightsCommitment' ? wcBase : commitBase + b;
        assign(main, { bias: BigInt(o.offset ?? 0), terms: new Map([[key(i, kindOf[i].outputs.get(o.port)!), 1n]]) });
      }
    });
  }

  // Instance wires, skipping the eliminated ones.
  const rank = new Map<GadgetKind, Int32Array>();
  for (const kd of new Set(kindOf)) {
    const r = new Int32Array(kd.nWires).fill(-1);
    let n = 0;
    for (let l = 1; l < kd.nWires; l++) if (l < kd.firstInput || l >= kd.firstInput + kd.nInputs) r[l] = n++;
    rank.set(kd, r);
  }
  const base = new Float64Array(instances.length);
  const special = new Map<number, Int32Array>();
  const pivotsByInstance = new Map<number, number[]>();
  for (const kk of pivots.keys()) {
    const i = Math.floor((kk - KEY_BASE) / LOCAL_SPAN);
    pivotsByInstance.set(i, [...(pivotsByInstance.get(i) ?? []), kk - KEY_BASE - i * LOCAL_SPAN]);
  }
  let next = nMain;
  instances.forEach((_, i) => {
    base[i] = next;
    const kd = kindOf[i];
    const r = rank.get(kd)!;
    const gone = pivotsByInstance.get(i);
    if (!gone) {
      next += kd.nWires - 1 - kd.nInputs;
      return;
    }
    const s = new Int32Array(kd.nWires).fill(-1);
    for (let l = 1; l < kd.nWires; l++) if (r[l] >= 0 && !gone.includes(l)) s[l] = next++;
    special.set(i, s);
  });
  const nWires = next;
  const wireOf = (i: number, local: number): number => {
    if (local === 0) return 0;
    const s = special.get(i);
    if (s) return s[local];
    const r = rank.get(kindOf[i])![local];
    return r < 0 ? -1 : base[i] + r;
  };

  /** Key form -> model wires (expanding eliminated wires), reduced and sorted. */
  const toWires = (f: KeyForm, scale: bigint, acc: Map<number, bigint>) => {
    if (f.bias) acc.set(0, (acc.get(0) ?? 0n) + scale * f.bias);
    for (const [kk, v] of f.terms) {
      const rep = pivots.get(kk);
      if (rep) {
        toWires(rep, scale * v, acc);
        continue;
      }
      const wire = kk < KEY_BASE ? kk : wireOf(Math.floor((kk - KEY_BASE) / LOCAL_SPAN), (kk - KEY_BASE) % LOCAL_SPAN);
      acc.set(wire, (acc.get(wire) ?? 0n) + scale * v);
    }
  };
  const finish = (acc: Map<number, bigint>): WireLc => {
    const wires: number[] = [];
    for (const [wire, v] of acc) {
      const r = mod(v);
      if (r === 0n) acc.delete(wire);
      else {
        acc.set(wire, r);
        wires.push(wire);
      }
    }
    wires.sort((a, b) => a - b);
    return { wires, coefs: wires.map((x) => acc.get(x)!) };
  };

  const constraintsOf = (i: number): Array<[WireLc, WireLc, WireLc]> => {
    const kd = kindOf[i];
    const g = instances[i];
    const b = itemOf(i);
    const ports = new Map<number, { wires: number[]; coefs: bigint[] }>();
    for (const { port, source } of g.inputs) {
      const local = kd.inputs.get(port);
      if (local === undefined) throw new Error(`internal error: gadget ${kd.key} has no input ${port}`);
      const acc = new Map<number, bigint>();
      toWires(sourceForm(b, source), 1n, acc);
      ports.set(local, finish(acc));
    }
    // A port often appears with the same coefficient in A and B (the booleanity of a bit circom
    // substituted): scale each (port, coefficient) once.
    const scaled = new Map<string, bigint[]>();
    const scaledPort = (local: number, c: bigint) => {
      const id = `${local}:${c}`;
      let v = scaled.get(id);
      if (!v) scaled.set(id, (v = ports.get(local)!.coefs.map((x) => (x * c) % P)));
      return v;
    };
    const lc = (l: { wires: number[]; coefs: bigint[] }) => {
      const acc = new Map<number, bigint>();
      l.wires.forEach((local, t) => {
        const c = l.coefs[t];
        const port = ports.get(local);
        if (port) {
          const coefs = scaledPort(local, c);
          port.wires.forEach((wire, u) => acc.set(wire, (acc.get(wire) ?? 0n) + coefs[u]));
        } else if (local === 0) acc.set(0, (acc.get(0) ?? 0n) + c);
        else {
          const kk = key(i, local);
          const off = shift.get(kk);
          if (off) acc.set(0, (acc.get(0) ?? 0n) - c * off);
          const wire = wireOf(i, local);
          if (wire >= 0) acc.set(wire, (acc.get(wire) ?? 0n) + c);
          else toWires(pivots.get(kk)!, c, acc);
        }
      });
      return finish(acc);
    };
    return kd.constraints.map(([a, bb, c]) => [lc(a), lc(bb), lc(c)]);
  };

  const linear = linearRows.map((row) => {
    const acc = new Map<number, bigint>();
    toWires(row, 1n, acc);
    return finish(acc);
  });
  const nConstraints = kindOf.reduce((a, kd) => a + kd.constraints.length, 0) + linear.length;

  const item = (b: number) => (k > 1 ? `[${b}]` : '');
  const mainNames = (): Array<[number, string]> => {
    const out: Array<[number, string]> = [];
    for (let b = 0; b < k; b++) {
      // Internal out[] of a batch lives in the item's template (the batch main declares none).
      for (let j = 0; j < nOut; j++) out.push([outBase + b * nOut + j, !logits && k > 1 ? `main.item[${b}].out[${j}]` : `main.out${item(b)}[${j}]`]);
      if (hasClass) out.push([classBase + b, `main.class${item(b)}`]);
      if (priv) out.push([commitBase + b, `main.inputCommitment${item(b)}`]);
      if (committed) out.push([outCommitBase + b, `main.outputCommitment${item(b)}`]);
      for (let j = 0; j < nIn; j++) out.push([xBase + b * nIn + j, `main.x${item(b)}[${j}]`]);
      if (priv) out.push([saltBase + b, `main.salt${item(b)}`]);
      if (committed) out.push([outSaltBase + b, `main.outSalt${item(b)}`]);
    }
    if (pw) {
      out.push([wcBase, 'main.weightsCommitment'], [wSaltBase, 'main.weightsSalt']);
      for (let j = 0; j < nW; j++) out.push([wBase + j, `main.w[${j}]`]);
    }
    return out.sort((x, y) => x[0] - y[0]);
  };

  return {
    inst,
    kinds,
    instances,
    kindOf,
    nWires,
    nOutputs,
    nPubInputs,
    nPrvInputs,
    nConstraints,
    linear,
    pivots,
    xWire: (b, i) => xBase + b * nIn + i,
    saltWire: (b) => (priv ? saltBase + b : -1),
    outSaltWire: (b) => (committed ? outSaltBase + b : -1),
    outWire: (b, j) => outBase + b * nOut + j,
    classWire: (b) => (hasClass ? classBase + b : -1),
    commitmentWire: (b) => (priv ? commitBase + b : -1),
    outputCommitmentWire: (b) => (committed ? outCommitBase + b : -1),
    weightWire: (j) => (pw ? wBase + j : -1),
    weightsSaltWire: () => (pw ? wSaltBase : -1),
    weightsCommitmentWire: () => (pw ? wcBase : -1),
    wireOf,
    shiftOf: (i, l) => shift.get(key(i, l)) ?? 0n,
    constraintsOf,
    mainNames,
    prefixOf: (i) => `main.${k > 1 ? `item[${itemOf(i)}].` : ''}${instances[i].name}.`,
  };
}
