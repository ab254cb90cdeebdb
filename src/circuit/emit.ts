import { modelBounds, type ModelBounds } from '../quantize/bounds.js';
import { layerGraphError, layerSources } from '../model/types.js';
import { linearForms, outputCount, poolWindow } from '../quantize/linear.js';
import { inputSize, type QuantizedModel } from '../quantize/types.js';
import { ZkinferError } from '../util/errors.js';

/**
 * Emit the circom main for a quantized model. Weights, biases and multipliers are baked in as constants,
 * so every multiply-accumulate is a linear combination and costs no constraint; constraints go only to
 * the input range checks, requantization (with ReLU and clamp), max pooling and the final argmax (see
 * circuits/). Each output is written as an explicit affine form from src/quantize/linear.ts, the same
 * forms the reference evaluates.
 *
 * A batch circuit proves k inferences of the same model at once: k copies of the per-input template.
 * Public signals, in snarkjs order: outputs first (logits of item 0..k-1, then the k classes), then the
 * k inputs. With k = 1 that is logits[0..n-1], class, input.
 */
export const MAIN_TEMPLATE = 'ZkinferModel';
export const BATCH_TEMPLATE = 'ZkinferBatch';
export const MAX_BATCH = 64;

/** What the proof reveals, chosen at compile time. Weights are always baked in as constants here. */
export interface Visibility {
  /** 'private': the input is a private witness; a Poseidon commitment to it (with a salt) is public. */
  input: 'public' | 'private';
  /** 'class': only the predicted class is public; the logits stay private. */
  output: 'logits' | 'class';
  /** 'private': weights are private inputs behind a public commitment (src/weights/); absent = 'constant'. */
  weights?: 'constant' | 'private';
}
export const PUBLIC_VISIBILITY: Visibility = { input: 'public', output: 'logits' };

export interface PublicLayout {
  /** Inferences proved together. */
  batch: number;
  visibility: Visibility;
  /** Offset of item 0's logits; item i's logits start at logitsOffset + i * logits. */
  logitsOffset: number;
  /** Public logits per item (0 when only the class is public). */
  logits: number;
  /** Offset of item 0's class; item i's class is at classIndex + i. */
  classIndex: number;
  /** Offset of item 0's input commitment (item i at commitmentIndex + i); -1 when inputs are public. */
  commitmentIndex: number;
  /** Offset of item 0's input; item i's input starts at inputOffset + i * inputs. */
  inputOffset: number;
  /** Public input values per item (0 when inputs are private). */
  inputs: number;
  /** Private-weights circuits only: offset of the weights commitment (src/weights/emit.ts). */
  weightsCommitmentIndex?: number;
  total: number;
}

/** Public signals in snarkjs order: main's outputs as declared (logits, class, commitment), then inputs. */
export function publicLayout(model: QuantizedModel, batch = 1, visibility: Visibility = PUBLIC_VISIBILITY): PublicLayout {
  const logits = visibility.output === 'logits' ? model.output.size : 0;
  const inputs = visibility.input === 'public' ? inputSize(model) : 0;
  let pos = 0;
  const logitsOffset = pos;
  pos += batch * logits;
  const classIndex = pos;
  pos += batch;
  const commitmentIndex = visibility.input === 'private' ? pos : -1;
  if (visibility.input === 'private') pos += batch;
  const inputOffset = pos;
  pos += batch * inputs;
  return { batch, visibility, logitsOffset, logits, classIndex, commitmentIndex, inputOffset, inputs, total: pos };
}

/** Terms per circom statement: one long expression overflows the wasm compiler's parser stack. */
const TERMS_PER_LINE = 32;

/**
 * Statements that leave the affine form bias + w * sig(i) + ... in the var `acc` (constants inline, so
 * the form stays a linear combination and costs no constraint). `sig` names input i of the form.
 */
function affineInto(bias: number, terms: Array<[number, number]>, sig: (i: number) => string): string[] {
  const lines = [`    acc = ${bias};`];
  for (let k = 0; k < terms.length; k += TERMS_PER_LINE) {
    const chunk = terms.slice(k, k + TERMS_PER_LINE).map(([i, w]) => (w < 0 ? `- ${-w}*${sig(i)}` : `+ ${w}*${sig(i)}`));
    lines.push(`    acc = acc ${chunk.join(' ')};`);
  }
  return lines;
}

/**
 * Which outputs of each tensor some later layer reads (tensor t = l + 1 is layer l's output). A max pool
 * whose windows do not cover its input (5 rows pooled by 2) leaves outputs nobody reads; computing them
 * would cost constraints for nothing and leave their wires in a single constraint, so they are not emitted.
 */
