import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Address } from '@ethereumjs/util';
import { buildBn128 } from 'ffjavascript';
import * as snarkjs from 'snarkjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_P } from '../src/circuit/witness.js';
import type { ProofBundle } from '../src/format/bundle.js';
import { ZkinferError } from '../src/util/errors.js';
import {
  encodeVerifyProofCall,
  estimateVerifierRuntimeBytes,
  groth16Template,
  solidityCallData,
  solidityVerifier,
  verifierCallArgs,
  verifyProofSignature,
} from '../src/verify/solidity.js';
import { compileSolidity, createChain, EIP170_CODE_LIMIT, intrinsicGas, type Chain, type CompiledContract } from './helpers/evm.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';

/**
 * The on-chain verifier: rendered from the zkinfer key alone, compiled with solc-js, deployed in an
 * in-process EVM, and called with real and tampered proofs.
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
let fx: VerifierFixture;
let contract: CompiledContract;
let chain: Chain;
let verifier: Address;

beforeAll(async () => {
  fx = await buildVerifierFixture();
  contract = compileSolidity(solidityVerifier(fx.model.key), 'Groth16Verifier');
  chain = await createChain();
  verifier = await chain.deploy(contract.bytecode);
});

afterAll(async () => {
  await (await buildBn128()).terminate();
});

async function callVerifier(bundle: ProofBundle): Promise<{ result: boolean; gasUsed: bigint; data: string }> {
  const data = encodeVerifyProofCall(bundle);
  const { returnHex, gasUsed, error } = await chain.call(verifier, data);
  expect(error, 'verifyProof must return, not revert').toBeUndefined();
  expect(returnHex).toMatch(/^0{63}[01]$/); // an ABI bool
  return { result: returnHex.endsWith('1'), gasUsed, data };
}

describe('Solidity verifier from the key alone', () => {
  it('is exactly what snarkjs exports from the zkey (before our header comment)', async () => {
    const fromZkey = await snarkjs.zKey.exportSolidityVerifier(fx.model.zkeyPath, { groth16: groth16Template() });
    expect(solidityVerifier(fx.model.key, { header: false })).toBe(fromZkey);
    const withHeader = solidityVerifier(fx.model.key);
    expect(withHeader).toContain(`// zkinfer verifier for model ${fx.model.modelId}`);
    expect(withHeader).toContain('INSECURE');
  });

  it('compiles with solc-js; the ABI selector matches our encoder', () => {
    const signature = verifyProofSignature(fx.model.key.publicSignals.total);
    expect(contract.methodIdentifiers).toEqual({ [signature]: encodeVerifyProofCall(fx.bundle).slice(2, 10) });
    const runtime = contract.deployedBytecode.length / 2;
    console.log(`verifier (${fx.model.key.publicSignals.total} public signals): ${runtime} bytes runtime code, solc ${contract.solcVersion}`);
    expect(runtime).toBeLessThan(EIP170_CODE_LIMIT);
    expect(Math.abs(estimateVerifierRuntimeBytes(fx.model.key.publicSignals.total) - runtime) / runtime).toBeLessThan(0.15);
  });

  it('takes a contract name and refuses one that is not an identifier', () => {
    expect(solidityVerifier(fx.model.key, { contractName: 'DigitVerifier' })).toMatch(/\ncontract DigitVerifier \{/);
    expect(() => solidityVerifier(fx.model.key, { contractName: 'Bad Name;' })).toThrow(ZkinferError);
    expect(() => solidityVerifier({ ...fx.model.key, vkey: { ...fx.model.key.vkey, IC: [] } })).toThrow(/malformed verification key/);
  });

  it("a private-weights key's header names the public signal that is the model id", () => {
    // The fixture's key laid out as privateWeightsLayout (src/weights/emit.ts) does it: the weights
    // commitment right before the inputs, one more public signal (and IC point).
    const key = structuredClone(fx.model.key);
    const l = key.publicSignals;
    const w = l.inputOffset;
    Object.assign(l, { visibility: { ...l.visibility, weights: 'private' }, weightsCommitmentIndex: w, inputOffset: w + 1, total: l.total + 1 });
    key.vkey.nPublic += 1;
    key.vkey.IC.splice(w + 1, 0, key.vkey.IC[0]);
    const header = solidityVerifier(key).split('pragma solidity')[0];
    expect(header).toContain(`// Model id: pubSignals[${w}], the weights commitment.`);
    expect(header).toContain(`weights commitment = model id [${w}]`);
    expect(header).toContain(`inputs [${w + 1}, ${w + 1 + l.inputs})`);
    expect(header).toMatch(/private-weights key [0-9a-f]{64} .*any model of its architecture/);
    // A constant-weights key has no such line: its model id is the key's own hash.
    expect(solidityVerifier(fx.model.key)).not.toContain('Model id: pubSignals');
  });
});

describe('verifyProof in an in-process EVM', () => {
  it('returns true for a real proof (and reports its gas)', async () => {
    const { result, gasUsed, data } = await callVerifier(fx.bundle);
    expect(result).toBe(true);
    console.log(
      `verifyProof gas: ${gasUsed} execution, ${gasUsed + BigInt(intrinsicGas(data))} with the transaction's intrinsic gas (${fx.model.key.publicSignals.total} public signals)`,
    );
  });

  it('returns false for a tampered proof point, public signal or a non-canonical signal', async () => {
    const tampers: Array<[string, (b: ProofBundle) => void]> = [
      ['pi_a + 1 (off the curve)', (b) => (b.proof.pi_a[0] = (BigInt(b.proof.pi_a[0]) + 1n).toString())],
      ['pi_c := alpha (on the curve, wrong)', (b) => (b.proof.pi_c = [...fx.model.key.vkey.vk_alpha_1])],
      ['input pixel + 1', (b) => (b.publicSignals[fx.model.layout.inputOffset] = String((Number(b.publicSignals[fx.model.layout.inputOffset]) + 1) % 256))],
      ['class changed', (b) => (b.publicSignals[fx.model.layout.classIndex] = String((Number(b.publicSignals[fx.model.layout.classIndex]) + 1) % 3))],
      ['signal + p (same residue)', (b) => (b.publicSignals[0] = (BigInt(b.publicSignals[0]) + FIELD_P).toString())],
    ];
    for (const [what, tamper] of tampers) {
      const bad = structuredClone(fx.bundle);
      tamper(bad);
      expect((await callVerifier(bad)).result, what).toBe(false);
    }
  });
});

describe('call data', () => {
  it("snarkjs's calldata string and our ABI encoding carry the same numbers", async () => {
    const literal = JSON.parse(`[${await solidityCallData(fx.bundle)}]`) as unknown;
    const toDecimal = (v: unknown): unknown => (Array.isArray(v) ? v.map(toDecimal) : BigInt(v as string).toString());
    const args = verifierCallArgs(fx.bundle);
    expect(toDecimal(literal)).toEqual([args.a, args.b, args.c, args.pubSignals]);
    const words = encodeVerifyProofCall(fx.bundle)
      .slice(10)
      .match(/.{64}/g)!
      .map((w) => BigInt(`0x${w}`).toString());
    expect(words).toEqual([...args.a, ...args.b.flat(), ...args.c, ...args.pubSignals]);
  });

  it('refuses a malformed bundle or a number that does not fit a uint256', async () => {
    await expect(solidityCallData({ ...fx.bundle, proof: undefined })).rejects.toThrow(/malformed proof bundle: proof/);
    const huge = { ...structuredClone(fx.bundle), publicSignals: ['1'.repeat(80), ...fx.bundle.publicSignals.slice(1)] };
    expect(() => encodeVerifyProofCall(huge)).toThrow(/publicSignals\[0\] does not fit in a uint256/);
  });

  it('CLI: export-verifier and export-calldata write what the library returns', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-sol-cli-'));
    const keyFile = path.join(fx.keysDir, `${fx.model.modelId}.json`);
    const bundleFile = path.join(dir, 'proof.json');
    await writeFile(bundleFile, JSON.stringify(fx.bundle));
    const cli = (...args: string[]) => run(process.execPath, [path.join(root, 'bin', 'zkinfer.js'), ...args], { cwd: root });
    await cli('export-verifier', '--key', keyFile, '-o', path.join(dir, 'Verifier.sol'));
    expect(await readFile(path.join(dir, 'Verifier.sol'), 'utf8')).toBe(solidityVerifier(fx.model.key));
    const { stdout } = await cli('export-calldata', bundleFile, '--abi');
    expect(stdout.trim()).toBe(encodeVerifyProofCall(fx.bundle));
    const missing = await cli('export-verifier', '--key', path.join(dir, 'nope.json'), '-o', path.join(dir, 'x.sol')).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/cannot read verification key .*nope\.json: ENOENT/) });
  });
});
