import { execFile } from 'node:child_process';
import { mkdtemp, writeFile, copyFile, mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGraph, lowerGraph } from '../src/graph/index.js';
import { exists, writeFileAtomic } from '../src/util/fs.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';
import { loadModelSource } from '../src/model/index.js';
import { loadTfjsLayersModel } from '../src/model/tfjsLayers.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { runQuantized, validateInput } from '../src/quantize/reference.js';
import { parseBundle } from '../src/format/bundle.js';
import { parseKey } from '../src/format/key.js';
import { verify } from '../src/verify/index.js';
import { ZkinferError } from '../src/util/errors.js';

/** Bad input anywhere gives a ZkinferError whose message names the problem, never a crash or a hang. */
const root = path.resolve(import.meta.dirname, '..');
const modelJson = path.join(root, 'models', 'mnist-mlp', 'model.json');

function expectError(fn: () => unknown, code: string, pattern: RegExp) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ZkinferError);
    expect((err as ZkinferError).code).toBe(code);
    expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected an error');
}

async function expectRejects(p: Promise<unknown>, code: string, pattern: RegExp) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ZkinferError);
  expect((err as ZkinferError).code).toBe(code);
  expect((err as Error).message).toMatch(pattern);
}

describe('prove inputs', async () => {
  const source = await loadModelSource('mlp');
  const q = quantizeModel(source.float, source.calibration.slice(0, 100), { inputBits: 8, inputScale: 1 / 255 });
  const good = new Array(784).fill(0);

  it('names the wrong length, non-integers, out-of-range values and NaN', () => {
    expectError(() => validateInput(q, good.slice(1)), 'BAD_INPUT', /783 values, the model expects 784/);
    expectError(() => validateInput(q, [...good.slice(1), 1.5]), 'BAD_INPUT', /input\[783\] = 1.5 is not an integer/);
    expectError(() => validateInput(q, [256, ...good.slice(1)]), 'BAD_INPUT', /input\[0\] = 256 is out of range \[0, 255\]/);
    expectError(() => validateInput(q, [-1, ...good.slice(1)]), 'BAD_INPUT', /out of range/);
    expectError(() => validateInput(q, [...good.slice(2), NaN, 0]), 'BAD_INPUT', /input\[782\] is not a number/);
    expectError(() => validateInput(q, [...good.slice(1), '7']), 'BAD_INPUT', /input\[783\] is not a number/);
    expectError(() => validateInput(q, { length: 784 }), 'BAD_INPUT', /must be an array/);
    expectError(() => runQuantized(q, good.slice(10)), 'BAD_INPUT', /774 values/);
    expect(validateInput(q, good)).toHaveLength(784);
  });
});

describe('compile inputs (model import)', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the edits poke at arbitrary parsed JSON
  async function modelWith(edit: (json: Record<string, any>) => void): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-model-'));
    const json = JSON.parse(await (await import('node:fs/promises')).readFile(modelJson, 'utf8'));
    edit(json);
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await copyFile(path.join(path.dirname(modelJson), 'weights.bin'), path.join(dir, 'weights.bin'));
    return path.join(dir, 'model.json');
  }

  it('names an unknown layer type before anything is compiled', async () => {
    const file = await modelWith((j) => {
      j.modelTopology.config.layers.splice(1, 0, { class_name: 'LSTM', config: { name: 'lstm_x', units: 4 } });
    });
    await expectRejects(loadTfjsLayersModel(file), 'UNSUPPORTED_LAYER', /layer lstm_x: type LSTM is not supported/);
  });

  it('names an unsupported activation', async () => {
    const file = await modelWith((j) => (j.modelTopology.config.layers[0].config.activation = 'tanh'));
    await expectRejects(loadTfjsLayersModel(file), 'UNSUPPORTED_LAYER', /layer hidden \(Dense\): activation 'tanh'/);
  });

  it('replaces a final softmax by argmax and says so', async () => {
    const file = await modelWith((j) => (j.modelTopology.config.layers[1].config.activation = 'softmax'));
    const model = await loadTfjsLayersModel(file);
    expect(model.notes.join()).toMatch(/softmax .* replaced by argmax/);
  });

  it('names malformed model files and weights that do not match the manifest', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-model-'));
    await writeFile(path.join(dir, 'model.json'), '{"modelTopology": ');
    await expectRejects(loadTfjsLayersModel(path.join(dir, 'model.json')), 'BAD_MODEL', /not valid JSON/);
    const shortWeights = await modelWith((j) => (j.weightsManifest[0].weights[0].shape = [784, 33]));
    await expectRejects(loadTfjsLayersModel(shortWeights), 'BAD_MODEL', /shorter than the manifest|kernel has/);
    await expectRejects(loadModelSource('no-such-model'), 'NOT_FOUND', /unknown model 'no-such-model'/);
    await mkdir(path.join(dir, 'x'), { recursive: true });
    await expectRejects(loadModelSource(path.join(dir, 'missing.json')), 'NOT_FOUND', /cannot read model/);
  });
});

