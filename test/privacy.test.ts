import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, inputCommitment, proveWithOpenings, runQuantized, verify, type CompiledModel } from '../src/index.js';
import { compileModel } from '../src/circuit/index.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { compileGraphProgram, loadGraph, lowerGraph } from '../src/graph/index.js';
import { ZkinferError } from '../src/util/errors.js';
import { randomFloatModel, randomInputs, writeTfjsModel } from './helpers/models.js';

/** Visibility modes: a private input behind a salted Poseidon commitment; the class alone public. */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
let dir: string;
let modelJson: string;
let calibration: string;
let privateModel: CompiledModel;
let classOnly: CompiledModel;
const sizes = [40, 8, 4];
const inputs = randomInputs(3, 40, 8, 77);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-privacy-'));
  modelJson = await writeTfjsModel(path.join(dir, 'model'), randomFloatModel(sizes, 70, 'private'));
  calibration = path.join(dir, 'calibration.json');
  await writeFile(calibration, JSON.stringify(randomInputs(30, 40, 8, 71)));
  const common = { calibrationFile: calibration, artifactsDir: dir };
  privateModel = await buildModel(modelJson, { ...common, visibility: { input: 'private', output: 'logits' } });
  classOnly = await buildModel(modelJson, { ...common, visibility: { input: 'private', output: 'class' } });
});

