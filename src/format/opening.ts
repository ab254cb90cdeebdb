import { ZkinferError } from '../util/errors.js';
import { FIELD_P } from './field.js';
import type { ZkinferKey } from './key.js';

/**
 * An opening of a private-input commitment (what `zkinfer prove --private-input` writes next to the
 * bundle): the input integers and the salt. Validated against the key before anything is hashed, because
 * packing is injective only on in-range values: pixels 256 and -1 would pack to the same field element as
 * an honest 0 and 255, a salt + p hashes like the salt, and 800 values would pad a 784-value commitment.
 * Shape: { input: number[], salt: decimal string, commitment?: string } (src/prove/index.ts Opening).
 */
const DECIMAL = /^(0|[1-9]\d*)$/;

/** Each input element's integer range [lo, hi], as the circuit range-checks it. */
function inputRanges(key: ZkinferKey): Array<[number, number]> {
  const n = key.model.inputShape.reduce((a, b) => a * b, 1);
  if (!key.model.inputs) return Array.from({ length: n }, () => [0, 2 ** key.model.inputBits - 1]);
  return key.model.inputs.flatMap((i) => Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, (): [number, number] => [i.lo, i.hi]));
}

/**
 * The values the commitment packs for opening `index` (each input minus its range's low end, so every
 * value is in [0, 2^inputBits)) and its salt, or a BAD_INPUT error naming the first bad field.
 */
export function openingCommitmentValues(key: ZkinferKey, value: unknown, index: number): { values: number[]; bits: number; salt: bigint } {
  const bad = (what: string) => new ZkinferError('BAD_INPUT', `opening[${index}].${what}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('(root): expected {"input": [...], "salt": "..."}');
  const extra = Object.keys(value).find((k) => k !== 'input' && k !== 'salt' && k !== 'commitment');
  if (extra !== undefined) throw bad(`${extra}: unknown field`);
  const { input, salt } = value as { input?: unknown; salt?: unknown };
  const ranges = inputRanges(key);
  if (!Array.isArray(input)) throw bad('input: expected an array of integers');
  if (input.length !== ranges.length) throw bad(`input: has ${input.length} values, the key's input has ${ranges.length}`);
  const values = input.map((v: unknown, k) => {
    const [lo, hi] = ranges[k];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`input[${k}]: expected an integer, got ${JSON.stringify(v)}`);
    if (v < lo || v > hi) throw bad(`input[${k}]: ${v} is out of the input range [${lo}, ${hi}]`);
    return v - lo;
  });
  if (typeof salt !== 'string' || !DECIMAL.test(salt)) throw bad('salt: expected a canonical decimal integer string');
  const s = BigInt(salt);
  if (s >= FIELD_P) throw bad('salt: not a canonical field element (>= p)');
  return { values, bits: key.model.inputBits, salt: s };
}