describe('verify inputs', () => {
  it('names the bad field of a malformed bundle', () => {
    expectError(() => parseBundle(null), 'BAD_BUNDLE', /malformed proof bundle/);
    expectError(() => parseBundle({ format: 'zkinfer-proof', version: 2 }), 'BAD_BUNDLE', /unsupported version 2/);
    const base = {
      format: 'zkinfer-proof',
      version: 1,
      protocol: 'groth16',
      curve: 'bn128',
      modelId: 'a'.repeat(64),
      publicSignals: ['1'],
      visibility: { input: 'public', output: 'logits' },
      proof: {
        pi_a: ['1', '2', '1'],
        pi_b: [
          ['1', '2'],
          ['3', '4'],
          ['1', '0'],
        ],
        pi_c: ['1', '2', '1'],
        protocol: 'groth16',
        curve: 'bn128',
      },
      prediction: { class: 1, logits: ['1', '-2'], scores: [0.1, -0.2], note: '' },
    };
    expect(parseBundle(base).modelId).toBe('a'.repeat(64));
    expectError(() => parseBundle({ ...base, proof: { ...base.proof, pi_a: ['1', 'x', '1'] } }), 'BAD_BUNDLE', /proof\.pi_a\[1\]/);
    expectError(() => parseBundle({ ...base, publicSignals: 'nope' }), 'BAD_BUNDLE', /publicSignals/);
    expectError(() => parseBundle({ ...base, modelId: 'abc' }), 'BAD_BUNDLE', /modelId/);
    // One encoding per value: "00060" would otherwise verify as 60.
    expectError(() => parseBundle({ ...base, publicSignals: ['0060'] }), 'BAD_BUNDLE', /publicSignals\[0\]: expected a canonical decimal/);
    expectError(() => parseBundle({ ...base, proof: { ...base.proof, pi_c: ['01', '2', '1'] } }), 'BAD_BUNDLE', /proof\.pi_c\[0\]/);
  });

  it('returns an invalid verdict for a malformed bundle and throws a clear error for a malformed key', async () => {
    await expectRejects(verify({}, { format: 'zkinfer-key' }), 'BAD_KEY', /malformed verification key: version/);
    expectError(() => parseKey('x'), 'BAD_KEY', /malformed verification key/);
  });
});

