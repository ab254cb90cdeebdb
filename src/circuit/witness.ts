import { readFile } from 'node:fs/promises';
import { WitnessCalculatorBuilder, type WitnessCalculator } from 'circom_runtime';
import { ZkinferError } from '../util/errors.js';

/** BN254 scalar field modulus: every signal is an element of this field. */
export const FIELD_P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** Decode a field element as a signed integer (values above p/2 stand for negatives). */
export function fieldToSigned(v: bigint | string): bigint {
  const x = typeof v === 'string' ? BigInt(v) : v;
  return x > FIELD_P / 2n ? x - FIELD_P : x;
}

export function signedToField(v: bigint | number): bigint {
  const x = BigInt(v);
  return ((x % FIELD_P) + FIELD_P) % FIELD_P;
}

const calculators = new Map<string, Promise<WitnessCalculator>>();

/** Witness calculators are compiled once per wasm file and reused (loading one costs ~100 ms). */
export function witnessCalculator(wasmPath: string): Promise<WitnessCalculator> {
  let wc = calculators.get(wasmPath);
  if (!wc) {
    wc = readFile(wasmPath).then((code) => WitnessCalculatorBuilder(code, { sanityCheck: true }));
    calculators.set(wasmPath, wc);
    wc.catch(() => calculators.delete(wasmPath));
  }
  return wc;
}

/**
 * Turn a failed witness computation (an `===` or assert the input violates) into a clear error. The
 * calculator is dropped from the cache: circom_runtime appends every failure to one message buffer that
 * it never resets, so a reused calculator would report an earlier failure first.
 */
function witnessError(wasmPath: string, err: unknown): ZkinferError {
  calculators.delete(wasmPath);
  const msg = String((err as Error)?.message ?? err).split('\n')[0];
  return new ZkinferError('BAD_INPUT', `the circuit rejected the input: ${msg}`);
}

/** Full witness as bigints: [1, outputs..., public inputs..., private inputs..., internal signals...]. */
export async function computeWitness(wasmPath: string, input: Record<string, unknown>): Promise<bigint[]> {
  const wc = await witnessCalculator(wasmPath);
  try {
    return await wc.calculateWitness(input, true);
  } catch (err) {
    throw witnessError(wasmPath, err);
  }
}

/** Witness in snarkjs's .wtns binary format, in memory, ready for groth16.prove. */
export async function computeWitnessBin(wasmPath: string, input: Record<string, unknown>): Promise<Uint8Array> {
  const wc = await witnessCalculator(wasmPath);
  try {
    return await wc.calculateWTNSBin(input, true);
  } catch (err) {
    throw witnessError(wasmPath, err);
  }
}
