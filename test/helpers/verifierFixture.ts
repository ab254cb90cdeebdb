import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compileModel, prove, quantizeModel, setupModel, type CompiledModel, type ProofBundle } from '../../src/index.js';
import { keyRegistryDir } from '../../src/setup/index.js';
import { randomFloatModel, randomInputs } from './models.js';

/**
 * Two small random models set up in a fresh artifacts directory (a few seconds), with a proof for the
 * first: enough to exercise verification by model id without the MNIST model's minute-long setup.
 */
export interface VerifierFixture {
  artifactsDir: string;
  /** artifacts/keys/by-id of the fixture: both keys, each named <model id>.json. */
  keysDir: string;
  model: CompiledModel;
  other: CompiledModel;
  /** A valid proof for `model`. */
  bundle: ProofBundle;
}

async function smallModel(sizes: number[], seed: number, artifactsDir: string): Promise<CompiledModel> {
  const q = quantizeModel(randomFloatModel(sizes, seed, `random-${sizes.join('-')}`), randomInputs(20, sizes[0], 8, seed + 1), { inputBits: 8, inputScale: 1 / 255 });
  return setupModel(await compileModel(q, { artifactsDir }), { artifactsDir });
}

export async function buildVerifierFixture(): Promise<VerifierFixture> {
  const artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-verifier-'));
  const model = await smallModel([8, 4, 3], 11, artifactsDir);
  const other = await smallModel([6, 5, 4], 31, artifactsDir);
  const bundle = await prove(model, randomInputs(1, 8, 8, 5)[0]);
  return { artifactsDir, keysDir: keyRegistryDir(artifactsDir), model, other, bundle };
}