export function neededOutputs(model: QuantizedModel): Array<Set<number>> {
  const L = model.layers.length;
  const needed: Array<Set<number>> = Array.from({ length: L + 1 }, () => new Set<number>());
  for (let o = 0; o < model.output.size; o++) needed[L].add(o);
  for (let l = L - 1; l >= 0; l--) {
    const layer = model.layers[l];
    const sources = layerSources(layer, l);
    const read = (i: number) => {
      if (layer.kind === 'add') needed[sources[i < layer.size ? 0 : 1]].add(i % layer.size);
      else needed[sources[0]].add(i);
    };
    const forms = layer.kind === 'maxpool' ? null : linearForms(layer);
    for (const o of needed[l + 1]) {
      if (layer.kind === 'maxpool') poolWindow(layer, o).forEach(read);
      else forms![o].terms.forEach(([i]) => read(i));
    }
  }
  return needed;
}

/**
 * Statements of a main template that range-check its inputs x[0..n-1] to `bits` bits and, for a private
 * input, bind the public `inputCommitment` to them under `salt` (shared by both emitters).
 */
export function inputChecks(n: number, bits: number, privateInput: boolean): string[] {
  const out = [
    `    // Inputs are integers in [0, ${2 ** bits - 1}].`,
    `    component inRange[${n}];`,
    `    for (var i = 0; i < ${n}; i++) {`,
    `        inRange[i] = UnsignedRange(${bits});`,
    '        inRange[i].in <== x[i];',
    '    }',
  ];
  if (privateInput) {
    out.push(
      '',
      '    // The input stays private; its salted Poseidon commitment is public.',
      `    component commitment = PackedCommitment(${n}, ${bits});`,
      `    for (var i = 0; i < ${n}; i++) commitment.in[i] <== x[i];`,
      '    commitment.salt <== salt;',
      '    inputCommitment <== commitment.out;',
    );
  }
  return out;
}

export interface EmittedCircuit {
  source: string;
  bounds: ModelBounds;
  layout: PublicLayout;
}

function emitInference(model: QuantizedModel, bounds: ModelBounds, visibility: Visibility): string[] {
  const n = inputSize(model);
  const m = model.output.size;
  const out: string[] = [];
  out.push(`template ${MAIN_TEMPLATE}() {`);
  out.push(`    signal input x[${n}];`);
  if (visibility.input === 'private') out.push('    signal input salt;');
  out.push(`    signal ${visibility.output === 'logits' ? 'output ' : ''}logits[${m}];`);
  out.push('    signal output class;');
  if (visibility.input === 'private') out.push('    signal output inputCommitment;');
  out.push('');
  out.push(...inputChecks(n, model.input.bits, visibility.input === 'private'));

  // Every layer output is its own signal array (tensor t = l + 1 is a<l>, tensor 0 is x); weights are
  // inline constants in affine forms (no constraints).
  out.push('    var acc;');
  const tensorName = (t: number) => (t === 0 ? 'x' : `a${t - 1}`);
  const needed = neededOutputs(model);
  const tensorBits = (t: number) => (t === 0 ? model.input.bits : bounds.layers[t - 1].outBits);
  model.layers.forEach((layer, l) => {
    const lb = bounds.layers[l];
    const n = outputCount(layer);
    const isLast = l === model.layers.length - 1;
    const sources = layerSources(layer, l);
    const prev = tensorName(sources[0]);
    const prevBits = tensorBits(sources[0]);
    // Input i of the layer's affine forms: an add reads [a; b], other layers their one source.
    const sig =
      layer.kind === 'add' ? (i: number) => (i < layer.size ? `${tensorName(sources[0])}[${i}]` : `${tensorName(sources[1])}[${i - layer.size}]`) : (i: number) => `${prev}[${i}]`;
    out.push('');
    out.push(`    // Layer ${l}: ${layer.name} (${layer.kind}${sources[0] !== l || sources.length > 1 ? `, reads tensor ${sources.join(' + ')}` : ''}), ${n} outputs`);
    if (layer.kind === 'maxpool') {
      out.push(`    signal a${l}[${n}];`);
      out.push(`    component mp${l}[${n}];`);
      for (let o = 0; o < n; o++) {
        if (!needed[l + 1].has(o)) continue;
        const window = poolWindow(layer, o);
        out.push(`    mp${l}[${o}] = MaxOfN(${window.length}, ${prevBits});`);
        window.forEach((i, k) => out.push(`    mp${l}[${o}].in[${k}] <== ${prev}[${i}];`));
        out.push(`    a${l}[${o}] <== mp${l}[${o}].out;`);
      }
    } else if (layer.requant) {
      const { shift, outBits, multipliers } = layer.requant;
      // A signed (linear) output: the offset 2^(shift+outBits-1) shifts the quotient by 2^(outBits-1), so
      // the gadget's unsigned clamp [0, 2^outBits) is the signed clamp moved up; the output moves it back.
      const half = (shift > 0 ? 2n ** BigInt(shift - 1) : 0n) + BigInt(lb.offset ?? 0);
      const back = lb.offset ? ` - ${2n ** BigInt(outBits - 1)}` : '';
      out.push(`    signal a${l}[${n}];`);
      out.push(`    component rq${l}[${n}];`);
      linearForms(layer).forEach(({ channel, bias, terms }, o) => {
        if (!needed[l + 1].has(o)) return;
        out.push(`    rq${l}[${o}] = RequantReluClamp(${shift}, ${lb.quotientBits}, ${outBits});`);
        out.push(...affineInto(bias, terms, sig));
        out.push(`    rq${l}[${o}].in <== acc * ${multipliers[channel]} + ${half};`);
        out.push(`    a${l}[${o}] <== rq${l}[${o}].out${back};`);
      });
    } else {
      if (!isLast) throw new ZkinferError('BAD_MODEL', `layer ${layer.name}: only the last layer may output raw accumulators`);
      linearForms(layer).forEach(({ bias, terms }, o) => out.push(...affineInto(bias, terms, sig), `    logits[${o}] <== acc;`));
    }
  });
  out.push('');
  out.push(`    // Logits lie in [-2^${bounds.logitBits - 1}, 2^${bounds.logitBits - 1}) by the static bounds.`);
  out.push(`    component best = ArgMax(${m}, ${bounds.logitBits});`);
  out.push(`    for (var j = 0; j < ${m}; j++) best.in[j] <== logits[j];`);
  out.push('    class <== best.index;');
  out.push('}');
  return out;
}

