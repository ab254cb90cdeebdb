import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, compileModel, prove, quantizeModel, runQuantized, setupModel, verify, type CompiledModel, type ProofBundle } from '../src/index.js';
import { computeWitness, fieldToSigned, FIELD_P } from '../src/circuit/witness.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { keyRegistryDir } from '../src/setup/index.js';
import { randomFloatModel, randomInputs } from './helpers/models.js';

/**
 * The foundation's end-to-end properties on the bundled MNIST model, built from scratch in a fresh
 * artifacts directory: circuit == reference, proofs verify, tampering of any part is rejected.
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
let artifacts: string;
let mnist: CompiledModel;
let small: CompiledModel;
let bundle: ProofBundle;
const test = loadMnistSplit().test;

beforeAll(async () => {
  artifacts = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-pipeline-'));
  mnist = await buildModel('mlp', { artifactsDir: artifacts });
  const floatSmall = randomFloatModel([12, 6, 4], 7, 'small');
  const qSmall = quantizeModel(floatSmall, randomInputs(40, 12, 8, 8), { inputBits: 8, inputScale: 1 / 255 });
  small = await setupModel(await compileModel(qSmall, { artifactsDir: artifacts }), { artifactsDir: artifacts });
  bundle = await prove(mnist, test[1].pixels);
});

describe('bundled MNIST model', () => {
  it('stays under the constraint budget', () => {
    expect(mnist.circuit.constraints).toBeGreaterThan(784 * 8); // the input range checks alone
    expect(mnist.circuit.constraints).toBeLessThan(10_000);
  });

  it('computes exactly runQuantized on 24 held-out digits (logits and class)', async () => {
    const { logitsOffset, logits, classIndex } = mnist.layout;
    for (const sample of test.slice(0, 24)) {
      const witness = await computeWitness(mnist.circuit.wasmPath, { x: Array.from(sample.pixels) });
      const ref = runQuantized(mnist.qmodel, sample.pixels);
      // Witness layout: [1, outputs..., inputs...]; public signal k is witness k + 1.
      const circuitLogits = witness.slice(1 + logitsOffset, 1 + logitsOffset + logits).map((v) => Number(fieldToSigned(v)));
      expect(circuitLogits).toEqual(ref.logits);
      expect(Number(witness[1 + classIndex])).toBe(ref.predicted);
    }
  });

  it('proves a digit and the proof verifies with the key alone', async () => {
    expect(bundle.prediction.class).toBe(runQuantized(mnist.qmodel, test[1].pixels).predicted);
    const result = await verify(JSON.parse(JSON.stringify(bundle)), mnist.key);
    expect(result.valid).toBe(true);
    expect(result.output?.prediction.class).toBe(bundle.prediction.class);
    expect(result.output?.input).toEqual(Array.from(test[1].pixels));
  });

  it('rejects a changed proof element', async () => {
    for (const tamper of [
      (b: ProofBundle) => (b.proof.pi_a[0] = (BigInt(b.proof.pi_a[0]) + 1n).toString()),
      (b: ProofBundle) => (b.proof.pi_c = [...mnist.key.vkey.vk_alpha_1]),
      (b: ProofBundle) => ([b.proof.pi_b[0][0], b.proof.pi_b[0][1]] = [b.proof.pi_b[0][1], b.proof.pi_b[0][0]]),
    ]) {
      const bad = structuredClone(bundle);
      tamper(bad);
      const result = await verify(bad, mnist.key);
      expect(result.valid).toBe(false);
      expect(result.reason).toMatch(/proof/);
    }
  });

  it('rejects a changed public signal: an input pixel, a logit, the class', async () => {
    const { inputOffset, logitsOffset, classIndex } = mnist.layout;
    for (const index of [inputOffset + 300, logitsOffset + 2, classIndex]) {
      const bad = structuredClone(bundle);
      bad.publicSignals[index] = ((BigInt(bad.publicSignals[index]) + 1n) % FIELD_P).toString();
      const result = await verify(bad, mnist.key);
      expect(result.valid).toBe(false);
    }
    // The same value plus p is the same field element: rejected as non-canonical, not silently accepted.
    const alias = structuredClone(bundle);
    alias.publicSignals[inputOffset] = (BigInt(alias.publicSignals[inputOffset]) + FIELD_P).toString();
    expect((await verify(alias, mnist.key)).reason).toMatch(/canonical/);
  });

  it('rejects a prediction field that disagrees with the proved output', async () => {
    const bad = structuredClone(bundle);
    bad.prediction.class = (bad.prediction.class! + 1) % 10;
    const result = await verify(bad, mnist.key);
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/differs from the proved output/);
  });

  it("rejects another model's key, even with the bundle's model id rewritten", async () => {
    expect((await verify(bundle, small.key)).valid).toBe(false);
    const relabeled = { ...structuredClone(bundle), modelId: small.modelId };
    const result = await verify(relabeled, small.key);
    expect(result.valid).toBe(false);
  });

  it('rejects a proof from another model presented with a forged key for this model id', async () => {
    const smallBundle = await prove(small, randomInputs(1, 12, 8, 99)[0]);
    expect((await verify(smallBundle, small.key)).valid).toBe(true);
    // Swap in the small model's vkey under the MNIST key's metadata: the id no longer matches.
    const forgedKey = { ...mnist.key, vkey: small.key.vkey };
    expect((await verify({ ...smallBundle, modelId: mnist.modelId }, forgedKey).catch((e: Error) => ({ valid: false, reason: e.message }))).valid).toBe(false);
  });
});

describe('CLI contract', () => {
  const cli = (...args: string[]) =>
    run(process.execPath, [path.join(root, 'bin', 'zkinfer.js'), ...args], { cwd: root }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('verify exits 0 for a valid bundle (key found by model id) and non-zero with a reason otherwise', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-cli-'));
    const good = path.join(dir, 'proof.json');
    await writeFile(good, JSON.stringify(bundle));
    const ok = await cli('verify', good, '--artifacts', artifacts);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^VALID/);

    const tampered = structuredClone(bundle);
    tampered.publicSignals[mnist.layout.inputOffset + 10] = '255';
    tampered.publicSignals[mnist.layout.inputOffset + 11] = '254';
    await writeFile(path.join(dir, 'bad.json'), JSON.stringify(tampered));
    const bad = await cli('verify', path.join(dir, 'bad.json'), '--artifacts', artifacts);
    expect(bad.code).toBe(1);
    expect(bad.stdout.trim().split('\n')).toHaveLength(1);
    expect(bad.stdout).toMatch(/^INVALID: /);

    await writeFile(path.join(dir, 'broken.json'), '{"format": "zkinfer-proof", ');
    const broken = await cli('verify', path.join(dir, 'broken.json'), '--artifacts', artifacts);
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/not valid JSON/);

    const keyFile = path.join(keyRegistryDir(artifacts), `${mnist.modelId}.json`);
    const withKey = await cli('verify', good, '--key', keyFile);
    expect(withKey.code).toBe(0);
    const wrongKey = await cli('verify', good, '--key', path.join(keyRegistryDir(artifacts), `${small.modelId}.json`));
    expect(wrongKey.code).toBe(1);
    expect(JSON.parse(await readFile(keyFile, 'utf8')).vkey.protocol).toBe('groth16');
  });
});
