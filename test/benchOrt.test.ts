import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onnxInputInfo, openOnnx, runOnnx } from '../bench/ort.js';
import { raiseOpset10, widenNarrowMatMul } from '../bench/ortCompat.js';
import * as ort from 'onnxruntime-node';
import { parseInputFile } from '../src/graph/inputs.js';
import type { ValueInfo } from '../src/graph/ir.js';
import { ONNX_DTYPE } from '../src/model/onnxProto.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';

/** x (float, batch), ids (int64), mask (bool), and an initializer w listed as an input, as IR 3 files do. */
function mixedModel(): Uint8Array {
  const g = new OnnxGraphBuilder('mixed', { irVersion: 8 });
  g.input('x', 'float', ['batch_size', 2]);
  g.input('ids', 'int64', [3]);
  g.input('mask', 'bool', [2]);
  g.input('d', 'double', [2]);
  g.input('k', 'int32', [2]);
  const w = g.initializer('w', 'float', [2], [10, 20], { asInput: true });
  g.output(g.node('Add', ['x', w], ['xw'])[0], 'float');
  g.output(g.node('Neg', ['ids'], ['neg_ids'])[0], 'int64');
  g.output(g.node('Not', ['mask'], ['not_mask'])[0], 'bool');
  g.output(g.node('Mul', ['d', 'd'], ['d2'])[0], 'double');
  g.output(g.node('Add', ['k', 'k'], ['k2'])[0], 'int32');
  g.output(g.node('Cast', ['x'], ['x16'], { to: ONNX_DTYPE.FLOAT16 })[0], 'float16');
  return g.encode();
}

const feeds = {
  x: { shape: [1, 2], data: [1.5, -2] },
  ids: { shape: [3], data: [1, -2, 2 ** 50] },
  mask: { shape: [2], data: [true, 0] },
  d: { shape: [2], data: [0.1, 3] },
  k: { shape: [2], data: [7, -8] },
};

describe('onnxInputInfo', () => {
  it('lists the declared inputs with element types and symbolic dims, skipping initializers', () => {
    const info = onnxInputInfo(mixedModel());
    expect(info.map((i) => [i.name, i.typeName, i.dtype, i.dims])).toEqual([
      ['x', 'FLOAT', 'float', ['batch_size', 2]],
      ['ids', 'INT64', 'int', [3]],
      ['mask', 'BOOL', 'bool', [2]],
      ['d', 'DOUBLE', 'float', [2]],
      ['k', 'INT32', 'int', [2]],
    ]);
    expect(info[1].elemType).toBe(ONNX_DTYPE.INT64);
  });

  it('reads a file by path', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'zkinfer-ort-')), 'm.onnx');
    writeFileSync(file, mixedModel());
    expect(onnxInputInfo(file).map((i) => i.name)).toEqual(['x', 'ids', 'mask', 'd', 'k']);
  });
});

describe('runOnnx', () => {
  it('converts inputs to the declared types and every output to float64', async () => {
    const out = await runOnnx(mixedModel(), feeds);
    const plain = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [v.dtype, v.shape, Array.from(v.data)]]));
    expect(plain).toEqual({
      xw: ['float', [1, 2], [11.5, 18]],
      neg_ids: ['int', [3], [-1, 2, -(2 ** 50)]],
      not_mask: ['bool', [2], [0, 1]],
      d2: ['float', [2], [0.1 * 0.1, 9]],
      k2: ['int', [2], [14, -16]],
      x16: ['float', [1, 2], [1.5, -2]],
    });
    for (const v of Object.values(out)) expect(v.data).toBeInstanceOf(Float64Array);
  });

  it('takes a path; an initializer listed as an input keeps its stored value', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'zkinfer-ort-')), 'm.onnx');
    writeFileSync(file, mixedModel());
    expect(Array.from((await runOnnx(file, feeds)).xw.data)).toEqual([11.5, 18]);
    await expect(runOnnx(file, { ...feeds, w: { shape: [2], data: [0, 1] } })).rejects.toThrow("no input 'w' in the model (its inputs: x, ids, mask, d, k)");
  });

  it('one session serves several runs', async () => {
    const runner = await openOnnx(mixedModel());
    expect(runner.inputNames).toContain('x');
    expect(runner.outputNames).toEqual(['xw', 'neg_ids', 'not_mask', 'd2', 'k2', 'x16']);
    const a = await runner.run(feeds);
    const b = await runner.run({ ...feeds, x: { shape: [2, 2], data: [0, 0, 1, 1] } });
    expect(a.xw.shape).toEqual([1, 2]);
    expect(Array.from(b.xw.data)).toEqual([10, 20, 11, 21]);
    await runner.release();
  });

  it('refuses unknown, missing, miscounted and non-integer inputs before onnxruntime sees them', async () => {
    const m = mixedModel();
    await expect(runOnnx(m, { ...feeds, y: { shape: [1], data: [1] } })).rejects.toThrow("no input 'y' in the model");
    const { ids: _ids, mask: _mask, ...rest } = feeds;
    await expect(runOnnx(m, rest)).rejects.toThrow("missing inputs 'ids', 'mask'");
    await expect(runOnnx(m, { ...feeds, x: { shape: [1, 2], data: [1] } })).rejects.toThrow("input 'x': 1 values for shape [1,2] (2)");
    await expect(runOnnx(m, { ...feeds, ids: { shape: [3], data: [1, 2.5, 3] } })).rejects.toThrow("input 'ids' is int64, but value [1] = 2.5 is not an integer");
  });
});