describe('hardening (issue 14): one line and the documented exit code', () => {
  const bin = path.join(root, 'bin', 'zkinfer.js');
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, ...args], { cwd: root }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }));
    });
  const oneLine = (stderr: string) => expect(stderr.trim().split('\n'), stderr).toHaveLength(1);

  it('a weights manifest shape of [-1, 32] is named (was: RangeError "Invalid typed array length")', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-model-'));
    const json = JSON.parse(await readFile(modelJson, 'utf8'));
    json.weightsManifest[0].weights[0].shape = [-1, 32];
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await copyFile(path.join(path.dirname(modelJson), 'weights.bin'), path.join(dir, 'weights.bin'));
    await expectRejects(
      loadTfjsLayersModel(path.join(dir, 'model.json')),
      'BAD_MODEL',
      /weight hidden\/kernel: shape \[-1,32\] in the weights manifest must be a list of non-negative integers/,
    );
  });

  it('an ONNX weight of -4.6e29 is named with its node/layer in both pipelines (was: a stack trace or a circom syntax error)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-onnx-'));
    const g = new OnnxGraphBuilder('huge', { opset: 17 });
    g.input('x', 'float', [1, 4]);
    const w1 = Array.from({ length: 12 }, (_, i) => (i - 5) / 7);
    w1[5] = -4.6e29;
    const [h] = g.node('Gemm', ['x', g.initializer('w1', 'float', [3, 4], w1), g.initializer('b1', 'float', [3], [0.1, 0.2, 0.3])], undefined, { transB: 1 });
    const [r] = g.node('Relu', [h]);
    g.output(
      g.node(
        'Gemm',
        [
          r,
          g.initializer(
            'w2',
            'float',
            [4, 3],
            Array.from({ length: 12 }, (_, i) => (i - 6) / 10),
          ),
          g.initializer('b2', 'float', [4], [0, 0, 0, 0]),
        ],
        ['y'],
        { transB: 1 },
      )[0],
      'float',
    );
    const file = path.join(dir, 'huge.onnx');
    await writeFile(file, g.encode());
    // Graph pipeline (what the CLI routes .onnx files to).
    const graph = await loadGraph(file);
    const samples = [
      [1, 2, 3, 4],
      [0.1, 0.2, 0.3, 0.4],
    ].map((x) => new Map([['x', Float64Array.from(x)]]));
    const calFile = path.join(dir, 'cal.json');
    await writeFile(
      calFile,
      JSON.stringify([
        [1, 2, 3, 4],
        [0.1, 0.2, 0.3, 0.4],
      ]),
    );
    expectError(
      () => lowerGraph(graph, samples),
      'BAD_MODEL',
      /node 'gemm_0': requantization multiplier .* is beyond exact arithmetic .*its largest constant input is w1\[5\] = -4\.60e\+29/,
    );
    const run = await cli('compile', '-m', file, '--calibration', calFile, '-q', '--artifacts', dir);
    expect(run.code).toBe(2);
    oneLine(run.stderr);
    expect(run.stderr).toMatch(/w1\[5\] = -4\.60e\+29/);
    // Layer pipeline (buildModel / loadModelSource of an .onnx file).
    await writeFile(
      calFile,
      JSON.stringify([
        [1, 2, 3, 4],
        [10, 20, 30, 40],
        [255, 0, 255, 0],
      ]),
    );
    const source = await loadModelSource(file, { calibrationFile: calFile });
    expectError(
      () => quantizeModel(source.float, source.calibration, { inputBits: 8, inputScale: 1 / 255 }),
      'BAD_MODEL',
      /layer gemm_0: scaled accumulators reach .*its largest weight is kernel\[\d+\] = -4\.60e\+29/,
    );
  }, 60_000);

  it('--artifacts naming a regular file is one line, exit 2, before any work (was: ENOTDIR stack trace)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-art-'));
    const file = path.join(dir, 'plain.txt');
    await writeFile(file, 'not a folder');
    for (const args of [
      ['compile', '-q'],
      ['setup', '-q'],
      ['verify', 'proof.json'],
    ]) {
      const run = await cli(...args, '--artifacts', file);
      expect(run.code, run.stderr).toBe(2);
      oneLine(run.stderr);
      expect(run.stderr).toMatch(/--artifacts .*plain\.txt is not a folder: it is a regular file/);
      expect(run.stdout).toBe(''); // nothing ran (compile used to print its accuracy first)
    }
    const nested = await cli('compile', '-q', '--artifacts', path.join(file, 'sub'));
    expect([nested.code, nested.stderr]).toEqual([2, expect.stringMatching(/a part of that path is a regular file/)]);
    // The library says the same instead of throwing ENOTDIR.
    await expectRejects(
      writeFileAtomic(path.join(file, 'circuits', 'x.json'), '{}'),
      'BAD_INPUT',
      /cannot create folder .*plain\.txt\/circuits: a part of that path is a regular file/,
    );
  }, 60_000);

  it('prove --batch with a wrong-length item fails before any compile or setup (was: after the 83 s setup)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-batch-'));
    const items = [new Array(784).fill(0), new Array(783).fill(0)];
    await writeFile(path.join(dir, 'batch.json'), JSON.stringify(items));
    const artifacts = path.join(dir, 'artifacts');
    const run = await cli('prove', '--batch', path.join(dir, 'batch.json'), '--artifacts', artifacts, '-q');
    expect(run.code, run.stderr).toBe(2);
    oneLine(run.stderr);
    expect(run.stderr).toMatch(/batch input .*: \[1\] has 783 values, expected 784/);
    expect(await exists(path.join(artifacts, 'circuits'))).toBe(false); // nothing was compiled
  }, 120_000);

  describe('keys and bundles', () => {
    let fx: VerifierFixture;
    beforeAll(async () => {
      fx = await buildVerifierFixture();
    }, 120_000);

    it('a key whose vkey.IC is one short says so (was: "nPublic (n) does not match publicSignals.total (n)")', () => {
      const key = structuredClone(fx.model.key);
      key.vkey.IC.pop();
      const n = key.publicSignals.total;
      expectError(() => parseKey(key), 'BAD_KEY', new RegExp(`vkey\\.IC has ${n} points, ${n} public signals need ${n + 1}`));
    });

    it('a bundle with version 2 exits 2 like any malformed bundle, not 1 (invalid proof)', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-v2-'));
      const keyFile = path.join(dir, 'key.json');
      await writeFile(keyFile, JSON.stringify(fx.model.key));
      const v2 = path.join(dir, 'v2.json');
      await writeFile(v2, JSON.stringify({ ...fx.bundle, version: 2 }));
      const run = await cli('verify', v2, '--key', keyFile);
      expect(run.code, run.stdout + run.stderr).toBe(2);
      oneLine(run.stderr);
      expect(run.stderr).toMatch(/unsupported version 2/);
      const good = path.join(dir, 'good.json');
      await writeFile(good, JSON.stringify(fx.bundle));
      expect((await cli('verify', good, '--key', keyFile)).code).toBe(0);
      // --json: the verdict on stdout, and the exit code still follows its `malformed` flag.
      const json = await cli('verify', v2, '--key', keyFile, '--json');
      expect(json.code, json.stderr).toBe(2);
      expect(JSON.parse(json.stdout)).toMatchObject({ valid: false, malformed: true, reason: expect.stringMatching(/unsupported version 2/) });
      // Well-formed but not proved (a public signal changed): invalid, exit 1, also with --json.
      const tampered = path.join(dir, 'tampered.json');
      const signals = [...fx.bundle.publicSignals];
      signals[fx.model.layout.inputOffset] = String((Number(signals[fx.model.layout.inputOffset]) + 1) % 256);
      await writeFile(tampered, JSON.stringify({ ...fx.bundle, publicSignals: signals }));
      const invalid = await cli('verify', tampered, '--key', keyFile);
      expect(invalid.code, invalid.stderr).toBe(1);
      expect(invalid.stdout).toMatch(/^INVALID: /);
      const invalidJson = await cli('verify', tampered, '--key', keyFile, '--json');
      expect(invalidJson.code).toBe(1);
      expect(JSON.parse(invalidJson.stdout).malformed).toBeUndefined();
    }, 120_000);
  });
});
