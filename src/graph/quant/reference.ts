/**
 * The TypeScript reference of an integer program: the same primitives as the circuit (prims.ts), run on
 * integers. The prover checks the circuit's public outputs against it; tests check every signal.
 */
import { fail } from '../../util/errors.js';
import { size } from '../ir.js';
import { evalForm, evalPrim } from './prims.js';
import type { QProgram, Sample } from './lower.js';

/** Graph inputs in their own units -> the circuit's input integers, concatenated in graph order (a key's `model.inputs` will do for `program.inputs`). */
export function quantizeInputs(program: { inputs: ReadonlyArray<Omit<QProgram['inputs'][number], 'first'>> }, sample: Sample): number[] {
  const out: number[] = [];
  for (const input of program.inputs) {
    const data = sample.get(input.name);
    if (!data) fail('BAD_INPUT', `no value for input '${input.name}'`);
    if (data.length !== size(input.shape)) fail('BAD_INPUT', `input '${input.name}' has ${data.length} values, expected ${size(input.shape)} (shape [${input.shape}])`);
    data.forEach((v, i) => {
      if (!Number.isFinite(v)) fail('BAD_INPUT', `input '${input.name}'[${i}] is ${v}, not a finite number`);
      if (input.dtype !== 'float' && !Number.isInteger(v)) fail('BAD_INPUT', `input '${input.name}'[${i}] is ${v}, expected an integer (${input.dtype} input)`);
      const q = input.dtype === 'float' ? Math.round(v / input.scale) : v;
      if (q < input.lo || q > input.hi) {
        const range = input.dtype === 'float' ? `[${input.lo * input.scale}, ${input.hi * input.scale}]` : `[${input.lo}, ${input.hi}]`;
        fail('BAD_INPUT', `input '${input.name}'[${i}] = ${v} is outside the range ${range} the circuit was built for (recalibrate, or set --input-scale/--input-bits)`);
      }
      out.push(q);
    });
  }
  return out;
}

/**
 * Every signal's value for the given input integers (inputs first, private weights, then each primitive's
 * output). `weights`: another weight set for a private-weights program, one integer array per tensor.
 */
export function runSignals(program: QProgram, x: number[], weights?: number[][]): number[] {
  const s = new Array<number>(program.signals.length);
  let k = 0;
  for (const input of program.inputs) for (let i = 0; i < size(input.shape); i++) s[input.first + i] = x[k++];
  (program.weights ?? []).forEach((w, t) => (weights?.[t] ?? w.values).forEach((v, i) => (s[w.first + i] = v)));
  for (const p of program.prims) s[p.out] = evalPrim(p, s);
  return s;
}

/** The integer outputs, concatenated in graph order (what the circuit makes public). */
export function runProgram(program: QProgram, x: number[], weights?: number[][]): number[] {
  const s = runSignals(program, x, weights);
  return program.outputs.flatMap((o) => o.elems.map((f) => evalForm(f, s)));
}

/** Integer outputs back to real numbers, per graph output. */
export function dequantizeOutputs(program: QProgram, ints: number[]): Array<{ name: string; shape: number[]; values: number[] }> {
  let k = 0;
  return program.outputs.map((o) => {
    const values = o.elems.map(() => ints[k++] * o.scale);
    return { name: o.name, shape: o.shape, values };
  });
}
