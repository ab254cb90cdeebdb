/**
 * The circom main of an integer program (quant/lower.ts). Forms are inline linear combinations (no
 * constraint); each primitive is one component of the gadget named in prims.ts, with widths from the
 * static bounds (quant/bounds.ts). The main has no constraint of its own.
 *
 * Public signals, in snarkjs order: the outputs (every graph output's integers, concatenated in graph
 * order; absent with class-only visibility), the class (when asked for), the input commitment (private
 * input), then the input integers (public input).
 */
import { fail } from '../util/errors.js';
import { MAX_BATCH, type Visibility } from '../circuit/emit.js';
import { requantWidth } from './quant/bounds.js';
import { formBounds, type QProgram } from './quant/lower.js';
import { gadgetOf } from './gadgets.js';
import { signedBits, unsignedBits, type Prim } from './quant/prims.js';
import type { Form } from './quant/qtensor.js';
import { size } from './ir.js';

export const GRAPH_TEMPLATE = 'ZkinferGraph';

export interface GraphLayout {
  /** Inferences per proof: item b's outputs start at outputsOffset + b * outputs, its class at classIndex + b, etc. */
  batch: number;
  visibility: Visibility;
  /** Offset and count (per item) of the output integers (count 0 with class-only visibility). */
  outputsOffset: number;
  outputs: number;
  /** Offset of item 0's class signal, or -1 when the circuit has no argmax. */
  classIndex: number;
  commitmentIndex: number;
  inputOffset: number;
  inputs: number;
  total: number;
}

export interface GraphCircuitOptions {
  visibility?: Visibility;
  /** Index of the graph output whose argmax becomes the public `class` (a classifier's logits). */
  classOutput?: number;
  /** Inferences per proof (default 1): k copies of the model under one main. */
  batch?: number;
}

export const BATCH_GRAPH_TEMPLATE = 'ZkinferGraphBatch';

const TERMS_PER_LINE = 32;

/** k copies of the model template under one main, with the same public signals per item, in item order. */
function batchTemplate(layout: GraphLayout, n: number, m: number): string[] {
  const priv = layout.visibility.input === 'private';
  const outs = layout.outputs > 0;
  const cls = layout.classIndex >= 0;
  return [
    `template ${BATCH_GRAPH_TEMPLATE}(k) {`,
    `    signal input x[k][${n}];`,
    ...(priv ? ['    signal input salt[k];'] : []),
    ...(outs ? [`    signal output out[k][${m}];`] : []),
    ...(cls ? ['    signal output class[k];'] : []),
    ...(priv ? ['    signal output inputCommitment[k];'] : []),
    '    component item[k];',
    '    for (var b = 0; b < k; b++) {',
    `        item[b] = ${GRAPH_TEMPLATE}();`,
    `        for (var i = 0; i < ${n}; i++) item[b].x[i] <== x[b][i];`,
    ...(priv ? ['        item[b].salt <== salt[b];'] : []),
    ...(outs ? [`        for (var j = 0; j < ${m}; j++) out[b][j] <== item[b].out[j];`] : []),
    ...(cls ? ['        class[b] <== item[b].class;'] : []),
    ...(priv ? ['        inputCommitment[b] <== item[b].inputCommitment;'] : []),
    '    }',
    '}',
  ];
}

/** Input bits and offsets: input signal i is range-checked as x[i] - lo in [0, 2^bits). */
function inputRanges(program: QProgram): Array<{ lo: number; bits: number }> {
  return program.inputs.flatMap((inp) => Array.from({ length: size(inp.shape) }, () => ({ lo: inp.lo, bits: unsignedBits(inp.hi - inp.lo) })));
}

