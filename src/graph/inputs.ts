/**
 * Input and calibration files for a graph: JSON in one of three forms, checked value by value against the
 * graph's inputs so a bad file fails with one line naming the file, the field and what was expected.
 *
 *   [0.1, 0.2, ...]                          one input only: its values (nested arrays are flattened)
 *   {"x": [...], "mask": [[...], ...]}       every input by name
 *   {"input_data": [[...], [...]]}           EZKL's input.json: one array per input, in graph order
 *                                            (other keys such as input_shapes, output_data are ignored)
 *
 * Arrays are flattened row-major. A nested array must be rectangular and nested like the input's shape
 * (leading dimensions of 1, such as a batch of 1, are ignored on either side). Float inputs take finite
 * numbers, int inputs integers, bool inputs true/false or 0/1. The shapes given here are the ones values
 * are checked against: a batch dimension is dropped by the caller first.
 */
import { fail } from '../util/errors.js';
import { size, type ValueInfo } from './ir.js';

const EZKL_KEY = 'input_data';

/** Parse one input sample; `what` describes the file for errors (e.g. "input file in.json"). */
export function parseInputFile(json: unknown, inputs: ValueInfo[], what: string): Map<string, Float64Array> {
  return parseSample(json, inputs, what, '');
}

/**
 * Parse calibration data: an array of samples (each in any form parseInputFile accepts) or a single
 * sample. An array of arrays for a one-input graph is one sample when its values fill that input exactly
 * (a nested sample), otherwise a list of samples; the two readings agree whenever both fit.
 */
export function parseCalibrationFile(json: unknown, inputs: ValueInfo[], what: string): Array<Map<string, Float64Array>> {
  if (!Array.isArray(json)) return [parseSample(json, inputs, what, '')];
  if (json.length === 0) fail('BAD_INPUT', `${what}: the array of samples is empty, expected at least one sample`);
  // Values at the top level: one bare sample (walk reports any nesting or value error in it).
  if (!Array.isArray(json[0]) && !isObject(json[0])) return [parseSample(json, inputs, what, '')];
  if (inputs.length === 1 && json.every(Array.isArray) && countLeaves(json) === size(inputs[0].shape)) return [parseSample(json, inputs, what, '')];
  return json.map((sample, i) => parseSample(sample, inputs, what, `[${i}]`));
}

function parseSample(json: unknown, inputs: ValueInfo[], what: string, at: string): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  const names = inputs.map((i) => i.name);
  if (Array.isArray(json)) {
    if (inputs.length !== 1) {
      fail(
        'BAD_INPUT',
        `${what}: ${at ? `${at} is` : 'the file holds'} a bare array, which is only accepted for a model with one input; ` +
          `this model has ${inputs.length} (${names.join(', ') || 'none'}): expected {"${names[0] ?? 'name'}": [...], ...} or {"input_data": [[...], ...]}`,
      );
    }
    out.set(inputs[0].name, readInput(json, inputs[0], what, at));
    return out;
  }
  if (!isObject(json)) {
    fail('BAD_INPUT', `${what}: ${at ? `${at} is` : 'the file holds'} ${show(json)}, expected an array of values, an object naming each input, or {"input_data": [[...], ...]}`);
  }
  if (Object.hasOwn(json, EZKL_KEY) && !names.includes(EZKL_KEY)) {
    const rows = json[EZKL_KEY];
    const p = field(at, EZKL_KEY);
    if (!Array.isArray(rows)) fail('BAD_INPUT', `${what}: ${p} is ${show(rows)}, expected an array holding one array of values per input (${inputs.length})`);
    if (rows.length !== inputs.length) {
      fail('BAD_INPUT', `${what}: ${p} has ${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}, expected one array of values per input: ${inputs.length} (${names.join(', ')})`);
    }
    inputs.forEach((input, k) => {
      const row = rows[k];
      if (!Array.isArray(row)) fail('BAD_INPUT', `${what}: ${p}[${k}] is ${show(row)}, expected an array of values for ${describe(input)}`);
      out.set(input.name, readInput(row, input, what, `${p}[${k}]`));
    });
    return out;
  }
  for (const key of Object.keys(json)) {
    if (!names.includes(key)) {
      fail(
        'BAD_INPUT',
        `${what}: ${field(at, key)} names no input of the model, expected ${names.length ? `only ${names.map((n) => `'${n}'`).join(', ')}` : 'no inputs'}` +
          (names.length === 1 ? ' (or a bare array of values)' : ''),
      );
    }
  }
  for (const input of inputs) {
    if (!Object.hasOwn(json, input.name))
      fail('BAD_INPUT', `${what}: ${at ? `${at} ` : ''}has no field '${input.name}', expected a value for every input (${describe(input)} is missing)`);
    const v = json[input.name];
    // A scalar input may be given as a bare value.
    out.set(input.name, readInput(!Array.isArray(v) && input.shape.length === 0 ? [v] : v, input, what, field(at, input.name)));
  }
  return out;
}