describe('private input with a public commitment', () => {
  it('publishes logits, class and the commitment, but not the input', async () => {
    expect(privateModel.layout).toMatchObject({ logits: 4, inputs: 0, commitmentIndex: 5, total: 6 });
    const { bundle, openings } = await proveWithOpenings(privateModel, [inputs[0]]);
    expect(bundle.publicSignals).toHaveLength(6);
    expect(bundle.publicSignals.join(',')).not.toContain(inputs[0].join(','));
    const result = await verify(bundle, privateModel.key);
    expect(result.valid).toBe(true);
    expect(result.output!.input).toBeUndefined();
    expect(result.output!.prediction.logits).toEqual(runQuantized(privateModel.qmodel, inputs[0]).logits.map(String));
    // The holder of input + salt recomputes the commitment off-circuit with circomlibjs.
    expect(String(await inputCommitment(inputs[0], 8, BigInt(openings[0].salt)))).toBe(bundle.inputCommitments![0]);
    expect(String(await inputCommitment(inputs[1], 8, BigInt(openings[0].salt)))).not.toBe(bundle.inputCommitments![0]);
  });

  it('the same input under two salts gives unrelated commitments (a guess cannot be checked without the salt)', async () => {
    const a = await proveWithOpenings(privateModel, [inputs[1]], { salts: [1n] });
    const b = await proveWithOpenings(privateModel, [inputs[1]], { salts: [2n] });
    expect(a.bundle.inputCommitments![0]).not.toBe(b.bundle.inputCommitments![0]);
    expect(a.bundle.prediction).toEqual(b.bundle.prediction);
    expect(a.openings[0].salt).toBe('1');
  });

  it('rejects a changed commitment, in the signals or in the bundle field', async () => {
    const { bundle } = await proveWithOpenings(privateModel, [inputs[2]]);
    const index = privateModel.layout.commitmentIndex;
    const swapped = structuredClone(bundle);
    swapped.publicSignals[index] = String(await inputCommitment(inputs[0], 8, 5n));
    expect((await verify(swapped, privateModel.key)).valid).toBe(false);
    const edited = structuredClone(bundle);
    edited.inputCommitments = ['123'];
    expect((await verify(edited, privateModel.key)).reason).toMatch(/differs from the proved output/);
    const relabelled = structuredClone(bundle);
    relabelled.visibility = { input: 'public', output: 'logits' };
    expect((await verify(relabelled, privateModel.key)).reason).toMatch(/visibility/);
  });

  it('refuses salts that are not field elements, and salts for public-input circuits', async () => {
    const err = await proveWithOpenings(privateModel, [inputs[0]], { salts: [-1n] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkinferError);
    expect((err as Error).message).toMatch(/field element/);
  });
});

describe('class-only output', () => {
  it('publishes the class and the commitment only', async () => {
    expect(classOnly.layout).toMatchObject({ logits: 0, classIndex: 0, commitmentIndex: 1, total: 2 });
    const { bundle } = await proveWithOpenings(classOnly, [inputs[0]]);
    expect(bundle.publicSignals).toHaveLength(2);
    expect(bundle.prediction.logits).toEqual([]);
    const result = await verify(bundle, classOnly.key);
    expect(result.valid).toBe(true);
    expect(result.output!.prediction.class).toBe(runQuantized(classOnly.qmodel, inputs[0]).predicted);
    const wrongClass = structuredClone(bundle);
    wrongClass.publicSignals[0] = String((bundle.prediction.class! + 1) % 4);
    expect((await verify(wrongClass, classOnly.key)).valid).toBe(false);
  });

  it('costs constraints only for the commitment (the MNIST-sized input: ~1,100)', async () => {
    const q = quantizeModel(randomFloatModel([784, 4, 2], 5), randomInputs(5, 784, 8, 6), { inputBits: 8, inputScale: 1 / 255 });
    const pub = await compileModel(q, { artifactsDir: dir });
    const priv = await compileModel(q, { artifactsDir: dir, visibility: { input: 'private', output: 'logits' } });
    const extra = priv.circuit.constraints - pub.circuit.constraints;
    expect(extra).toBeGreaterThan(500);
    expect(extra).toBeLessThan(2000);
  });
});

describe('CLI', () => {
  it('prove --private-input writes an opening that check-commitment accepts, and rejects a wrong one', async () => {
    const cli = path.join(root, 'bin', 'zkinfer.js');
    const args = ['--model', modelJson, '--calibration', calibration, '--artifacts', dir, '--private-input', '-q'];
    const inputFile = path.join(dir, 'input.json');
    await writeFile(inputFile, JSON.stringify(inputs[0]));
    const out = path.join(dir, 'private-proof.json');
    await run(process.execPath, [cli, 'prove', '--input', inputFile, '-o', out, ...args]);
    const openingFile = path.join(dir, 'private-proof.opening.json');
    const opening = JSON.parse(await readFile(openingFile, 'utf8'));
    expect(opening[0].input).toEqual(inputs[0]);
    const ok = await run(process.execPath, [cli, 'check-commitment', out, '--opening', openingFile, '--artifacts', dir]);
    expect(ok.stdout).toMatch(/^MATCH/);
    opening[0].input[0] = (opening[0].input[0] + 1) % 256;
    await writeFile(openingFile, JSON.stringify(opening));
    const bad = await run(process.execPath, [cli, 'check-commitment', out, '--opening', openingFile, '--artifacts', dir]).catch((e) => e);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^MISMATCH/);
  });

  it('check-commitment rejects openings that hash to the proved commitment but are not the proved input', async () => {
    const cli = path.join(root, 'bin', 'zkinfer.js');
    const { bundle, openings } = await proveWithOpenings(privateModel, [inputs[0]]);
    const proof = path.join(dir, 'attack-proof.json');
    await writeFile(proof, JSON.stringify(bundle));
    const honest = openings[0];
    const bits = privateModel.key.model.inputBits;
    const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
    // Each attack opens the same commitment (so hashing alone printed MATCH): out-of-range values that pack
    // to the same field element, a value as the decimal string of p + x, a trailing padding value, salt + p,
    // a salt with a leading zero.
    const attacks: Array<[string, { input: unknown[]; salt: string }, RegExp, boolean]> = [
      [
        '256 and -1 packing like x0 and x1',
        { input: [honest.input[0] + 256, honest.input[1] - 1, ...honest.input.slice(2)], salt: honest.salt },
        /opening\[0\]\.input\[0\]: \d+ is out of the input range \[0, 255\]/,
        true,
      ],
      [
        'a value given as "<p + x>"',
        { input: [String(P + BigInt(honest.input[0])), ...honest.input.slice(1)], salt: honest.salt },
        /opening\[0\]\.input\[0\]: expected an integer/,
        true,
      ],
      ['one value too many', { input: [...honest.input, 0], salt: honest.salt }, /opening\[0\]\.input: has 41 values, the key's input has 40/, true],
      ['salt + p', { input: honest.input, salt: String(BigInt(honest.salt) + P) }, /opening\[0\]\.salt: not a canonical field element/, true],
      ['a salt with a leading zero', { input: honest.input, salt: `0${honest.salt}` }, /opening\[0\]\.salt: expected a canonical decimal/, true],
    ];
    for (const [what, opening, message, sameHash] of attacks) {
      if (sameHash) expect(await inputCommitment(opening.input as number[], bits, BigInt(opening.salt)), what).toBe(BigInt(honest.commitment));
      const file = path.join(dir, 'attack.opening.json');
      await writeFile(file, JSON.stringify([opening]));
      const result = await run(process.execPath, [cli, 'check-commitment', proof, '--opening', file, '--artifacts', dir]).catch((e) => e);
      expect(result.code, what).toBe(2);
      expect(result.stdout, what).not.toMatch(/MATCH/);
      expect(result.stderr.trim().split('\n'), what).toHaveLength(1);
      expect(result.stderr, what).toMatch(message);
    }
    const file = path.join(dir, 'honest.opening.json');
    await writeFile(file, JSON.stringify(openings));
    expect((await run(process.execPath, [cli, 'check-commitment', proof, '--opening', file, '--artifacts', dir])).stdout).toMatch(/^MATCH/);
  });

  it('compile counts the circuit of the visibility it is given', async () => {
    const cli = path.join(root, 'bin', 'zkinfer.js');
    const constraints = async (...flags: string[]) => {
      const { stdout } = await run(process.execPath, [cli, 'compile', '--model', modelJson, '--calibration', calibration, '--artifacts', dir, '-q', ...flags]);
      return Number(/circuit\s+(\d+) constraints/.exec(stdout)![1]);
    };
    // The CLI compiles tfjs models on the graph pipeline: the same circuit as the library's, never larger
    // than the layer pipeline's for the same model.
    const graph = await loadGraph(modelJson);
    const samples = (JSON.parse(await readFile(calibration, 'utf8')) as number[][]).map((x) => new Map([[graph.inputs[0].name, Float64Array.from(x)]]));
    const program = lowerGraph(graph, samples);
    const expected = async (visibility?: { input: 'public' | 'private'; output: 'logits' | 'class' }) =>
      (await compileGraphProgram(program, { artifactsDir: dir, graph, ...(visibility ? { visibility } : {}) })).circuit.constraints;
    const layer = async (visibility?: { input: 'public' | 'private'; output: 'logits' | 'class' }) =>
      (await compileModel(privateModel.qmodel, { artifactsDir: dir, ...(visibility ? { visibility } : {}) })).circuit.constraints;
    expect(await constraints()).toBe(await expected());
    expect(await constraints('--private-input')).toBe(await expected({ input: 'private', output: 'logits' }));
    expect(await constraints('--private-input')).toBeGreaterThan(await constraints());
    expect(await constraints()).toBeLessThanOrEqual(await layer());
    expect(await constraints('--private-input')).toBeLessThanOrEqual(await layer({ input: 'private', output: 'logits' }));
  });
});
