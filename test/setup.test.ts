import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildBn128 } from 'ffjavascript';
import * as snarkjs from 'snarkjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel, type ModelCircuit } from '../src/circuit/index.js';
import { prove } from '../src/prove/index.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { readPtauHeader, requiredPower, setupModel } from '../src/setup/index.js';
import { produceDirAtomic } from '../src/util/fs.js';
import { ZkinferError } from '../src/util/errors.js';
import { verify } from '../src/verify/index.js';
import { randomFloatModel, randomInputs } from './helpers/models.js';

/** Setup stage: ceremony ptau files are checked before use, artifacts are cached and written atomically. */
let dir: string;
let circuit: ModelCircuit;
let ceremony: string;
let unprepared: string;
let tooSmall: string;

async function snarkjsPtau(power: number, name: string, prepare: boolean): Promise<string> {
  const curve = await buildBn128();
  const f0 = path.join(dir, `${name}_0.ptau`);
  const f1 = path.join(dir, `${name}_1.ptau`);
  await snarkjs.powersOfTau.newAccumulator(curve, power, f0);
  await snarkjs.powersOfTau.contribute(f0, f1, 'test contribution', `entropy ${name}`);
  if (!prepare) return f1;
  const final = path.join(dir, `${name}_final.ptau`);
  await snarkjs.powersOfTau.preparePhase2(f1, final);
  return final;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-setup-'));
  const q = quantizeModel(randomFloatModel([8, 4, 3], 11), randomInputs(20, 8, 8, 12), { inputBits: 8, inputScale: 1 / 255 });
  circuit = await compileModel(q, { artifactsDir: dir });
  const power = requiredPower(circuit.circuit.constraints, circuit.circuit.publicInputs, circuit.circuit.outputs);
  ceremony = await snarkjsPtau(power, 'ceremony', true);
  unprepared = await snarkjsPtau(power, 'unprepared', false);
  tooSmall = await snarkjsPtau(power - 1, 'small', true);
});

afterAll(async () => {
  await (await buildBn128()).terminate();
});

async function expectBadPtau(ptauPath: string, pattern: RegExp) {
  const err = await setupModel(circuit, { artifactsDir: dir, ptauPath }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ZkinferError);
  expect((err as ZkinferError).code).toBe('BAD_PTAU');
  expect((err as Error).message).toMatch(pattern);
}

describe('powers of tau', () => {
  it('sizes the ptau as snarkjs requires (2^power > constraints + public inputs + outputs)', () => {
    expect(requiredPower(7644, 784, 11)).toBe(14);
    expect(requiredPower(8000, 180, 11)).toBe(13); // 8191 fits 2^13
    expect(requiredPower(8000, 181, 11)).toBe(14); // 8192 does not
  });

  it('uses a verified ceremony ptau and labels the key as such', async () => {
    const seen = new Map<string, { done: number; total: number }>();
    const model = await setupModel(circuit, { artifactsDir: dir, ptauPath: ceremony, onProgress: (stage, done, total) => seen.set(stage, { done, total }) });
    expect(model.key.setup.ptau).toMatchObject({ kind: 'ceremony', insecure: false });
    // snarkjs's counts reach onProgress: the constraints newZKey processed, and the points phase 2 re-keyed.
    expect(seen.get('zkey processing constraints')).toEqual({ done: 0, total: circuit.circuit.constraints });
    expect([...seen.keys()].some((s) => s.startsWith('phase 2 applying key'))).toBe(true);
    for (const { done, total } of seen.values()) expect(done).toBeLessThanOrEqual(total);
    const bundle = await prove(model, randomInputs(1, 8, 8, 5)[0]);
    expect((await verify(bundle, model.key)).valid).toBe(true);
    expect(await readdir(path.join(dir, 'ptau', 'verified'))).toHaveLength(1);
  });

  it('rejects a tampered, unprepared, too small or foreign ptau file with a reason', async () => {
    const tampered = path.join(dir, 'tampered.ptau');
    const bytes = await readFile(ceremony);
    const { power } = await readPtauHeader(ceremony);
    // Flip a byte inside the tauG1 section (after the 12-byte file header and the header section).
    bytes[200 + power] ^= 0x01;
    await writeFile(tampered, bytes);
    await expectBadPtau(tampered, /failed powers-of-tau verification|could not be verified/);
    await expectBadPtau(unprepared, /not prepared for phase 2/);
    await expectBadPtau(tooSmall, /has power \d+; this circuit needs at least \d+/);
    const foreign = path.join(dir, 'foreign.ptau');
    await writeFile(foreign, 'not a ptau file at all');
    await expectBadPtau(foreign, /not a powers-of-tau file/);
  });

  it('uses the local development ptau by default, labelled insecure, and caches every step', async () => {
    const first = await setupModel(circuit, { artifactsDir: dir });
    expect(first.key.setup.ptau).toMatchObject({ kind: 'local-development', insecure: true });
    const zkeyTime = (await stat(first.zkeyPath)).mtimeMs;
    const ptauFiles = await readdir(path.join(dir, 'ptau'));
    const second = await setupModel(circuit, { artifactsDir: dir });
    expect(second.modelId).toBe(first.modelId);
    expect((await stat(second.zkeyPath)).mtimeMs).toBe(zkeyTime);
    expect(await readdir(path.join(dir, 'ptau'))).toEqual(ptauFiles);
    const again = await compileModel(circuit.qmodel, { artifactsDir: dir });
    expect(again.circuit.dir).toBe(circuit.circuit.dir);
  });
});

describe('atomic artifacts', () => {
  it('a failed build leaves no directory and no temporary files behind', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-atomic-'));
    const target = path.join(parent, 'entry');
    const err = await produceDirAtomic(target, async (tmp) => {
      await writeFile(path.join(tmp, 'half.bin'), 'partial');
      throw new Error('killed mid-build');
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe('killed mid-build');
    expect(await readdir(parent)).toEqual([]);
    await produceDirAtomic(target, async (tmp) => writeFile(path.join(tmp, 'done.bin'), 'whole'));
    expect(await readdir(parent)).toEqual(['entry']);
  });
});
