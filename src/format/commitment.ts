import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { FIELD_P } from '../circuit/witness.js';
import { ZkinferError } from '../util/errors.js';
import { hiddenPackageFile } from '../util/packageFile.js';

/**
 * Off-circuit twin of circuits/commit.circom: whoever holds an input and its salt (the opening) can check
 * that a proof's public input commitment is theirs, with circomlibjs's Poseidon.
 */
type Poseidon = ((inputs: bigint[]) => unknown) & { F: { toObject(x: unknown): bigint } };
let poseidon: Promise<Poseidon> | undefined;

/**
 * circomlibjs's optimised Poseidon, imported from its own file rather than the package entry: the entry
 * also loads eddsa and pedersen, whose `blake-hash` dependency is a native addon that corrupts the heap
 * when it is loaded in the main thread and in a worker thread that then exits ("free(): invalid pointer"
 * in the worker's Isolate teardown; every prover thread loads this module).
 */
async function buildPoseidonOpt(): Promise<Poseidon> {
  const file = hiddenPackageFile('circomlibjs', 'src', 'poseidon_opt.js');
  const mod = (await import(pathToFileURL(file).href)) as { default: () => Promise<Poseidon> };
  return mod.default();
}

/** A uniformly random field element: the blinding salt of one commitment. */
export function randomSalt(): bigint {
  // 40 random bytes reduced mod p: the bias is below 2^-60.
  return BigInt(`0x${randomBytes(40).toString('hex')}`) % FIELD_P;
}

export function packInputs(values: number[], bits: number): bigint[] {
  const per = Math.floor(248 / bits);
  const packed: bigint[] = [];
  for (let p = 0; p * per < values.length; p++) {
    let acc = 0n;
    for (let i = 0; i < per && p * per + i < values.length; i++) acc += BigInt(values[p * per + i]) << BigInt(bits * i);
    packed.push(acc);
  }
  return packed;
}

/** circomlib's Poseidon(inputs.length) of field elements. */
export async function poseidonHash(inputs: bigint[]): Promise<bigint> {
  poseidon ??= buildPoseidonOpt();
  const hash = await poseidon;
  return hash.F.toObject(hash(inputs));
}

export async function inputCommitment(values: number[], bits: number, salt: bigint): Promise<bigint> {
  const packed = packInputs(values, bits);
  let state = salt;
  for (let c = 0; c < packed.length; c += 15) state = await poseidonHash([state, ...packed.slice(c, c + 15)]);
  return state;
}

/**
 * A chain of commitments from a constant tag (both pipelines' private weights; circuits/commit.circom
 * TaggedSalt, then one PackedCommitment per group): state = Poseidon(tag, salt); per group, state =
 * inputCommitment(group, bits, state); the commitment is the final state.
 */
export async function chainCommitment(tag: bigint, salt: bigint, groups: ReadonlyArray<{ values: number[]; bits: number }>): Promise<bigint> {
  if (typeof salt !== 'bigint' || salt < 0n || salt >= FIELD_P) throw new ZkinferError('BAD_INPUT', 'the weights salt must be a field element in [0, p)');
  let state = await poseidonHash([tag, salt]);
  for (const g of groups) state = await inputCommitment(g.values, g.bits, state);
  return state;
}
