import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTfjsLayersModel } from '../src/model/tfjsLayers.js';
import { layerGraphError, runFloat, type FloatModel } from '../src/model/types.js';
import { ZkinferError } from '../src/util/errors.js';
import { rng } from './helpers/models.js';
import { predict, randomizeWeights, residualArchitectures, saveTfjs, loadTfModule } from './helpers/residual.js';

/**
 * Functional tfjs models with residual connections import to a float IR DAG that computes what tfjs
 * computes; graphs the IR cannot express are rejected with the offending layer named.
 */
type Tf = Awaited<ReturnType<typeof loadTfModule>>;
let tf: Tf;
let dir: string;

beforeAll(async () => {
  tf = await loadTfModule();
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-residual-tfjs-'));
});

async function saved(model: tfjs.LayersModel, name: string): Promise<string> {
  return saveTfjs(tf, model, path.join(dir, name));
}

function randomInput(n: number, r: () => number): number[] {
  return Array.from({ length: n }, () => r() * 2 - 1);
}

/** runFloat of the import equals tfjs predict on random inputs; returns the import. */
async function expectMatchesTfjs(model: tfjs.LayersModel, name: string): Promise<FloatModel> {
  const imported = await loadTfjsLayersModel(await saved(model, name));
  expect(
    layerGraphError(
      imported.layers,
      imported.inputShape.reduce((a, b) => a * b, 1),
    ),
  ).toBeNull();
  const r = rng(name.length);
  const outputs: number[][] = [];
  for (let t = 0; t < 6; t++) {
    const x = randomInput(
      imported.inputShape.reduce((a, b) => a * b, 1),
      r,
    );
    const expected = predict(tf, model, x);
    const ours = runFloat(imported, x);
    expect(ours.length).toBe(expected.length);
    ours.forEach((v, i) => expect(Math.abs(v - expected[i]), `${name} trial ${t} output ${i}`).toBeLessThanOrEqual(1e-4));
    outputs.push(Array.from(ours));
  }
  // Not vacuous: the outputs depend on the input.
  expect(outputs.slice(1).some((o) => o.some((v, i) => Math.abs(v - outputs[0][i]) > 1e-3))).toBe(true);
  return imported;
}

const summary = (m: FloatModel) => m.layers.map((l) => [l.kind, l.name, l.kind === 'add' ? l.inputs : (l.from ?? null), 'activation' in l ? l.activation : null]);

describe('tfjs functional residual models import and match tfjs predict', () => {
  it('identity shortcut: conv relu -> conv -> add -> relu -> maxpool -> dense', async () => {
    const model = residualArchitectures(tf).identity();
    randomizeWeights(tf, model, 11);
    const m = await expectMatchesTfjs(model, 'identity');
    expect(m.inputShape).toEqual([8, 8, 1]);
    expect(summary(m)).toEqual([
      ['conv2d', 'c1', null, 'relu'],
      ['conv2d', 'c2', null, 'linear'],
      ['add', 'sum', [2, 1], 'relu'],
      ['maxpool', 'pool', null, null],
      ['dense', 'logits', null, 'linear'],
    ]);
  });

  it('projection shortcut with BatchNormalization in the branch, Dropout on the skip and ReLU6 after the add', async () => {
    const model = residualArchitectures(tf).projection();
    randomizeWeights(tf, model, 12);
    const m = await expectMatchesTfjs(model, 'projection');
    expect(summary(m)).toEqual([
      ['conv2d', 'c1', null, 'relu'],
      ['conv2d', 'c2', null, 'linear'],
      ['conv2d', 'proj', 1, 'linear'],
      ['add', 'sum', [2, 3], 'relu6'],
      ['maxpool', 'pool', null, null],
      ['dense', 'logits', null, 'linear'],
    ]);
    expect(m.notes.join()).toMatch(/batch normalization c2_bn folded into c2/);
  });

  it('residual MLP: dense relu -> dense -> add -> relu -> dense', async () => {
    const model = residualArchitectures(tf).mlp();
    randomizeWeights(tf, model, 13);
    const m = await expectMatchesTfjs(model, 'mlp');
    expect(summary(m)).toEqual([
      ['dense', 'd1', null, 'relu'],
      ['dense', 'd2', null, 'linear'],
      ['add', 'sum', [1, 2], 'relu'],
      ['dense', 'logits', null, 'linear'],
    ]);
  });

  it('a chain-shaped functional model still imports as a chain', async () => {
    const x = tf.input({ shape: [6], name: 'in' });
    const h = tf.layers.dense({ units: 5, activation: 'relu', name: 'h' }).apply(x) as tfjs.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: tf.layers.dense({ units: 3, name: 'out' }).apply(h) as tfjs.SymbolicTensor });
    randomizeWeights(tf, model, 14);
    const m = await expectMatchesTfjs(model, 'chain');
    expect(m.layers.every((l) => l.kind !== 'add' && l.from === undefined)).toBe(true);
  });
});

async function expectRejected(file: Promise<string>, ...fragments: string[]): Promise<void> {
  const err = await loadTfjsLayersModel(await file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'import should fail').toBeInstanceOf(ZkinferError);
  expect((err as ZkinferError).code).toBe('UNSUPPORTED_LAYER');
  for (const f of fragments) expect((err as ZkinferError).message).toContain(f);
}

