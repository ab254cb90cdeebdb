import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildBn128 } from 'ffjavascript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZkinferError, type ProofBundle } from '../src/index.js';
import { createKeyRegistry, loadKeyRegistry, verifyWithRegistry as verifyBundle, type KeyRegistry } from '../src/verify/registry.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';

/** The key registry: loads a directory once, indexes by real model id, refuses broken files loudly. */
let fx: VerifierFixture;
let registry: KeyRegistry;

beforeAll(async () => {
  fx = await buildVerifierFixture();
  registry = await loadKeyRegistry(fx.keysDir);
});

afterAll(async () => {
  await (await buildBn128()).terminate();
});

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'zkinfer-registry-'));
}

async function loadError(dir: string): Promise<ZkinferError> {
  const err = await loadKeyRegistry(dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ZkinferError);
  return err as ZkinferError;
}

describe('loadKeyRegistry', () => {
  it('indexes every key of a directory by its model id', () => {
    expect([...registry.keys.keys()].sort()).toEqual([fx.model.modelId, fx.other.modelId].sort());
    expect(registry.keys.get(fx.model.modelId)?.key).toEqual(fx.model.key);
    expect(registry.keys.get(fx.model.modelId)?.source).toBe(path.join(fx.keysDir, `${fx.model.modelId}.json`));
  });

  it('accepts a file not named after its id (indexed by the real id), a duplicate once, and ignores non-JSON files', async () => {
    const dir = await tempDir();
    await copyFile(path.join(fx.keysDir, `${fx.model.modelId}.json`), path.join(dir, 'mnist-prod.json'));
    await copyFile(path.join(fx.keysDir, `${fx.model.modelId}.json`), path.join(dir, 'copy.json'));
    // A file named after the OTHER model's id but holding this model's key: the name is not trusted.
    await copyFile(path.join(fx.keysDir, `${fx.model.modelId}.json`), path.join(dir, `${fx.other.modelId}.json`));
    await writeFile(path.join(dir, 'README.txt'), 'not a key');
    const loaded = await loadKeyRegistry(dir);
    expect([...loaded.keys.keys()]).toEqual([fx.model.modelId]);
  });

  it('fails the load naming every malformed file and its problem', async () => {
    const dir = await tempDir();
    await copyFile(path.join(fx.keysDir, `${fx.model.modelId}.json`), path.join(dir, 'good.json'));
    await writeFile(path.join(dir, 'truncated.json'), '{"format": "zkinfer-key", ');
    await writeFile(path.join(dir, 'wrong.json'), JSON.stringify({ ...fx.model.key, curve: 'bls12381' }));
    const inconsistent = structuredClone(fx.model.key);
    inconsistent.vkey.IC.pop();
    await writeFile(path.join(dir, 'inconsistent.json'), JSON.stringify(inconsistent));
    const err = await loadError(dir);
    expect(err.code).toBe('BAD_KEY');
    expect(err.message).toMatch(/3 malformed key file/);
    expect(err.message).toMatch(/truncated\.json: .*not valid JSON/);
    expect(err.message).toMatch(/wrong\.json: malformed verification key: curve/);
    expect(err.message).toMatch(/inconsistent\.json: .*vkey\.IC has 12 points, 12 public signals need 13/);
    expect(err.message).not.toMatch(/good\.json/);
  });

  it('refuses a missing directory and one without keys', async () => {
    expect((await loadError(path.join(os.tmpdir(), 'zkinfer-no-such-dir-x9'))).message).toMatch(/cannot read key directory .*ENOENT/);
    const empty = await tempDir();
    await mkdir(path.join(empty, 'sub.json')); // a directory named like a key is not a key file...
    expect((await loadError(empty)).message).toMatch(/sub\.json/); // ...and is reported, not skipped
    expect((await loadError(await tempDir())).message).toMatch(/no zkinfer keys/);
  });
});

describe('verifyBundle', () => {
  it('accepts a valid bundle and returns the proved prediction', async () => {
    const v = await verifyBundle(JSON.parse(JSON.stringify(fx.bundle)), registry);
    expect(v).toMatchObject({ valid: true, modelId: fx.model.modelId });
    expect(v.failure).toBeUndefined();
    expect(v.output?.prediction.class).toBe(fx.bundle.prediction.class);
  });

  it('flags an unknown model id (for a 404) and names it', async () => {
    const onlyOther = createKeyRegistry([{ key: fx.other.key }]);
    const v = await verifyBundle(fx.bundle, onlyOther);
    expect(v).toMatchObject({ valid: false, failure: 'unknown-model', modelId: fx.model.modelId });
    expect(v.reason).toContain(fx.model.modelId);
  });

  it('flags a malformed bundle with the path of the bad field', async () => {
    const cases: Array<[string, (b: Record<string, unknown> & ProofBundle) => unknown, string]> = [
      ['number for a string', (b) => ((b.publicSignals as unknown[])[2] = 7), 'publicSignals[2]'],
      ['missing field', (b) => delete (b as Partial<ProofBundle>).proof, 'proof'],
      ['nested bad field', (b) => (b.proof.pi_b[1][0] = '0x12'), 'proof.pi_b[1][0]'],
      ['bad model id', (b) => (b.modelId = 'abc'), 'modelId'],
      ['other version', (b) => ((b as { version: unknown }).version = 2), 'version'],
      ['string version', (b) => ((b as { version: unknown }).version = '1'), 'version'],
    ];
    for (const [what, mutate, where] of cases) {
      const bad = structuredClone(fx.bundle) as Record<string, unknown> & ProofBundle;
      mutate(bad);
      const v = await verifyBundle(bad, registry);
      expect(v, what).toMatchObject({ valid: false, failure: 'malformed', path: where });
      expect(v.reason, what).toContain(where);
    }
    for (const root of [null, 42, 'bundle', [fx.bundle]]) {
      expect(await verifyBundle(root, registry)).toMatchObject({ valid: false, failure: 'malformed', path: '(root)' });
    }
  });

  it('gives an invalid verdict (not malformed) for a tampered proof, signal or prediction', async () => {
    const tampers: Array<(b: ProofBundle) => void> = [
      (b) => (b.proof.pi_a[0] = (BigInt(b.proof.pi_a[0]) + 1n).toString()),
      (b) => (b.publicSignals[fx.model.layout.inputOffset] = String((Number(b.publicSignals[fx.model.layout.inputOffset]) + 1) % 256)),
      (b) => (b.prediction.class = (b.prediction.class! + 1) % 3),
    ];
    for (const tamper of tampers) {
      const bad = structuredClone(fx.bundle);
      tamper(bad);
      const v = await verifyBundle(bad, registry);
      expect(v).toMatchObject({ valid: false, failure: 'invalid', modelId: fx.model.modelId });
      expect(v.reason).toBeTruthy();
    }
  });

  it("rejects a bundle relabelled with another loaded model's id", async () => {
    const v = await verifyBundle({ ...structuredClone(fx.bundle), modelId: fx.other.modelId }, registry);
    expect(v).toMatchObject({ valid: false, failure: 'invalid', modelId: fx.other.modelId });
  });
});
