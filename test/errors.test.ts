import { mkdtemp, writeFile, copyFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
  const err = await p.then(() => undefined, (e: unknown) => e);
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
      format: 'zkinfer-proof', version: 1, protocol: 'groth16', curve: 'bn128', modelId: 'a'.repeat(64), publicSignals: ['1'],
      visibility: { input: 'public', output: 'logits' },
      proof: { pi_a: ['1', '2', '1'], pi_b: [['1', '2'], ['3', '4'], ['1', '0']], pi_c: ['1', '2', '1'], protocol: 'groth16', curve: 'bn128' },
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