describe('tfjs functional models the IR cannot express are rejected, naming the layer', () => {
  const L = () => tf.layers;
  const sym = (layer: tfjs.layers.Layer, x: tfjs.SymbolicTensor | tfjs.SymbolicTensor[]) => layer.apply(x) as tfjs.SymbolicTensor;
  /** input [4] -> two dense 4 branches a, b -> merge(a, b) -> dense 2. */
  function merged(merge: (a: tfjs.SymbolicTensor, b: tfjs.SymbolicTensor, x: tfjs.SymbolicTensor) => tfjs.SymbolicTensor): tfjs.LayersModel {
    const x = tf.input({ shape: [4], name: 'x' });
    const a = sym(L().dense({ units: 4, name: 'a' }), x);
    const b = sym(L().dense({ units: 4, name: 'b' }), x);
    return tf.model({ inputs: x, outputs: sym(L().dense({ units: 2, name: 'out' }), merge(a, b, x)) });
  }

  it('Concatenate', async () => {
    await expectRejected(
      saved(
        merged((a, b) => sym(L().concatenate({ name: 'cat' }), [a, b])),
        'concat',
      ),
      'layer cat (Concatenate)',
      'only Add of two tensors',
    );
  });

  it('Multiply', async () => {
    await expectRejected(
      saved(
        merged((a, b) => sym(L().multiply({ name: 'mul' }), [a, b])),
        'mul',
      ),
      'layer mul (Multiply)',
    );
  });

  it('an Add of three tensors', async () => {
    await expectRejected(
      saved(
        merged((a, b, x) => sym(L().add({ name: 'add3' }), [a, b, x])),
        'add3',
      ),
      'layer add3 (Add) sums 3 tensors (a, b, x)',
      'only two',
    );
  });

  it('an Add of two differently shaped tensors', async () => {
    // tfjs refuses to build this model, so edit a saved one: branch b gets 3 units instead of 4.
    const file = await saved(
      merged((a, b) => sym(L().add({ name: 'sum' }), [a, b])),
      'addshape',
    );
    const json = JSON.parse(await readFile(file, 'utf8'));
    json.modelTopology.config.layers.find((l: { name: string }) => l.name === 'b').config.units = 3;
    const specs = json.weightsManifest[0].weights as Array<{ name: string; shape: number[] }>;
    specs.find((w) => w.name.startsWith('b/kernel'))!.shape = [4, 3];
    specs.find((w) => w.name.startsWith('b/bias'))!.shape = [3];
    const total = specs.reduce((n, w) => n + w.shape.reduce((x, y) => x * y, 1), 0);
    await writeFile(path.join(path.dirname(file), 'weights.bin'), Buffer.alloc(4 * total));
    await writeFile(file, JSON.stringify(json));
    await expectRejected(Promise.resolve(file), 'layer sum (Add)', 'a [4] and b [3] have different shapes');
  });

  it('a shared layer (one Dense applied twice)', async () => {
    const x = tf.input({ shape: [4], name: 'x' });
    const shared = L().dense({ units: 4, name: 'twice' });
    const y = sym(shared, sym(shared, x));
    const model = tf.model({ inputs: x, outputs: sym(L().dense({ units: 2, name: 'out' }), y) });
    await expectRejected(saved(model, 'shared'), 'layer twice (Dense) is called 2 times', 'shared layer');
  });

  it('two model outputs', async () => {
    const x = tf.input({ shape: [4], name: 'x' });
    const a = sym(L().dense({ units: 3, name: 'head_a' }), x);
    const b = sym(L().dense({ units: 2, name: 'head_b' }), x);
    await expectRejected(saved(tf.model({ inputs: x, outputs: [a, b] }), 'twoout'), '2 outputs (head_a, head_b)');
  });

  it('two model inputs', async () => {
    const x = tf.input({ shape: [4], name: 'x1' });
    const y = tf.input({ shape: [4], name: 'x2' });
    const s = sym(L().add({ name: 'sum' }), [sym(L().dense({ units: 4, name: 'a' }), x), y]);
    await expectRejected(saved(tf.model({ inputs: [x, y], outputs: sym(L().dense({ units: 2, name: 'out' }), s) }), 'twoin'), '2 inputs (x1, x2)');
  });

  it('an activation that cannot fold: its input is also read, un-activated, by the skip add', async () => {
    const x = tf.input({ shape: [4], name: 'x' });
    const h = sym(L().dense({ units: 4, name: 'h' }), x);
    const r = sym(L().activation({ activation: 'relu', name: 'h_relu' }), h);
    const s = sym(L().add({ name: 'sum' }), [sym(L().dense({ units: 4, name: 'g' }), r), h]);
    await expectRejected(
      saved(tf.model({ inputs: x, outputs: sym(L().dense({ units: 2, name: 'out' }), s) }), 'badfold'),
      'layer h_relu (Activation) cannot be folded into h',
      'also read by sum',
    );
  });

  it('a BatchNormalization that cannot fold: its input passes through a Dropout that the add also reads', async () => {
    const x = tf.input({ shape: [4], name: 'x' });
    const d = sym(L().dropout({ rate: 0.1, name: 'drop' }), sym(L().dense({ units: 4, name: 'h' }), x));
    const s = sym(L().add({ name: 'sum' }), [sym(L().batchNormalization({ name: 'bn' }), d), d]);
    await expectRejected(
      saved(tf.model({ inputs: x, outputs: sym(L().dense({ units: 2, name: 'out' }), s) }), 'badbn'),
      'layer bn (BatchNormalization) cannot be folded into h',
      'the output of drop (that is, of h) is also read by sum',
    );
  });
});