/** k copies of the inference template under one main, with the same public signals per item. */
function emitBatch(model: QuantizedModel, visibility: Visibility): string[] {
  const n = inputSize(model);
  const m = model.output.size;
  const privateInput = visibility.input === 'private';
  const out: string[] = [];
  out.push(`template ${BATCH_TEMPLATE}(k) {`);
  out.push(`    signal input x[k][${n}];`);
  if (privateInput) out.push('    signal input salt[k];');
  if (visibility.output === 'logits') out.push(`    signal output logits[k][${m}];`);
  out.push('    signal output class[k];');
  if (privateInput) out.push('    signal output inputCommitment[k];');
  out.push('    component item[k];');
  out.push('    for (var b = 0; b < k; b++) {');
  out.push(`        item[b] = ${MAIN_TEMPLATE}();`);
  out.push(`        for (var i = 0; i < ${n}; i++) item[b].x[i] <== x[b][i];`);
  if (privateInput) out.push('        item[b].salt <== salt[b];');
  if (visibility.output === 'logits') out.push(`        for (var j = 0; j < ${m}; j++) logits[b][j] <== item[b].logits[j];`);
  out.push('        class[b] <== item[b].class;');
  if (privateInput) out.push('        inputCommitment[b] <== item[b].inputCommitment;');
  out.push('    }');
  out.push('}');
  return out;
}

/**
 * A hand-written or edited quantized model must still have the shape every emitter assumes: a well-formed
 * layer graph and a last dense layer without requantization whose outputs are the logits. (Otherwise
 * circom would refuse it with an unassigned-signal error that names nothing the user wrote.)
 */
export function checkModelShape(model: QuantizedModel): void {
  const graphError = layerGraphError(model.layers, inputSize(model));
  if (graphError) throw new ZkinferError('BAD_MODEL', graphError);
  const last = model.layers[model.layers.length - 1];
  if (!last || last.kind !== 'dense' || last.requant !== null) {
    throw new ZkinferError(
      'BAD_MODEL',
      `the last layer${last ? ` (${last.name}, ${last.kind})` : ''} must be a dense layer without requantization: its accumulators are the logits`,
    );
  }
  if (last.outputSize !== model.output.size) throw new ZkinferError('BAD_MODEL', `output.size is ${model.output.size}, the last layer ${last.name} has ${last.outputSize} outputs`);
}

export function emitCircuit(model: QuantizedModel, batch = 1, visibility: Visibility = PUBLIC_VISIBILITY): EmittedCircuit {
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) {
    throw new ZkinferError('BAD_INPUT', `batch size must be an integer from 1 to ${MAX_BATCH} (got ${batch})`);
  }
  checkModelShape(model);
  if (visibility.weights === 'private') throw new ZkinferError('BAD_INPUT', 'private weights are emitted by src/weights/emit.ts (compileModel chooses it)');
  const bounds = modelBounds(model);
  const layout = publicLayout(model, batch, visibility);
  const out: string[] = [];
  out.push('// Generated by zkinfer from the quantized model; do not edit. Integer semantics: src/quantize/types.ts.');
  out.push('pragma circom 2.1.6;');
  out.push('');
  for (const lib of ['range', 'requantize', 'argmax', 'max', ...(visibility.input === 'private' ? ['commit'] : [])]) out.push(`include "${lib}.circom";`);
  out.push('');
  out.push(...emitInference(model, bounds, visibility));
  out.push('');
  const publicInputs = visibility.input === 'public' ? ' {public [x]}' : '';
  if (batch === 1) {
    out.push(`component main${publicInputs} = ${MAIN_TEMPLATE}();`);
  } else {
    out.push(...emitBatch(model, visibility));
    out.push('');
    out.push(`component main${publicInputs} = ${BATCH_TEMPLATE}(${batch});`);
  }
  out.push('');
  return { source: out.join('\n'), bounds, layout };
}