export function graphLayout(program: QProgram, options: GraphCircuitOptions = {}): GraphLayout {
  const visibility = options.visibility ?? { input: 'public', output: 'logits' };
  const n = program.inputs.reduce((a, i) => a + size(i.shape), 0);
  const m = program.outputs.reduce((a, o) => a + o.elems.length, 0);
  const hasClass = options.classOutput !== undefined;
  const k = options.batch ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > MAX_BATCH) fail('BAD_INPUT', `batch size must be an integer from 1 to ${MAX_BATCH} (got ${k})`);
  if (visibility.output === 'class' && !hasClass) fail('BAD_INPUT', 'class-only visibility needs a classifier output (its argmax is the class)');
  const outputs = visibility.output === 'logits' ? m : 0;
  let pos = k * outputs;
  const classIndex = hasClass ? pos : -1;
  if (hasClass) pos += k;
  const commitmentIndex = visibility.input === 'private' ? pos : -1;
  if (visibility.input === 'private') pos += k;
  const inputs = visibility.input === 'public' ? n : 0;
  return { batch: k, visibility, outputsOffset: 0, outputs, classIndex, commitmentIndex, inputOffset: pos, inputs, total: pos + k * inputs };
}

export function emitGraphCircuit(program: QProgram, options: GraphCircuitOptions = {}): { source: string; layout: GraphLayout } {
  const layout = graphLayout(program, options);
  const nIn = program.inputs.reduce((a, i) => a + size(i.shape), 0);
  const bounds = formBounds(program);
  const sig = (s: number) => (s < nIn ? `x[${s}]` : `v[${s - nIn}]`);
  const body: string[] = [];
  const line = (s: string) => body.push(`    ${s}`);
  /** Leave the form in var `acc` (long forms over several statements: circom's parser stack is small). */
  const formInto = (f: Form) => {
    line(`acc = ${f.bias};`);
    for (let k = 0; k < f.terms.length; k += TERMS_PER_LINE) {
      const chunk = f.terms.slice(k, k + TERMS_PER_LINE).map(([s, w]) => (w < 0 ? `- ${-w}*${sig(s)}` : `+ ${w}*${sig(s)}`));
      line(`acc = acc ${chunk.join(' ')};`);
    }
  };
  const assign = (target: string, f: Form, suffix = '') => {
    formInto(f);
    line(`${target} <== acc${suffix};`);
  };
  const tables = new Map<string, string>();
  const tableVar = (table: number[]) => {
    const key = table.join(',');
    let name = tables.get(key);
    if (!name) {
      name = `T${tables.size}`;
      tables.set(key, name);
    }
    return name;
  };

  const nOut = program.outputs.reduce((a, o) => a + o.elems.length, 0);
  const vis = layout.visibility;
  const head = [
    `template ${GRAPH_TEMPLATE}() {`,
    `    signal input x[${nIn}];`,
    ...(vis.input === 'private' ? ['    signal input salt;'] : []),
    `    signal ${vis.output === 'logits' ? 'output ' : ''}out[${nOut}];`,
    ...(layout.classIndex >= 0 ? ['    signal output class;'] : []),
    ...(vis.input === 'private' ? ['    signal output inputCommitment;'] : []),
    ...(program.prims.length ? [`    signal v[${program.prims.length}];`] : []),
    '    var acc;',
  ];

  // Inputs: each range-checked to its integer range.
  const ranges = inputRanges(program);
  line(`component inRange[${nIn}];`);
  ranges.forEach(({ lo, bits }, i) => {
    line(`inRange[${i}] = UnsignedRange(${bits});`);
    line(`inRange[${i}].in <== x[${i}]${lo ? ` - (${lo})` : ''};`);
  });
  if (vis.input === 'private') {
    const bits = Math.max(...ranges.map((r) => r.bits));
    line(`component commitment = PackedCommitment(${nIn}, ${bits});`);
    ranges.forEach(({ lo }, i) => line(`commitment.in[${i}] <== x[${i}]${lo ? ` - (${lo})` : ''};`));
    line('commitment.salt <== salt;');
    line('inputCommitment <== commitment.out;');
  }

  let lastNode = '';
  for (const p of program.prims) {
    if (p.node !== lastNode) body.push('', `    // ${p.node}`);
    lastNode = p.node;
    emitPrim(p, `p${p.out}`, sig(p.out));
  }

  body.push('', '    // Outputs');
  let j = 0;
  for (const o of program.outputs) for (const f of o.elems) assign(`out[${j++}]`, f);
  if (layout.classIndex >= 0) {
    const o = program.outputs[options.classOutput!];
    const start = program.outputs.slice(0, options.classOutput!).reduce((a, q) => a + q.elems.length, 0);
    const b = o.elems.map(bounds);
    const bits = signedBits(Math.min(...b.map((x) => x.lo)), Math.max(...b.map((x) => x.hi)));
    line(`component best = ArgMax(${o.elems.length}, ${bits});`);
    o.elems.forEach((_, k) => line(`best.in[${k}] <== out[${start + k}];`));
    line('class <== best.index;');
  }
  body.push('}');

  function emitPrim(p: Prim, c: string, out: string): void {
    const g = gadgetOf(p, bounds);
    const params = p.kind === 'lookup' ? `${p.bits}, ${tableVar(p.table)}` : g.params.join(', ');
    line(`component ${c} = ${g.template}(${params});`);
    switch (p.kind) {
      case 'requant': {
        formInto(p.in);
        line(`${c}.in <== acc * ${p.mult} + (${requantWidth(p, bounds(p.in)).offset});`);
        line(`${out} <== ${c}.${p.clampLo !== null ? 'out' : 'q'}${p.clampLo ? ` + (${p.clampLo})` : ''};`);
        return;
      }
      case 'lookup':
        assign(`${c}.in`, p.in, p.offset ? ` - (${p.offset})` : '');
        line(`${out} <== ${c}.out;`);
        return;
      case 'mul':
      case 'less':
        assign(`${c}.a`, p.a);
        assign(`${c}.b`, p.b);
        line(`${out} <== ${c}.out;`);
        return;
      case 'div':
        assign(`${c}.num`, p.num);
        assign(`${c}.den`, p.den);
        line(`${out} <== ${c}.q;`);
        return;
      case 'max': {
        const lo = Math.min(...p.in.map((f) => bounds(f).lo));
        p.in.forEach((f, k) => assign(`${c}.in[${k}]`, f, lo ? ` - (${lo})` : ''));
        line(`${out} <== ${c}.out${lo ? ` + (${lo})` : ''};`);
        return;
      }
      case 'equal':
        assign(`${c}.in[0]`, p.a);
        assign(`${c}.in[1]`, p.b);
        line(`${out} <== ${c}.out;`);
        return;
      case 'argmax':
        p.in.forEach((f, k) => assign(`${c}.in[${k}]`, f));
        line(`${out} <== ${c}.index;`);
        return;
    }
  }

  const tableDecls = [...tables].map(([values, name]) => `    var ${name}[${values.split(',').length}] = [${values}];`);
  // Only the gadget files used: a template library change then invalidates only circuits that use it.
  const kinds = new Set(program.prims.map((p) => p.kind));
  const includes = [
    'range',
    ...(kinds.has('requant') ? ['requantize'] : []),
    ...(kinds.has('max') ? ['max'] : []),
    ...(kinds.has('argmax') || layout.classIndex >= 0 ? ['argmax'] : []),
    ...(kinds.has('lookup') ? ['lookup'] : []),
    ...(['mul', 'div', 'less'].some((k) => kinds.has(k as Prim['kind'])) ? ['arith'] : []),
    ...(kinds.has('equal') ? ['circomlib/circuits/comparators'] : []),
    ...(vis.input === 'private' ? ['commit'] : []),
  ];
  const source = [
    '// Generated by zkinfer from the graph\'s integer program; do not edit. Semantics: src/graph/quant/prims.ts.',
    'pragma circom 2.1.6;',
    '',
    ...includes.map((f) => `include "${f}.circom";`),
    '',
    ...head,
    ...tableDecls,
    ...body,
    '',
    ...(layout.batch > 1 ? [...batchTemplate(layout, nIn, nOut), ''] : []),
    `component main${vis.input === 'public' ? ' {public [x]}' : ''} = ${layout.batch > 1 ? `${BATCH_GRAPH_TEMPLATE}(${layout.batch})` : `${GRAPH_TEMPLATE}()`};`,
    '',
  ].join('\n');
  return { source, layout };
}
