/**
 * The gadget instances of a graph circuit: one list (template, params, what drives each input port, where
 * each output goes) from which both the circom source (emit.ts) and the linker (link/) are derived, so the
 * two cannot disagree about the circuit's structure.
 *
 * Main signals: x[nIn] (inputs), salt (private input), w[nW] and weightsSalt (private weights), out[nOut]
 * (output forms; public with logits visibility), class, inputCommitment, weightsCommitment, and
 * v[s - nIn - nW] for each primitive's output signal s, then the weights commitment chain's states. With
 * committed outputs (a split chunk), also outSalt (private input) and outputCommitment: out[] is then
 * internal, and the outputs are hashed as a private input is, each range-checked first unless its gadget
 * confines it already (the next chunk range-checks them again as its input).
 */
import { requantWidth } from './quant/bounds.js';
import { formBounds, type QProgram } from './quant/lower.js';
import { enforcedRanges, gadgetOf } from './gadgets.js';
import { signedBits, unsignedBits } from './quant/prims.js';
import type { Form } from './quant/qtensor.js';
import { size } from './ir.js';
import { graphLayout, type GraphCircuitOptions, type GraphLayout } from './layout.js';
import { programTag, weightCount } from './quant/privateWeights.js';

/** A gadget input port's value: (form over program signals) * scale + offset, or a main signal + offset. */
export type PortSource = { form: Form; scale?: number; offset?: bigint } | { main: 'salt' | 'outSalt' | 'weightsSalt' | 'out'; index?: number; offset?: bigint };

export type PortTarget = { signal: number } | { main: 'class' | 'inputCommitment' | 'outputCommitment' | 'weightsCommitment' };

export interface GadgetInstance {
  /** Component name in the main template: p<signal>, inRange[i], commitment, best. */
  name: string;
  template: string;
  /** Numbers (a field element as a bigint), or a lookup table (an array parameter). */
  params: Array<number | bigint | number[]>;
  /** Graph node (for comments and cost reports); absent for the input checks and the class. */
  node?: string;
  inputs: Array<{ port: string; source: PortSource }>;
  /** target = <component>.<port> + offset. */
  outputs: Array<{ port: string; target: PortTarget; offset?: number }>;
}

export interface GraphInstances {
  layout: GraphLayout;
  nIn: number;
  nOut: number;
  /** Private weight signals (w[]), numbered from nIn. */
  nW: number;
  /** Signals v[], numbered from nIn + nW: the primitives', then the weights commitment chain's states. */
  nPrims: number;
  /** Input range checks, the input commitment, the weight range checks and commitment, the primitives in program order, then the output commitment. */
  gadgets: GadgetInstance[];
  /** out[j] = outputs[j] (every graph output's elements, in graph order). */
  outputs: Form[];
  /** The class argmax over out[], after the outputs. */
  classifier?: GadgetInstance;
  /** Circom include files (without .circom) of the templates used. */
  includes: string[];
}

/** Which circuits/ file defines each template (the emitter's includes and the linker's gadget mains). */
export const TEMPLATE_FILES: Record<string, string> = {
  UnsignedRange: 'range',
  RequantReluClamp: 'requantize',
  DivFloorPow2: 'requantize',
  MaxOfN: 'max',
  ArgMax: 'argmax',
  Lookup: 'lookup',
  Mul: 'arith',
  DivFloor: 'arith',
  LessThanSigned: 'arith',
  IsEqual: 'circomlib/circuits/comparators',
  PackedCommitment: 'commit',
  TaggedSalt: 'commit',
};

const neg = (v: number): bigint | undefined => (v ? BigInt(-v) : undefined);

/** An input range [lo, hi] that is not a whole power of two also needs its top checked (token ids). */
export const needsTopCheck = (lo: number, hi: number): boolean => hi - lo !== 2 ** unsignedBits(hi - lo) - 1;

/** Constraints of one input element's range checks (UnsignedRange: one per bit, once or twice). */
export const inputCheckConstraints = (lo: number, hi: number): number => unsignedBits(hi - lo) * (needsTopCheck(lo, hi) ? 2 : 1);

/**
 * A committed output's packing (each element minus its output's lo, at one width) and which elements
 * need a range check before they are packed: those whose defining gadget does not already confine them
 * to [lo, lo + 2^bits) (enforcedRanges), so that the packing is injective.
 */
