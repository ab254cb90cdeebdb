import { readFileSync } from 'node:fs';
import { keccak_256 } from '@noble/hashes/sha3';
import { render } from 'ejs';
import * as snarkjs from 'snarkjs';
import { parseBundle, type ProofBundle } from '../format/bundle.js';
import { modelIdOf, parseKey, type ZkinferKey } from '../format/key.js';
import { ZkinferError } from '../util/errors.js';
import { hiddenPackageFile } from '../util/packageFile.js';

/**
 * On-chain verification. snarkjs's `zkey export solidityverifier` only reads the verification key out of
 * the zkey and renders its Groth16 template with it, so we render the same template from the zkinfer key's
 * `vkey`: a verifier contract needs the public key alone, never the zkey or the weights.
 * The contract's `verifyProof(a, b, c, pubSignals)` returns true or false (it does not revert).
 */

let template: string | undefined;

/** snarkjs's own Groth16 template, from the installed snarkjs. */
export function groth16Template(): string {
  if (template === undefined) template = readFileSync(hiddenPackageFile('snarkjs', 'templates', 'verifier_groth16.sol.ejs'), 'utf8');
  return template;
}

export interface VerifierOptions {
  /** Solidity contract name (default snarkjs's `Groth16Verifier`). */
  contractName?: string;
  /** Prepend a comment naming the model, its public-signal layout and the setup (default true). */
  header?: boolean;
}

/** Where each kind of value sits in pubSignals, as [from, to) ranges; kinds a key does not expose are left out. */
function layoutLines(key: ZkinferKey): string[] {
  const l = key.publicSignals;
  const range = (what: string, from: number, count: number) => (count > 0 ? [`${what} [${from}, ${from + count})`] : []);
  return [
    `pubSignals (${l.total}) for a batch of ${l.batch}, input ${l.visibility.input}, output ${l.visibility.output}:`,
    ...range('logits as field elements (negative x = p - |x|)', l.logitsOffset, l.batch * l.logits),
    ...range('classes', l.classIndex, l.batch),
    ...(l.commitmentIndex >= 0 ? range('input commitments', l.commitmentIndex, l.batch) : []),
    ...(l.weightsCommitmentIndex !== undefined ? [`weights commitment = model id [${l.weightsCommitmentIndex}]`] : []),
    ...range('inputs', l.inputOffset, l.batch * l.inputs),
  ].map((line, i) => (i ? `  ${line}` : line));
}

/**
 * A private-weights key serves every model of its architecture: the contract checks the proof, and which
 * model ran is the proved weights commitment (src/format/modelId.ts), so the header says where it is.
 */
function modelLines(key: ZkinferKey): string[] {
  const w = key.publicSignals.weightsCommitmentIndex;
  const what = `${key.model.name}, ${key.model.constraints} constraints`;
  if (key.publicSignals.visibility.weights !== 'private' || w === undefined) return [`zkinfer verifier for model ${modelIdOf(key)} (${what}).`];
  return [
    `zkinfer verifier for private-weights key ${modelIdOf(key)} (${what}): any model of its architecture.`,
    `Model id: pubSignals[${w}], the weights commitment. A proof is for model <id> iff pubSignals[${w}] == 0x<id>;`,
    `check that index against the model you expect, or any weights of this architecture are accepted.`,
  ];
}

function headerComment(key: ZkinferKey): string {
  const lines = [...modelLines(key), ...layoutLines(key), `Setup: ptau ${key.setup.ptau.kind}, 2^${key.setup.ptau.power}; ${key.setup.phase2}.`];
  if (key.setup.ptau.insecure) lines.push('INSECURE: local single-party setup; whoever ran it can forge proofs. Do not deploy for value.');
  return `${lines.map((s) => `// ${s}`).join('\n')}\n`;
}

/** Solidity source of a Groth16 verifier contract for a zkinfer key (identical to snarkjs's without the header). */
export function solidityVerifier(keyValue: unknown, options: VerifierOptions = {}): string {
  const key = parseKey(keyValue);
  let source = render(groth16Template(), key.vkey);
  if (options.contractName !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.contractName)) {
      throw new ZkinferError('BAD_INPUT', `contract name ${JSON.stringify(options.contractName)} is not a Solidity identifier`);
    }
    source = source.replace('contract Groth16Verifier {', `contract ${options.contractName} {`);
  }
  if (options.header ?? true) source = source.replace(/^pragma solidity/m, `${headerComment(key)}pragma solidity`);
  return source;
}

/**
 * Rough runtime-code size of the verifier: snarkjs's template unrolls one field check and one ecMul/ecAdd
 * with two 32-byte constants per public signal. Fitted to solc 0.8.37 (optimizer, 200 runs) output:
 * 12 signals -> 2,382 bytes, 795 signals (MNIST) -> 79,931 bytes. EIP-170 allows 24,576, i.e. ~236 signals.
 */
export function estimateVerifierRuntimeBytes(nPublic: number): number {
  return Math.round(1194 + 99 * nPublic);
}

export const EIP170_CODE_LIMIT = 24_576;

/** The arguments of `verifyProof`, as decimal strings; `b`'s coordinate pairs are swapped for the EVM precompile. */
export interface VerifierCallArgs {
  a: [string, string];
  b: [[string, string], [string, string]];
  c: [string, string];
  pubSignals: string[];
}

export function verifierCallArgs(bundleValue: unknown): VerifierCallArgs {
  const { proof, publicSignals }: ProofBundle = parseBundle(bundleValue);
  return {
    a: [proof.pi_a[0], proof.pi_a[1]],
    b: [
      [proof.pi_b[0][1], proof.pi_b[0][0]],
      [proof.pi_b[1][1], proof.pi_b[1][0]],
    ],
    c: [proof.pi_c[0], proof.pi_c[1]],
    pubSignals: [...publicSignals],
  };
}

/** snarkjs's calldata string (`[a],[[b]],[c],[pubSignals]`, hex literals), as pasted into Remix or a script. */
export async function solidityCallData(bundleValue: unknown): Promise<string> {
  const { proof, publicSignals } = parseBundle(bundleValue);
  return snarkjs.groth16.exportSolidityCallData(proof, publicSignals);
}

export function verifyProofSignature(nPublic: number): string {
  return `verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[${nPublic}])`;
}

function word(decimal: string, what: string): string {
  const hex = BigInt(decimal).toString(16);
  if (hex.length > 64) throw new ZkinferError('BAD_BUNDLE', `malformed proof bundle: ${what} does not fit in a uint256`);
  return hex.padStart(64, '0');
}

/**
 * ABI-encoded `verifyProof` call data (0x-prefixed hex), ready for eth_call or a transaction. All four
 * arguments are fixed-size arrays, so the encoding is the selector followed by one 32-byte word per number.
 */
export function encodeVerifyProofCall(bundleValue: unknown): string {
  const args = verifierCallArgs(bundleValue);
  const selector = Buffer.from(keccak_256(verifyProofSignature(args.pubSignals.length)))
    .subarray(0, 4)
    .toString('hex');
  const words = [
    ...args.a.map((v, i) => word(v, `proof.pi_a[${i}]`)),
    ...args.b.flatMap((pair, i) => pair.map((v, j) => word(v, `proof.pi_b[${i}][${1 - j}]`))),
    ...args.c.map((v, i) => word(v, `proof.pi_c[${i}]`)),
    ...args.pubSignals.map((v, i) => word(v, `publicSignals[${i}]`)),
  ];
  return `0x${selector}${words.join('')}`;
}
