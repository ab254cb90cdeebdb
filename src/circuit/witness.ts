import { readFile } from 'node:fs/promises';
import { WitnessCalculatorBuilder, type WitnessCalculator } from 'circom_runtime';
import { ZkinferError } from '../util/errors.js';

export { FIELD_P, fieldToSigned, signedToField } from '../format/field.js';

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