/** Flatten and check one input's values; `at` is the field's path ('' for the whole file). */
function readInput(v: unknown, input: ValueInfo, what: string, at: string): Float64Array {
  const label = at || 'the array';
  if (!Array.isArray(v)) fail('BAD_INPUT', `${what}: ${label} is ${show(v)}, expected an array of ${size(input.shape)} values for ${describe(input)}`);
  const values: number[] = [];
  const dims = walk(v, at, input, what, values);
  const want = size(input.shape);
  if (values.length !== want) fail('BAD_INPUT', `${what}: ${label} has ${values.length} value${values.length === 1 ? '' : 's'}, expected ${want} for ${describe(input)}`);
  if (dims.length > 1 && !sameDims(stripOnes(dims), stripOnes(input.shape))) {
    fail('BAD_INPUT', `${what}: ${label} is nested as ${dims.join('x')}, expected the shape of ${describe(input)} or a flat array of ${want} values`);
  }
  return Float64Array.from(values);
}

/** Append the leaves of a rectangular nested array to `out`, returning its dimensions. */
function walk(v: unknown[], at: string, input: ValueInfo, what: string, out: number[]): number[] {
  if (v.length === 0) return [0];
  const nested = Array.isArray(v[0]);
  let inner: number[] = [];
  v.forEach((item, i) => {
    const p = `${at}[${i}]`;
    if (Array.isArray(item) !== nested) {
      fail('BAD_INPUT', `${what}: ${p} is ${nested ? show(item) : 'an array'} where ${at}[0] is ${nested ? 'an array' : 'a value'}, expected a rectangular nested array`);
    }
    if (!nested) {
      out.push(value(item, p, input, what));
      return;
    }
    const d = walk(item as unknown[], p, input, what, out);
    if (i === 0) inner = d;
    else if (!sameDims(d, inner)) {
      fail('BAD_INPUT', `${what}: ${p} is nested as ${d.join('x')} where ${at}[0] is ${inner.join('x')}, expected a rectangular nested array`);
    }
  });
  return [v.length, ...inner];
}

function value(v: unknown, p: string, input: ValueInfo, what: string): number {
  if (input.dtype === 'bool') {
    if (v === true || v === 1) return 1;
    if (v === false || v === 0) return 0;
    return fail('BAD_INPUT', `${what}: ${p} is ${show(v)}, expected true, false, 0 or 1 (${describe(input)})`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return fail('BAD_INPUT', `${what}: ${p} is ${show(v)}, expected a finite number (${describe(input)})`);
  if (input.dtype === 'int' && !Number.isSafeInteger(v)) return fail('BAD_INPUT', `${what}: ${p} is ${show(v)}, expected an integer (${describe(input)})`);
  return v;
}

function countLeaves(v: unknown): number {
  return Array.isArray(v) ? v.reduce((n: number, x) => n + countLeaves(x), 0) : 1;
}

function describe(input: ValueInfo): string {
  return `input '${input.name}' (${input.dtype}, shape [${input.shape.join(',')}])`;
}

/** `x`, `[2].x`, `"input.1"`, `[2]["input.1"]`: a field path as the user would look for it. */
function field(at: string, key: string): string {
  const ident = /^[A-Za-z_$][\w$]*$/.test(key);
  if (!at) return ident ? key : JSON.stringify(key);
  return ident ? `${at}.${key}` : `${at}[${JSON.stringify(key)}]`;
}

/** A value for an error message: JSON where JSON can say it, shortened to keep the message one line. */
function show(v: unknown): string {
  if (v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stripOnes(dims: readonly number[]): number[] {
  let k = 0;
  while (k < dims.length && dims[k] === 1) k++;
  return dims.slice(k);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
