import { describe, expect, it } from 'vitest';
import { runOnnx, type OrtOutput } from '../bench/ort.js';
import { decodeOnnxModel, ONNX_ATTR, ONNX_DTYPE } from '../src/model/onnxProto.js';
import { f, OnnxGraphBuilder, tensorValue, toAttr } from './helpers/onnxGraph.js';

// Every graph is built with OnnxGraphBuilder, run by onnxruntime (through bench/ort.ts), and its outputs
// compared with values worked out here: onnxruntime accepting the file shows the encoding is right.

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const F = (data: number[], shape: number[]) => ({ dtype: 'float' as const, shape, data });

function expectOutput(out: OrtOutput, dtype: OrtOutput['dtype'], shape: number[], data: number[], tol = 1e-6): void {
  expect(out.dtype).toBe(dtype);
  expect(out.shape).toEqual(shape);
  expect(out.data).toBeInstanceOf(Float64Array);
  expect(out.data.length).toBe(data.length);
  data.forEach((v, i) => expect(Math.abs(out.data[i] - v), `value ${i}: ${out.data[i]} vs ${v}`).toBeLessThanOrEqual(tol));
}

describe('OnnxGraphBuilder graphs run in onnxruntime', () => {
  it('Gemm + Relu with float attributes forced by f()', async () => {
    const g = new OnnxGraphBuilder('gemm_relu', { opset: 17 });
    g.input('x', 'float', [2, 3]);
    const w = g.initializer('w', 'float', [2, 3], [1, 0, -1, 0.5, 0.5, 0.5]);
    const b = g.initializer('b', 'float', [2], [5, -4]);
    // alpha = 2 would be an INT attribute, which onnxruntime refuses for Gemm: f() makes it FLOAT.
    const [h] = g.node('Gemm', ['x', w, b], undefined, { transB: 1, alpha: f(2), beta: f(1) });
    g.output(g.node('Relu', [h], ['y'])[0], 'float', [2, 2]);
    const out = await runOnnx(g.encode(), { x: F([1, 2, 3, -1, 0, 1], [2, 3]) });
    // x W^T = [[-2, 3], [-2, 0]]; *2 + b = [[1, 2], [1, -4]]; relu.
    expectOutput(out.y, 'float', [2, 2], [1, 2, 1, 0]);
  });

  it('Conv with asymmetric pads, two groups and dilation 2', async () => {
    const g = new OnnxGraphBuilder('conv');
    g.input('x', 'float', [1, 2, 4, 4]);
    const w = g.initializer('w', 'float', [2, 1, 2, 2], [1, 2, 3, 4, -1, 0, 0, 1]);
    const b = g.initializer('b', 'float', [2], [0.5, -1]);
    const attrs = { kernel_shape: [2, 2], pads: [1, 0, 0, 1], group: 2, dilations: [2, 2], strides: [1, 1], auto_pad: 'NOTSET' };
    g.output(g.node('Conv', ['x', w, b], ['y'], attrs)[0], 'float');
    const x = range(32);
    // Output (c, oh, ow) sums w[c][kh][kw] * x[c][oh - 1 + 2 kh][ow + 2 kw] over the taps inside the image.
    const want: number[] = [];
    for (let c = 0; c < 2; c++) {
      for (let oh = 0; oh < 3; oh++) {
        for (let ow = 0; ow < 3; ow++) {
          let s = [0.5, -1][c];
          for (let kh = 0; kh < 2; kh++) {
            for (let kw = 0; kw < 2; kw++) {
              const ih = oh - 1 + 2 * kh;
              const iw = ow + 2 * kw;
              if (ih >= 0 && ih < 4 && iw < 4) s += [1, 2, 3, 4, -1, 0, 0, 1][c * 4 + kh * 2 + kw] * x[c * 16 + ih * 4 + iw];
            }
          }
          want.push(s);
        }
      }
    }
    // Spot-check the loop: channel 0, (0, 0) sees only row 1 (kh = 1): 3 x[4] + 4 x[6] + 0.5.
    expect(want[0]).toBe(3 * 4 + 4 * 6 + 0.5);
    expectOutput((await runOnnx(g.encode(), { x: F(x, [1, 2, 4, 4]) })).y, 'float', [1, 2, 3, 3], want);
  });

  it('two inputs, two outputs: broadcast Add and Mul', async () => {
    const g = new OnnxGraphBuilder('two_in_two_out');
    g.input('a', 'float', [2, 3]);
    g.input('b', 'float', [3]);
    g.output(g.node('Add', ['a', 'b'], ['sum'])[0], 'float');
    g.output(g.node('Mul', ['a', 'b'], ['prod'])[0], 'float');
    const out = await runOnnx(g.encode(), { a: F([1, 2, 3, 4, 5, 6], [2, 3]), b: F([10, 20, -1], [3]) });
    expect(Object.keys(out)).toEqual(['sum', 'prod']);
    expectOutput(out.sum, 'float', [2, 3], [11, 22, 2, 14, 25, 5]);
    expectOutput(out.prod, 'float', [2, 3], [10, 40, -3, 40, 100, -6]);
  });

  it('an int64 input cast to float, and an int64 output', async () => {
    const g = new OnnxGraphBuilder('cast');
    g.input('ids', 'int64', [4]);
    const half = g.initializer('half', 'float', [], [0.5]);
    const big = g.initializer('big', 'int64', [4], [2 ** 40, 0, -7, 1]);
    const [fl] = g.node('Cast', ['ids'], undefined, { to: ONNX_DTYPE.FLOAT });
    g.output(g.node('Mul', [fl, half], ['scaled'])[0], 'float');
    g.output(g.node('Add', ['ids', big], ['shifted'])[0], 'int64');
    const out = await runOnnx(g.encode(), { ids: { dtype: 'int', shape: [4], data: [3, -4, 100, 0] } });
    expectOutput(out.scaled, 'float', [4], [1.5, -2, 50, 0]);
    expectOutput(out.shifted, 'int', [4], [2 ** 40 + 3, -4, 93, 1], 0);
  });

  it('a bool input: Where, And with a bool initializer, Not as a bool output', async () => {
    const g = new OnnxGraphBuilder('where');
    g.input('cond', 'bool', [4]);
    g.input('x', 'float', [4]);
    const y = g.initializer('y', 'float', [4], [-1, -2, -3, -4]);
    const keep = g.initializer('keep', 'bool', [4], [1, 1, 0, 1]);
    g.output(g.node('Where', ['cond', 'x', y], ['picked'])[0], 'float');
    g.output(g.node('And', ['cond', keep], ['both'])[0], 'bool');
    g.output(g.node('Not', ['cond'], ['negated'])[0], 'bool');
    const out = await runOnnx(g.encode(), { cond: { dtype: 'bool', shape: [4], data: [true, false, true, 0] }, x: F([10, 20, 30, 40], [4]) });
    expectOutput(out.picked, 'float', [4], [10, -2, 30, -4]);
    expectOutput(out.both, 'bool', [4], [1, 0, 0, 0], 0);
    expectOutput(out.negated, 'bool', [4], [0, 1, 0, 1], 0);
  });

  it('Shape -> Gather -> Concat -> Reshape with Constant nodes, as PyTorch exports flatten', async () => {
    const g = new OnnxGraphBuilder('reshape_chain', { opset: 13 });
    g.input('x', 'float', [2, 3, 4]);
    const [shape] = g.node('Shape', ['x'], ['shape']);
    const zero = g.constant('int64', [1], [0]);
    const minusOne = g.constant('int64', [1], [-1], 'minus_one');
    const [batch] = g.node('Gather', [shape, zero], undefined, { axis: 0 });
    const [target] = g.node('Concat', [batch, minusOne], undefined, { axis: 0 });
    g.output(g.node('Reshape', ['x', target], ['y'])[0], 'float');
    g.output(shape, 'int64', [3]);
    const out = await runOnnx(g.encode(), { x: F(range(24), [2, 3, 4]) });
    expectOutput(out.y, 'float', [2, 12], range(24));
    expectOutput(out.shape, 'int', [3], [2, 3, 4], 0);
  });

  it('Split into three outputs of sizes 1, 2, 3', async () => {
    const g = new OnnxGraphBuilder('split', { opset: 13 });
    g.input('x', 'float', [2, 6]);
    const sizes = g.initializer('sizes', 'int64', [3], [1, 2, 3]);
    const parts = g.node('Split', ['x', sizes], 3, { axis: 1 });
    expect(parts).toEqual(['split_0_out0', 'split_0_out1', 'split_0_out2']);
    for (const p of parts) g.output(p, 'float');
    const out = await runOnnx(g.encode(), { x: F(range(12), [2, 6]) });
    expectOutput(out[parts[0]], 'float', [2, 1], [0, 6]);
    expectOutput(out[parts[1]], 'float', [2, 2], [1, 2, 7, 8]);
    expectOutput(out[parts[2]], 'float', [2, 3], [3, 4, 5, 9, 10, 11]);
  });

  it('a symbolic batch dimension runs at any batch size', async () => {
    const g = new OnnxGraphBuilder('batched');
    g.input('x', 'float', ['batch_size', 3]);
    const w = g.initializer('w', 'float', [3, 2], [1, 0, 0, 1, 1, 1]);
    const bias = g.constant('float', [2], [0.25, -0.25]);
    const [m] = g.node('MatMul', ['x', w]);
    g.output(g.node('Add', [m, bias], ['y'])[0], 'float', ['batch_size', 2]);
    const bytes = g.encode();
    expectOutput((await runOnnx(bytes, { x: F([1, 2, 3], [1, 3]) })).y, 'float', [1, 2], [4.25, 4.75]);
    const out = await runOnnx(bytes, { x: F([1, 2, 3, 0, 0, 0, -1, 1, 2], [3, 3]) });
    expectOutput(out.y, 'float', [3, 2], [4.25, 4.75, 0.25, -0.25, 1.25, 2.75]);
  });
});

