import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildBn128 } from 'ffjavascript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../src/index.js';
import { loadStoredModel, manifestPath, storeModel } from '../src/prove/modelStore.js';
import { proveStored } from '../src/prove/stored.js';
import { randomInputs } from './helpers/models.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';

/** The model store: a prover finds a set-up model by id, also in a copy of the artifacts directory. */
let fx: VerifierFixture;
let copy: string;
beforeAll(async () => {
  fx = await buildVerifierFixture();
  await storeModel(fx.model, fx.artifactsDir);
  copy = path.join(await mkdtemp(path.join(os.tmpdir(), 'zkinfer-store-copy-')), 'moved');
  await cp(fx.artifactsDir, copy, { recursive: true });
}, 120_000);
afterAll(async () => {
  await rm(path.dirname(copy), { recursive: true, force: true });
  await (await buildBn128()).terminate();
});

describe('model store', () => {
  it('a copied artifacts directory proves by model id from its own files', async () => {
    const model = await loadStoredModel(fx.model.modelId, copy);
    expect(model.zkeyPath.startsWith(copy + path.sep)).toBe(true);
    expect(model.circuit.wasmPath.startsWith(copy + path.sep)).toBe(true);
    expect(model.modelId).toBe(fx.model.modelId);
    const input = randomInputs(1, 8, 8, 41)[0];
    const result = await verify(await proveStored(model, input), fx.model.key);
    expect(result.valid, result.reason).toBe(true);
    expect(result.output!.input).toEqual(input);
  }, 60_000);

  it('unknown ids are NOT_FOUND; a manifest whose key is not its id is BAD_MODEL; files outside the store are refused', async () => {
    await expect(loadStoredModel(fx.other.modelId, copy)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(loadStoredModel('nope', copy)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const file = manifestPath(fx.model.modelId, copy);
    const manifest = JSON.parse(await readFile(file, 'utf8')) as { model: { key: { model: { name: string } } } };
    manifest.model.key.model.name = 'tampered';
    await writeFile(file, JSON.stringify(manifest));
    await expect(loadStoredModel(fx.model.modelId, copy)).rejects.toThrow(/its key hashes to [0-9a-f]{64}, not/);
    await expect(storeModel(fx.model, copy)).rejects.toThrow(/outside the artifacts directory/);
  });

  it('refuses a linked model (its witness needs the link plan, which a manifest does not carry)', async () => {
    const linked = { ...fx.model, linked: {} } as unknown as typeof fx.model;
    await expect(storeModel(linked, fx.artifactsDir)).rejects.toThrow(/was linked .* cannot be filed for the prove server or queue yet/);
  });
});