// The peer models (EZKL's examples) are the conformance set these helpers exist for.
const PEER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/peer-models/ezkl');

describe.skipIf(!existsSync(PEER))('on the peer models', () => {
  it('reads declared inputs: two inputs, symbolic and unnamed batch dims', () => {
    expect(onnxInputInfo(path.join(PEER, 'less/network.onnx')).map((i) => [i.name, i.typeName, i.dims])).toEqual([
      ['input', 'FLOAT', ['batch_size', 4]],
      ['input1', 'FLOAT', ['batch_size', 4]],
    ]);
    expect(onnxInputInfo(path.join(PEER, 'sklearn_mlp/network.onnx'))[0].dims).toEqual([null, 3]);
  });

  it("feeds an EZKL input.json to an int64 input and reproduces the file's output_data", async () => {
    for (const name of ['1l_where', '1l_batch_norm']) {
      const file = path.join(PEER, name, 'network.onnx');
      const inputs: ValueInfo[] = onnxInputInfo(file).map((i) => ({ name: i.name, dtype: i.dtype!, shape: i.dims!.slice(1) as number[] }));
      const json = JSON.parse(readFileSync(path.join(PEER, name, 'input.json'), 'utf8')) as { output_data?: number[][] };
      const values = parseInputFile(json, inputs, `${name}/input.json`);
      const out = await runOnnx(file, Object.fromEntries(inputs.map((i) => [i.name, { shape: [1, ...i.shape], data: values.get(i.name)! }])));
      const first = Object.values(out)[0];
      expect(first.shape[0]).toBe(1);
      // EZKL's output_data is its own quantized result: close to onnxruntime, not equal.
      json.output_data?.[0].forEach((v, k) => expect(Math.abs(first.data[k] - v)).toBeLessThan(0.01));
    }
  });
});

/** A hummingbird-style tree step: an int8 0/1 decision vector times an int8 path matrix, compared with Equal at opset 10. */
function int8MatMulModel(): Uint8Array {
  const g = new OnnxGraphBuilder('int8mm', { opset: 10 });
  g.input('x', 'float', [1, 3]);
  const t = g.initializer('t', 'float', [3], [0.5, -1, 2]);
  const decision = g.node('Cast', [g.node('Less', ['x', t], ['lt'])[0]], ['d8'], { to: ONNX_DTYPE.INT8 })[0];
  const paths = g.initializer('p', 'int8', [3, 2], [1, -1, 1, 0, -1, 1]);
  const counts = g.node('MatMul', [decision, paths], ['c8'])[0];
  const want = g.initializer('w', 'int8', [2], [1, 0]);
  g.output(g.node('Cast', [g.node('Equal', [counts, want], ['eq'])[0]], ['hit'], { to: ONNX_DTYPE.INT64 })[0], 'int64');
  return g.encode();
}

describe('widenNarrowMatMul', () => {
  it('gives onnxruntime a spec-valid int32 copy of an int8 MatMul model, with the values the file means', async () => {
    await expect(ort.InferenceSession.create(int8MatMulModel(), { logSeverityLevel: 3 })).rejects.toThrow(/tensor\(int8\)/);
    const copy = widenNarrowMatMul(int8MatMulModel());
    expect(copy).not.toBeNull();
    // x < t = [1, 0, 1]: counts = [1 + 0 - 1, -1 + 0 + 1] = [0, 0]; Equal [1, 0] -> [0, 1].
    expect(Array.from((await runOnnx(copy!, { x: { shape: [1, 3], data: [0, 0, 0] } })).hit.data)).toEqual([0, 1]);
    // x < t = [1, 1, 0]: counts = [1 + 1, -1 + 0] = [2, -1] -> [0, 0].
    const runner = await openOnnx(int8MatMulModel());
    expect(runner.note).toMatch(/widened to int32/);
    expect(Array.from((await runner.run({ x: { shape: [1, 3], data: [0, -2, 3] } })).hit.data)).toEqual([0, 0]);
    await runner.release();
  });

  it('leaves a model without narrow MatMul operands alone', () => {
    expect(widenNarrowMatMul(mixedModel())).toBeNull();
  });
});

describe('raiseOpset10', () => {
  /** A float Equal (a mask compared with 0) in an opset-10 file, as exporters write them. */
  const maskModel = (extra?: string) => {
    const g = new OnnxGraphBuilder('mask', { opset: 10 });
    g.input('x', 'float', [3]);
    const zero = g.initializer('z', 'float', [3], [0, 1, 0]);
    let eq = g.node('Equal', ['x', zero], ['eq'])[0];
    if (extra) eq = g.node('Not', [g.node('Not', [eq])[0]])[0];
    const y = g.node('Cast', [eq], ['y'], { to: ONNX_DTYPE.FLOAT })[0];
    g.output(extra ? g.node(extra, [y], ['out'], { pads: [1, 1], mode: 'constant' })[0] : y, 'float');
    return g.encode();
  };

  it('reads an opset-10 model at opset 11 when every op means the same there', async () => {
    await expect(ort.InferenceSession.create(maskModel(), { logSeverityLevel: 3 })).rejects.toThrow(/Equal/);
    const runner = await openOnnx(maskModel());
    expect(runner.note).toMatch(/opset 11/);
    expect(Array.from((await runner.run({ x: { shape: [3], data: [0, 1, 2] } })).y.data)).toEqual([1, 1, 0]);
    await runner.release();
  });

  it('refuses to when an op changed meaning at 11 (Pad takes its pads as an input there)', () => {
    expect(raiseOpset10(maskModel('Pad'))).toBeNull();
  });
});