export function committedOutputs(program: QProgram): { bits: number; elems: Array<{ form: Form; lo: number; check: boolean }> } {
  const ranges = program.outputs.map((o) => outputRange(program, o));
  const bits = Math.max(...ranges.map(({ lo, hi }) => unsignedBits(hi - lo)));
  const enforced = enforcedRanges(program.prims);
  const elems = program.outputs.flatMap((o, k) =>
    o.elems.map((form) => {
      const { lo } = ranges[k];
      const r = enforced(form);
      return { form, lo, check: !(r && r.lo >= lo && r.hi < lo + 2 ** bits) };
    }),
  );
  return { bits, elems };
}

/**
 * The integer range [lo, hi] of one program output, over all its elements: a committed output packs each
 * element minus lo, and the next chunk of a split model takes that range as its input's.
 */
export function outputRange(program: QProgram, o: QProgram['outputs'][number]): { lo: number; hi: number } {
  const b = o.elems.map(formBounds(program));
  return { lo: Math.min(...b.map((x) => x.lo)), hi: Math.max(...b.map((x) => x.hi)) };
}

export function graphInstances(program: QProgram, options: GraphCircuitOptions = {}): GraphInstances {
  const layout = graphLayout(program, options);
  const nIn = program.inputs.reduce((a, i) => a + size(i.shape), 0);
  const nOut = program.outputs.reduce((a, o) => a + o.elems.length, 0);
  const bounds = formBounds(program);
  const signal = (s: number): Form => ({ bias: 0, terms: [[s, 1]] });
  const gadgets: GadgetInstance[] = [];

  // Inputs: each range-checked to its integer range (x[i] - lo in [0, 2^bits)). A range that is not a
  // whole power of two (token ids in [0, vocab)) gets a second check hi - x[i] in [0, 2^bits): together
  // exactly lo <= x[i] <= hi (2^bits << p, so neither difference can wrap), bits more constraints each.
  const ranges = program.inputs.flatMap((inp) => Array.from({ length: size(inp.shape) }, () => ({ lo: inp.lo, hi: inp.hi, bits: unsignedBits(inp.hi - inp.lo) })));
  ranges.forEach(({ lo, bits }, i) => {
    gadgets.push({ name: `inRange[${i}]`, template: 'UnsignedRange', params: [bits], inputs: [{ port: 'in', source: { form: signal(i), offset: neg(lo) } }], outputs: [] });
  });
  ranges.forEach(({ lo, hi, bits }, i) => {
    if (!needsTopCheck(lo, hi)) return;
    gadgets.push({
      name: `inTop${i}`,
      template: 'UnsignedRange',
      params: [bits],
      inputs: [{ port: 'in', source: { form: { bias: 0, terms: [[i, -1]] }, offset: BigInt(hi) } }],
      outputs: [],
    });
  });
  if (layout.visibility.input === 'private') {
    const bits = Math.max(...ranges.map((r) => r.bits));
    gadgets.push({
      name: 'commitment',
      template: 'PackedCommitment',
      params: [nIn, bits],
      inputs: [...ranges.map(({ lo }, i) => ({ port: `in[${i}]`, source: { form: signal(i), offset: neg(lo) } })), { port: 'salt', source: { main: 'salt' as const } }],
      outputs: [{ port: 'out', target: { main: 'inputCommitment' } }],
    });
  }

  const nW = weightCount(program);
  let nV = program.prims.length;
  if (layout.visibility.weights === 'private') {
    // Each weight in its width (w - lo in [0, 2^bits)), then the commitment chain (src/weights/commitment.ts
    // chainCommitment): TaggedSalt(program tag, weightsSalt), one PackedCommitment per tensor; its states
    // are signals after the primitives', the last one the public weightsCommitment.
    const weights = program.weights!;
    for (const w of weights) {
      w.values.forEach((_, k) => {
        gadgets.push({
          name: `wRange[${w.first - nIn + k}]`,
          template: 'UnsignedRange',
          params: [w.bits],
          node: w.node,
          inputs: [{ port: 'in', source: { form: signal(w.first + k), offset: neg(w.lo) } }],
          outputs: [],
        });
      });
    }
    const state = () => nIn + nW + nV++;
    let s = state();
    gadgets.push({
      name: 'weightsTag',
      template: 'TaggedSalt',
      params: [programTag(program)],
      inputs: [{ port: 'salt', source: { main: 'weightsSalt' } }],
      outputs: [{ port: 'out', target: { signal: s } }],
    });
    weights.forEach((w, t) => {
      const last = t === weights.length - 1;
      const next = last ? -1 : state();
      gadgets.push({
        name: `weightsCommit${t}`,
        template: 'PackedCommitment',
        params: [w.values.length, w.bits],
        node: w.node,
        inputs: [...w.values.map((_, k) => ({ port: `in[${k}]`, source: { form: signal(w.first + k), offset: neg(w.lo) } })), { port: 'salt', source: { form: signal(s) } }],
        outputs: [{ port: 'out', target: last ? { main: 'weightsCommitment' as const } : { signal: next } }],
      });
      s = next;
    });
  }

  for (const p of program.prims) {
    const g = gadgetOf(p, bounds);
    const base = { name: `p${p.out}`, template: g.template, node: p.node };
    const out = (port: string, offset?: number) => [{ port, target: { signal: p.out }, ...(offset ? { offset } : {}) }];
    switch (p.kind) {
      case 'requant':
        gadgets.push({
          ...base,
          params: g.params,
          inputs: [{ port: 'in', source: { form: p.in, scale: p.mult, offset: requantWidth(p, bounds(p.in)).offset } }],
          outputs: out(p.clampLo !== null ? 'out' : 'q', p.clampLo ?? 0),
        });
        break;
      case 'lookup':
        gadgets.push({ ...base, params: [p.bits, p.table], inputs: [{ port: 'in', source: { form: p.in, offset: neg(p.offset) } }], outputs: out('out') });
        break;
      case 'mul':
      case 'less':
        gadgets.push({
          ...base,
          params: g.params,
          inputs: [
            { port: 'a', source: { form: p.a } },
            { port: 'b', source: { form: p.b } },
          ],
          outputs: out('out'),
        });
        break;
      case 'div':
        gadgets.push({
          ...base,
          params: g.params,
          inputs: [
            { port: 'num', source: { form: p.num } },
            { port: 'den', source: { form: p.den } },
          ],
          outputs: out('q'),
        });
        break;
      case 'max': {
        const lo = Math.min(...p.in.map((f) => bounds(f).lo));
        gadgets.push({ ...base, params: g.params, inputs: p.in.map((f, k) => ({ port: `in[${k}]`, source: { form: f, offset: neg(lo) } })), outputs: out('out', lo) });
        break;
      }
      case 'equal':
        gadgets.push({
          ...base,
          params: g.params,
          inputs: [
            { port: 'in[0]', source: { form: p.a } },
            { port: 'in[1]', source: { form: p.b } },
          ],
          outputs: out('out'),
        });
        break;
      case 'argmax':
        gadgets.push({ ...base, params: g.params, inputs: p.in.map((f, k) => ({ port: `in[${k}]`, source: { form: f } })), outputs: out('index') });
        break;
    }
  }

  if (layout.outputCommitmentIndex >= 0) {
    const { bits, elems } = committedOutputs(program);
    const sources = elems.map(({ form, lo }) => ({ form, offset: neg(lo) }));
    const checked = elems.flatMap((e, j) => (e.check ? [sources[j]] : []));
    checked.forEach((source, j) => gadgets.push({ name: `outRange[${j}]`, template: 'UnsignedRange', params: [bits], inputs: [{ port: 'in', source }], outputs: [] }));
    gadgets.push({
      name: 'outCommitment',
      template: 'PackedCommitment',
      params: [nOut, bits],
      inputs: [...sources.map((source, j) => ({ port: `in[${j}]`, source })), { port: 'salt', source: { main: 'outSalt' as const } }],
      outputs: [{ port: 'out', target: { main: 'outputCommitment' } }],
    });
  }

  const outputs = program.outputs.flatMap((o) => o.elems);
  let classifier: GadgetInstance | undefined;
  if (layout.classIndex >= 0) {
    const o = program.outputs[options.classOutput!];
    const start = program.outputs.slice(0, options.classOutput!).reduce((a, q) => a + q.elems.length, 0);
    const b = o.elems.map(bounds);
    const bits = signedBits(Math.min(...b.map((x) => x.lo)), Math.max(...b.map((x) => x.hi)));
    classifier = {
      name: 'best',
      template: 'ArgMax',
      params: [o.elems.length, bits],
      inputs: o.elems.map((_, k) => ({ port: `in[${k}]`, source: { main: 'out' as const, index: start + k } })),
      outputs: [{ port: 'index', target: { main: 'class' } }],
    };
  }
  // Only the gadget files used: a template library change then invalidates only circuits that use it.
  const used = new Set([...gadgets, ...(classifier ? [classifier] : [])].map((g) => TEMPLATE_FILES[g.template]));
  const includes = ['range', 'requantize', 'max', 'argmax', 'lookup', 'arith', 'circomlib/circuits/comparators', 'commit'].filter((f) => f === 'range' || used.has(f));
  return { layout, nIn, nOut, nW, nPrims: nV, gadgets, outputs, classifier, includes };
}