describe('OnnxGraphBuilder encoding', () => {
  it('maps plain attribute values to ONNX attribute types', () => {
    const t = tensorValue('int64', [2], [1, 2]);
    const cases: Array<[unknown, number]> = [
      [3, ONNX_ATTR.INT],
      [-1, ONNX_ATTR.INT],
      [0.5, ONNX_ATTR.FLOAT],
      [f(1), ONNX_ATTR.FLOAT],
      [[1, 2], ONNX_ATTR.INTS],
      [[], ONNX_ATTR.INTS],
      [[1, 2.5], ONNX_ATTR.FLOATS],
      [f([1, 2]), ONNX_ATTR.FLOATS],
      ['SAME_UPPER', ONNX_ATTR.STRING],
      [['a', 'b'], ONNX_ATTR.STRINGS],
      [t, ONNX_ATTR.TENSOR],
    ];
    for (const [v, type] of cases) expect(toAttr('a', v as never).type, JSON.stringify(v)).toBe(type);
    expect(toAttr('a', f(1))).toMatchObject({ f: 1 });
    expect(toAttr('a', [1, 2.5])).toMatchObject({ floats: [1, 2.5] });
  });

  it('round-trips through the importer schema: opset import, names, attributes, initializers', () => {
    const g = new OnnxGraphBuilder('rt', { opset: 17, imports: { 'com.microsoft': 1 } });
    g.input('x', 'float', ['n', 2]);
    g.initializer('w', 'int64', [2], [5, -6], { asInput: true });
    g.initializer('m', 'bool', [2], [true, false]);
    const c = g.constant('float', [], [1.5], 'c');
    g.node('Foo', ['x', '', c], ['y'], { alpha: 0.25, mode: 'x', skipped: undefined }, { name: 'foo', domain: 'com.microsoft' });
    g.output('y', 'float');
    const m = decodeOnnxModel(g.encode());
    expect(m.opset_import).toEqual([
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ]);
    const graph = m.graph!;
    expect(graph.name).toBe('rt');
    expect(graph.input.map((i) => i.name)).toEqual(['x', 'w']);
    expect(graph.input[0].type?.tensor_type?.shape?.dim).toEqual([{ dim_param: 'n' }, { dim_value: 2 }]);
    expect(graph.initializer.map((t) => [t.name, t.data_type])).toEqual([
      ['w', ONNX_DTYPE.INT64],
      ['m', ONNX_DTYPE.BOOL],
    ]);
    expect(Array.from(graph.initializer[1].raw_data!)).toEqual([1, 0]);
    const [constant, foo] = graph.node;
    expect(constant.op_type).toBe('Constant');
    expect(constant.attribute[0]).toMatchObject({ name: 'value', type: ONNX_ATTR.TENSOR, t: { data_type: ONNX_DTYPE.FLOAT, dims: [] } });
    expect(foo).toMatchObject({ name: 'foo', domain: 'com.microsoft', input: ['x', '', 'c'], output: ['y'] });
    expect(foo.attribute.map((a) => a.name)).toEqual(['alpha', 'mode']);
  });

  it('refuses duplicate value names, unknown outputs and wrong value counts', () => {
    const g = new OnnxGraphBuilder('bad');
    g.input('x', 'float', [2]);
    expect(() => g.initializer('x', 'float', [2], [1, 2])).toThrow("value 'x' is defined twice");
    expect(() => g.output('nope', 'float')).toThrow("output 'nope' is not a value");
    expect(() => g.initializer('w', 'float', [2, 2], [1, 2])).toThrow('2 values for dims [2,2]');
    expect(() => g.encode()).toThrow('no outputs');
  });
});
