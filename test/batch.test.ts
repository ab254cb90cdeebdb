import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, proveBatch, runQuantized, verify, type CompiledModel, type ProofBundle } from '../src/index.js';
import { loadTfjsLayersModel } from '../src/model/tfjsLayers.js';
import { ZkinferError } from '../src/util/errors.js';
import { randomFloatModel, randomInputs, writeTfjsModel } from './helpers/models.js';

/** Batch proofs: one Groth16 proof for k inferences, each item decoded and checked. */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
let dir: string;
let modelJson: string;
let calibration: string;
let model: CompiledModel;
let bundle: ProofBundle;
const inputs = [...randomInputs(2, 10, 8, 41), new Array(10).fill(0), new Array(10).fill(255)];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-batch-'));
  modelJson = await writeTfjsModel(path.join(dir, 'model'), randomFloatModel([10, 6, 3], 40, 'batchy'));
  calibration = path.join(dir, 'calibration.json');
  await writeFile(calibration, JSON.stringify(randomInputs(30, 10, 8, 42)));
  model = await buildModel(modelJson, { calibrationFile: calibration, artifactsDir: dir, batch: 4 });
  bundle = await proveBatch(model, inputs);
});

describe('batch proofs', () => {
  it('imports the written tfjs model faithfully', async () => {
    const float = await loadTfjsLayersModel(modelJson);
    expect(float.layers.map((l) => (l.kind === 'dense' ? [l.inputSize, l.outputSize, l.activation] : [l.kind]))).toEqual([
      [10, 6, 'relu'],
      [6, 3, 'linear'],
    ]);
  });

  it('proves 4 inferences in one proof; every item equals the reference and verifies', async () => {
    expect(model.layout.batch).toBe(4);
    expect(bundle.items).toHaveLength(4);
    bundle.items!.forEach((p, b) => {
      const ref = runQuantized(model.qmodel, inputs[b]);
      expect(p.class).toBe(ref.predicted);
      expect(p.logits).toEqual(ref.logits.map(String));
    });
    const result = await verify(bundle, model.key);
    expect(result.valid).toBe(true);
    expect(result.output!.items.map((i) => i.input)).toEqual(inputs);
  });

  it("rejects a change to one item's input or class, and a bundle whose item list was edited", async () => {
    const l = model.layout;
    for (const index of [l.inputOffset + 2 * l.inputs + 3, l.classIndex + 3]) {
      const bad = structuredClone(bundle);
      bad.publicSignals[index] = String(BigInt(bad.publicSignals[index]) ^ 1n);
      expect((await verify(bad, model.key)).valid).toBe(false);
    }
    const dropped = structuredClone(bundle);
    delete dropped.items;
    expect((await verify(dropped, model.key)).reason).toMatch(/differs from the proved output/);
    const swapped = structuredClone(bundle);
    swapped.items = [swapped.items![1], swapped.items![0], swapped.items![2], swapped.items![3]];
    expect(bundle.items![1].logits).not.toEqual(bundle.items![0].logits);
    expect((await verify(swapped, model.key)).valid).toBe(false);
  });

  it('names the wrong batch size and the bad item', async () => {
    const wrongSize = await proveBatch(model, inputs.slice(1)).catch((e: unknown) => e);
    expect(wrongSize).toBeInstanceOf(ZkinferError);
    expect((wrongSize as Error).message).toMatch(/batches of 4 inputs; got 3/);
    const badItem = await proveBatch(model, [inputs[0], inputs[1], [...inputs[2].slice(1), 300], inputs[3]]).catch((e: unknown) => e);
    expect((badItem as Error).message).toMatch(/batch item 2: input\[9\] = 300 is out of range/);
  });

  it('zkinfer prove --batch writes one bundle that zkinfer verify accepts', async () => {
    const batchFile = path.join(dir, 'batch.json');
    await writeFile(batchFile, JSON.stringify(inputs.slice(0, 2)));
    const out = path.join(dir, 'batch-proof.json');
    const cli = path.join(root, 'bin', 'zkinfer.js');
    const args = ['--model', modelJson, '--calibration', calibration, '--artifacts', dir, '-q'];
    const proved = await run(process.execPath, [cli, 'prove', '--batch', batchFile, '-o', out, ...args]);
    expect(proved.stdout).toMatch(/classes\s+\d, \d\nproof written to .* \(2 inferences\)/);
    const written = JSON.parse(await readFile(out, 'utf8')) as ProofBundle;
    expect(written.items).toHaveLength(2);
    const verified = await run(process.execPath, [cli, 'verify', out, '--artifacts', dir]);
    expect(verified.stdout).toMatch(/^VALID: .* predicts classes \d, \d/);
  });
});
