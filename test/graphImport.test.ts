import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnnx, type OrtInput } from '../bench/ort.js';
import { NodeAttrs, userShape, type Graph } from '../src/graph/ir.js';
import { importOnnxGraph, loadOnnxGraph } from '../src/graph/onnx.js';
import { DEFAULT_QUANT, QBuilder } from '../src/graph/quant/builder.js';
import { OPS, supportedOps } from '../src/graph/ops/index.js';
import type { LowerCtx, QTensor } from '../src/graph/quant/qtensor.js';
import { runPasses } from '../src/graph/passes/index.js';
import { ONNX_ATTR, ONNX_DTYPE } from '../src/model/onnxProto.js';
import { ZkinferError } from '../src/util/errors.js';
import { evalGraph } from './helpers/graphEval.js';
import { f, OnnxGraphBuilder, tensorValue, type Dim, type OnnxDType } from './helpers/onnxGraph.js';
import { floatTensor, writeOnnx } from './helpers/onnxWriter.js';

const load = (bytes: Uint8Array): Graph => runPasses(importOnnxGraph(bytes, 'test'));
const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** Deterministic values in [-2, 2) with halves and negatives, so casts and rounding are exercised. */
const values = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => (((i * 7 + seed * 13) % 16) - 8) / 4);

/** The one-line message of the ZkinferError `run` throws. */
function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ZkinferError);
    const msg = (err as ZkinferError).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error('expected a ZkinferError');
}

/** onnxruntime and the passes + evalFloat agree on every graph output (data movement: exactly). */
async function agree(g: OnnxGraphBuilder, feeds: Record<string, { dtype: OnnxDType; shape: number[]; data: number[] }>): Promise<Graph> {
  const bytes = g.encode();
  const ort = await runOnnx(bytes, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { shape: v.shape, data: v.data } as OrtInput])));
  const graph = load(bytes);
  const ours = evalGraph(graph, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.data])));
  for (const o of graph.outputs) {
    const want = ort[o.name];
    const got = ours.get(o.name)!;
    expect(got.shape, o.name).toEqual(want.shape);
    expect(o.shape, `${o.name} inferred`).toEqual(want.shape);
    expect(got.dtype, o.name).toBe(want.dtype);
    // float32 in onnxruntime vs float64 here: data movement is exact once inputs are float32 values.
    expect(Array.from(got.data).map(Math.fround), o.name).toEqual(Array.from(want.data).map(Math.fround));
  }
  return graph;
}

/** A one-input graph around `build`, fed values(); returns the graph after the passes. */
async function single(opset: number, dims: number[], build: (g: OnnxGraphBuilder, x: string) => string | string[], dtype: OnnxDType = 'float'): Promise<Graph> {
  const g = new OnnxGraphBuilder('t', { opset });
  g.input('x', dtype, dims);
  const out = build(g, 'x');
  for (const o of Array.isArray(out) ? out : [out]) g.output(o, dtype);
  const n = count(dims);
  return agree(g, { x: { dtype, shape: dims, data: dtype === 'float' ? values(n) : Array.from({ length: n }, (_, i) => i - 3) } });
}

describe('ONNX import and passes: graph structure', () => {
  it('an mnist-style Shape-Gather-Unsqueeze-Concat-Reshape chain folds to one Reshape with a constant shape', async () => {
    const g = new OnnxGraphBuilder('mnist', { opset: 13 });
    g.input('x', 'float', ['batch_size', 1, 4, 4]);
    const [shape] = g.node('Shape', ['x']);
    const zero = g.constant('int64', [], [0]);
    const [n] = g.node('Gather', [shape, zero], undefined, { axis: 0 });
    const axes = g.constant('int64', [1], [0]);
    const [n1] = g.node('Unsqueeze', [n, axes]);
    const minus = g.initializer('minus_one', 'int64', [1], [-1]);
    const [target] = g.node('Concat', [n1, minus], undefined, { axis: 0 });
    g.output(g.node('Reshape', ['x', target], ['y'])[0], 'float', ['batch_size', 16]);
    const graph = await agree(g, { x: { dtype: 'float', shape: [1, 1, 4, 4], data: values(16) } });
    expect(graph.nodes.map((x) => x.op)).toEqual(['Reshape']);
    const shapeConst = graph.constants.get(graph.nodes[0].inputs[1])!;
    expect(shapeConst.dtype).toBe('int');
    expect(Array.from(shapeConst.data)).toEqual([1, -1]);
    expect([...graph.constants.keys()]).toHaveLength(1);
    expect(graph.inputs).toEqual([{ name: 'x', dtype: 'float', shape: [1, 1, 4, 4], batch: true }]);
    expect(userShape(graph.inputs[0])).toEqual([1, 4, 4]);
    expect(graph.outputs[0]).toEqual({ name: 'y', dtype: 'float', shape: [1, 16], batch: true });
    expect(userShape(graph.outputs[0])).toEqual([16]);
    expect(graph.notes.some((s) => s.includes("input 'x': symbolic batch dimension"))).toBe(true);
    expect(graph.values!.get('y')).toEqual({ name: 'y', dtype: 'float', shape: [1, 16] });
  });

  it('ConstantOfShape -> Expand -> Tile and Range -> Cast -> Reshape chains fold into one constant input of a Concat', async () => {
    const g = new OnnxGraphBuilder('chains', { opset: 13 });
    g.input('x', 'float', [4, 2, 3]);
    const [c] = g.node('ConstantOfShape', [g.constant('int64', [2], [2, 1])], undefined, { value: tensorValue('float', [1], [0.5]) });
    const [e] = g.node('Expand', [c, g.constant('int64', [3], [2, 1, 3])]);
    const [t] = g.node('Tile', [e, g.constant('int64', [3], [2, 1, 1])]);
    const [r] = g.node('Range', [g.constant('float', [], [0]), g.constant('float', [], [6]), g.constant('float', [], [1])]);
    const [ri] = g.node('Cast', [r], undefined, { to: ONNX_DTYPE.INT64 });
    const [rf] = g.node('Cast', [ri], undefined, { to: ONNX_DTYPE.FLOAT });
    const [rr] = g.node('Reshape', [rf, g.constant('int64', [3], [1, 2, 3])]);
    const [rx] = g.node('Expand', [rr, g.constant('int64', [3], [4, 1, 1])]);
    g.output(g.node('Concat', ['x', t, rx], ['y'], { axis: 2 })[0], 'float');
    const graph = await agree(g, { x: { dtype: 'float', shape: [4, 2, 3], data: values(24) } });
    expect(graph.nodes.map((x) => x.op)).toEqual(['Concat']);
    expect(graph.nodes[0].inputs.slice(1).map((i) => graph.constants.get(i)!.shape)).toEqual([
      [4, 2, 3],
      [4, 2, 3],
    ]);
    expect(graph.outputs[0].shape).toEqual([4, 2, 9]);
    expect(graph.inputs[0].batch).toBeUndefined();
    expect(graph.notes).toContain('folded 8 nodes with constant inputs into constants');
  });

  it('Identity and Dropout are bypassed (a graph output keeps its Identity), dead branches go with a note', async () => {
    const g = new OnnxGraphBuilder('ids', { opset: 13 });
    g.input('x', 'float', [2, 3]);
    const [a] = g.node('Identity', ['x']);
    const [b] = g.node('Transpose', [a], undefined, { perm: [1, 0] });
    const [c] = g.node('Dropout', [b, g.constant('float', [], [0.3])]);
    // A dead branch is never checked: its op need not be supported.
    g.node('Relu', [a], ['unused'], {}, { name: 'dead' });
    g.output(g.node('Identity', [c], ['y'])[0], 'float');
    const graph = await agree(g, { x: { dtype: 'float', shape: [2, 3], data: values(6) } });
    expect(graph.nodes.map((n) => `${n.op}(${n.inputs.join(',')})`)).toEqual(['Transpose(x)', 'Identity(transpose_1_out)']);
    expect(graph.notes).toContain("dropped node 'dead' (Relu): no graph output depends on it");
  });

  it('initializers of every dtype, initializers listed as inputs, Constant node forms, unnamed nodes, opset', () => {
    const g = new OnnxGraphBuilder('dtypes', { opset: 11, irVersion: 3 });
    g.input('x', 'float', [2, 2]);
    for (const [name, dtype] of [
      ['d', 'double'],
      ['h', 'float16'],
      ['i32', 'int32'],
      ['i64', 'int64'],
      ['b', 'bool'],
    ] as const) {
      g.initializer(name, dtype, [2], dtype === 'bool' ? [true, false] : dtype.startsWith('int') ? [1, -2] : [1.5, -2], { asInput: name === 'd' });
    }
    g.node('Constant', [], ['cf'], { value_float: f(2.5) });
    g.node('Constant', [], ['ci'], { value_ints: [3, -4] });
    g.node('Constant', [], ['cfs'], { value_floats: f([1, 2]) });
    g.node('Constant', [], ['cv'], { value: tensorValue('int32', [1, 2], [7, 8]) });
    g.output('x', 'float');
    const raw = importOnnxGraph(g.encode(), 'fallback');
    expect(raw.opset).toBe(11);
    expect(raw.inputs.map((i) => i.name)).toEqual(['x']);
    const c = (n: string) => [raw.constants.get(n)!.dtype, raw.constants.get(n)!.shape, Array.from(raw.constants.get(n)!.data)];
    expect(c('d')).toEqual(['float', [2], [1.5, -2]]);
    expect(c('h')).toEqual(['float', [2], [1.5, -2]]);
    expect(c('i32')).toEqual(['int', [2], [1, -2]]);
    expect(c('i64')).toEqual(['int', [2], [1, -2]]);
    expect(c('b')).toEqual(['bool', [2], [1, 0]]);
    expect(c('cf')).toEqual(['float', [], [2.5]]);
    expect(c('ci')).toEqual(['int', [2], [3, -4]]);
    expect(c('cfs')).toEqual(['float', [2], [1, 2]]);
    expect(c('cv')).toEqual(['int', [1, 2], [7, 8]]);
    expect(raw.nodes).toEqual([]);

    // Unnamed nodes are named by op and position; attributes of each type decode.
    const bytes = writeOnnx({
      opset: 13,
      irVersion: 8,
      graph: {
        name: '',
        node: [
          {
            op_type: 'Transpose',
            input: ['x'],
            output: ['y'],
            attribute: [
              { name: 'perm', type: ONNX_ATTR.INTS, ints: [1, 0] },
              { name: 's', type: ONNX_ATTR.STRINGS, strings: [Buffer.from('a')] },
            ],
          },
        ],
        initializer: [],
        input: [{ name: 'x', type: { tensor_type: { elem_type: ONNX_DTYPE.FLOAT, shape: { dim: [{ dim_value: 2 }, { dim_value: 3 }] } } } }],
        output: [{ name: 'y', type: { tensor_type: { elem_type: ONNX_DTYPE.FLOAT } } }],
      },
    });
    const u = importOnnxGraph(bytes, 'fallback');
    expect(u.name).toBe('fallback');
    expect(u.nodes[0]).toEqual({ name: 'Transpose_0', op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm: [1, 0], s: ['a'] } });
  });

  it('a declared output shape that disagrees with inference is refused', () => {
    const g = new OnnxGraphBuilder('decl', { opset: 13 });
    g.input('x', 'float', ['N', 6]);
    g.output(g.node('Reshape', ['x', g.constant('int64', [2], [2, 3])], ['y'])[0], 'float', ['N', 3, 2]);
    expect(errorOf(() => load(g.encode()))).toBe("graph output 'y' is declared with shape [?, 3, 2] but computes [2, 3]");
  });
});

describe('structural ops: evalFloat equals onnxruntime', () => {
  const node =
    (op: string, ins: string[], attrs: Parameters<OnnxGraphBuilder['node']>[3] = {}, outs?: number) =>
    (g: OnnxGraphBuilder, x: string) => {
      const r = g.node(
        op,
        ins.map((i) => (i === 'X' ? x : i)),
        outs,
        attrs,
      );
      return outs ? r : r[0];
    };
  const i64 = (g: OnnxGraphBuilder, v: number[], dims = [v.length]) => g.constant('int64', dims, v);

  it('Reshape: 0 copies, -1 infers; allowzero', async () => {
    await single(13, [2, 3, 4], (g, x) => g.node('Reshape', [x, i64(g, [0, -1])])[0]);
    await single(14, [2, 3, 4], (g, x) => g.node('Reshape', [x, i64(g, [4, 0, -1])], undefined, { allowzero: 0 })[0]);
    await single(14, [2, 3, 4], (g, x) => g.node('Reshape', [x, i64(g, [6, 4])], undefined, { allowzero: 1 })[0]);
  });

  it('Flatten with positive, zero and negative axes', async () => {
    for (const axis of [0, 2, -1, 3]) await single(13, [2, 3, 4], node('Flatten', ['X'], { axis }));
  });

  it('Squeeze and Unsqueeze: opset 13 (axes input) and opset 11 (axes attribute), negative axes', async () => {
    await single(13, [2, 1, 3, 1], (g, x) => g.node('Squeeze', [x, i64(g, [-1, 1])])[0]);
    await single(13, [2, 1, 3, 1], (g, x) => g.node('Squeeze', [x])[0]);
    await single(11, [2, 1, 3, 1], node('Squeeze', ['X'], { axes: [-3] }));
    await single(13, [2, 3], (g, x) => g.node('Unsqueeze', [x, i64(g, [0, -1])])[0]);
    await single(11, [2, 3], node('Unsqueeze', ['X'], { axes: [1, -1] }));
  });

  it('Transpose with a permutation and by default', async () => {
    await single(13, [2, 3, 4], node('Transpose', ['X'], { perm: [2, 0, 1] }));
    await single(13, [2, 3, 4], node('Transpose', ['X']));
  });

  it('Concat with constants on a negative axis', async () => {
    await single(13, [2, 3], (g, x) => g.node('Concat', [g.constant('float', [2, 1], [9, 8]), x, x], undefined, { axis: -1 })[0]);
    await single(13, [2, 3], (g, x) => g.node('Concat', [x, g.constant('float', [1, 3], [9, 8, 7])], undefined, { axis: 0 })[0]);
  });

  it('Split: split input (13), split attribute (11), equal parts, num_outputs with a smaller last part (18)', async () => {
    await single(13, [2, 5], (g, x) => g.node('Split', [x, i64(g, [2, 3])], 2, { axis: 1 }));
    await single(11, [2, 5], node('Split', ['X'], { axis: -1, split: [4, 1] }, 2));
    await single(13, [4, 3], node('Split', ['X'], {}, 2));
    await single(18, [2, 5], node('Split', ['X'], { axis: 1, num_outputs: 3 }, 3));
  });

  it('Slice: negative starts and steps, clamped ends, axes; opset 9 attributes', async () => {
    const big = 2 ** 62;
    await single(13, [4, 5], (g, x) => g.node('Slice', [x, i64(g, [-1, 1]), i64(g, [-big, big]), i64(g, [0, -1]), i64(g, [-2, 2])])[0]);
    await single(13, [4, 5], (g, x) => g.node('Slice', [x, i64(g, [1]), i64(g, [-1])])[0]);
    await single(13, [4, 5], (g, x) => g.node('Slice', [x, i64(g, [10]), i64(g, [-10]), i64(g, [1]), i64(g, [-3])])[0]);
    await single(13, [4, 5], (g, x) => g.node('Slice', [x, i64(g, [3]), i64(g, [1]), i64(g, [1])])[0]);
    await single(9, [4, 5], node('Slice', ['X'], { starts: [1, -3], ends: [100, -1], axes: [0, 1] }));
  });

  it('Pad: constant value, reflect, edge, negative pads (13), and the opset 10 attribute form', async () => {
    await single(13, [2, 3], (g, x) => g.node('Pad', [x, i64(g, [1, 0, 0, 2]), g.constant('float', [], [1.5])])[0]);
    await single(13, [2, 3], (g, x) => g.node('Pad', [x, i64(g, [1, 2, 1, 2])], undefined, { mode: 'reflect' })[0]);
    await single(13, [2, 3], (g, x) => g.node('Pad', [x, i64(g, [2, 1, 0, 3])], undefined, { mode: 'edge' })[0]);
    await single(13, [3, 4], (g, x) => g.node('Pad', [x, i64(g, [-1, 1, 0, -2])])[0]);
    await single(10, [2, 3], node('Pad', ['X'], { pads: [0, 1, 1, 0], value: f(-2) }));
    await single(18, [2, 3, 2], (g, x) => g.node('Pad', [x, i64(g, [1, 2]), '', i64(g, [-2])])[0]);
  });

  it('Gather: negative and 2-D indices, scalar index, any axis', async () => {
    await single(13, [3, 4], (g, x) => g.node('Gather', [x, i64(g, [-1, 0, 2, 2], [2, 2])], undefined, { axis: 1 })[0]);
    await single(13, [3, 4], (g, x) => g.node('Gather', [x, i64(g, [-2], [])], undefined, { axis: 0 })[0]);
    await single(13, [2, 3, 2], (g, x) => g.node('Gather', [x, g.constant('int32', [3], [1, -1, 0])], undefined, { axis: -2 })[0]);
  });

  it('Expand (both ways) and Tile', async () => {
    await single(13, [3, 1], (g, x) => g.node('Expand', [x, i64(g, [2, 1, 4])])[0]);
    await single(13, [2, 3], (g, x) => g.node('Expand', [x, i64(g, [3, 1, 1])])[0]);
    await single(13, [2, 3], (g, x) => g.node('Tile', [x, i64(g, [2, 3])])[0]);
  });

  it('Resize nearest: coordinate modes x rounding modes, scales and sizes; opset 10', async () => {
    const modes: Array<[string, string]> = [
      ['asymmetric', 'floor'],
      ['half_pixel', 'round_prefer_floor'],
      ['align_corners', 'round_prefer_ceil'],
      ['pytorch_half_pixel', 'ceil'],
      ['tf_half_pixel_for_nn', 'floor'],
    ];
    for (const [ct, nm] of modes) {
      const attrs = { mode: 'nearest', coordinate_transformation_mode: ct, nearest_mode: nm };
      await single(13, [1, 2, 3, 3], (g, x) => g.node('Resize', [x, '', g.constant('float', [4], [1, 1, 2, 1.5])], undefined, attrs)[0]);
      await single(13, [1, 2, 4, 5], (g, x) => g.node('Resize', [x, '', '', i64(g, [1, 2, 2, 7])], undefined, attrs)[0]);
    }
    await single(11, [1, 1, 2, 3], (g, x) => g.node('Resize', [x, g.constant('float', [0], []), g.constant('float', [4], [1, 1, 2, 2])], undefined, { mode: 'nearest' })[0]);
    await single(10, [1, 1, 2, 3], (g, x) => g.node('Resize', [x, g.constant('float', [4], [1, 1, 3, 0.5])], undefined, { mode: 'nearest' })[0]);
  });

  it('Cast: float to int truncates toward zero, to bool, int to float; Shape (start/end), Size', async () => {
    const g = new OnnxGraphBuilder('cast', { opset: 15 });
    g.input('x', 'float', [2, 4]);
    g.output(g.node('Cast', ['x'], ['i'], { to: ONNX_DTYPE.INT64 })[0], 'int64');
    g.output(g.node('Cast', ['x'], ['b'], { to: ONNX_DTYPE.BOOL })[0], 'bool');
    g.output(g.node('Cast', ['i'], ['f'], { to: ONNX_DTYPE.FLOAT })[0], 'float');
    g.output(g.node('Shape', ['x'], ['s'], { start: -1 })[0], 'int64');
    g.output(g.node('Shape', ['x'], ['s2'], { end: 1 })[0], 'int64');
    g.output(g.node('Size', ['x'], ['n'])[0], 'int64');
    const graph = await agree(g, { x: { dtype: 'float', shape: [2, 4], data: [-1.75, -1.5, -0.5, 0, 0.25, 1.5, 1.99, -3] } });
    expect(graph.nodes.map((n) => n.op)).toEqual(['Cast', 'Cast', 'Cast']);
  });
});

describe('structural ops lower by picking input forms', () => {
  const lowerCtx = (
    op: string,
    attrs: Record<string, number | string>,
    inputs: string[],
    consts: Array<Graph['constants'] extends Map<string, infer T> ? T | undefined : never>,
  ): LowerCtx => {
    const node = { name: 'n', op, inputs, outputs: ['y'], attrs };
    return { node, attrs: new NodeAttrs(node), opset: 13, constant: (i: number) => consts[i] } as unknown as LowerCtx;
  };
  const q = (shape: number[], scale: number, dtype: QTensor['dtype'] = 'float'): QTensor => ({
    dtype,
    shape,
    scale,
    elems: Array.from({ length: count(shape) }, (_, i) => ({ bias: i, terms: [[i, 1]] })),
  });
  const ints = (v: number[]) => ({ dtype: 'int' as const, shape: [v.length], data: Float64Array.from(v) });
  const asQ = (v: number[]): QTensor => ({ dtype: 'int', shape: [v.length], scale: 1, elems: v.map((b) => ({ bias: b, terms: [] })) });

  it('Pad reuses the same forms and fills with round(c / scale)', () => {
    const x = q([2, 2], 0.25);
    const pads = [0, 1, 0, 0];
    const cv = { dtype: 'float' as const, shape: [], data: Float64Array.from([1.3]) };
    const ctx = lowerCtx('Pad', {}, ['x', 'p', 'c'], [undefined, ints(pads), cv]);
    const [out] = OPS.get('Pad')!.lower!(ctx, [x, asQ(pads), { dtype: 'float', shape: [], scale: 1, elems: [{ bias: 1, terms: [] }] }]);
    expect(out.shape).toEqual([2, 3]);
    expect(out.scale).toBe(0.25);
    expect(out.elems[0]).toEqual({ bias: 5, terms: [] });
    expect(out.elems[1]).toBe(x.elems[0]);
    expect(out.elems[5]).toBe(x.elems[3]);
  });

  it('Concat brings inputs to the finest scale: exactly when the ratio is an integer, else by one requantization', () => {
    const a = q([1, 2], 0.5);
    const b = q([1, 1], 0.125);
    const [out] = OPS.get('Concat')!.lower!(lowerCtx('Concat', { axis: 1 }, ['a', 'b'], []), [a, b]);
    expect(out.scale).toBe(0.125);
    expect(out.elems).toEqual([{ bias: 0, terms: [[0, 4]] }, { bias: 4, terms: [[1, 4]] }, b.elems[0]]);
    // 0.5 and 0.3: a requantizes onto 0.3 (a primitive per element of a), c keeps its forms.
    const builder = new QBuilder(DEFAULT_QUANT);
    for (let i = 0; i < 2; i++) builder.signal({ lo: -10, hi: 10 });
    const c = q([1, 1], 0.3);
    const ctx = { ...lowerCtx('Concat', { axis: 1 }, ['a', 'c'], []), b: builder } as LowerCtx;
    const [mixed] = OPS.get('Concat')!.lower!(ctx, [a, { ...c, elems: [{ bias: 0, terms: [[1, 1]] }] }]);
    expect(mixed.scale).toBe(0.3);
    expect(builder.prims.map((p) => p.kind)).toEqual(['requant', 'requant']);
    expect(mixed.elems[2]).toEqual({ bias: 0, terms: [[1, 1]] });
  });

  it('Cast of computed values: int/bool to float is bookkeeping (float to int: test/graphCompare.test.ts)', () => {
    const cast = OPS.get('Cast')!;
    const x = q([3], 1, 'bool');
    const [out] = cast.lower!(lowerCtx('Cast', { to: ONNX_DTYPE.FLOAT }, ['x'], []), [x]);
    expect(out).toEqual({ dtype: 'float', shape: [3], scale: 1, elems: x.elems });
  });
});

describe('refusals are one line naming what to fix', () => {
  const supported = () => supportedOps().join(', ');

  it('an unknown operator lists the supported ones', () => {
    const g = new OnnxGraphBuilder('u', { opset: 17 });
    g.input('x', 'float', [2]);
    g.output(g.node('STFT', ['x'], ['y'], {}, { name: 'spec' })[0], 'float');
    expect(errorOf(() => load(g.encode()))).toBe(`node 'spec' (STFT): operator STFT is not supported (supported: ${supported()})`);
  });

  it('other domains, subgraphs, external data, strings and symbolic inner dims', () => {
    const dom = new OnnxGraphBuilder('d', { opset: 17, imports: { 'com.microsoft': 1 } });
    dom.input('x', 'float', [2]);
    dom.output(dom.node('FusedGemm', ['x'], ['y'], {}, { name: 'fg', domain: 'com.microsoft' })[0], 'float');
    expect(errorOf(() => importOnnxGraph(dom.encode()))).toBe("node 'fg' (FusedGemm): operator domain 'com.microsoft' is not supported (only the default ONNX domain, opset 17)");

    const vi = (name: string, elem: number = ONNX_DTYPE.FLOAT) => ({ name, type: { tensor_type: { elem_type: elem, shape: { dim: [{ dim_value: 1 }] } } } });
    const sub = { name: 'body', node: [], initializer: [], input: [], output: [vi('x')] };
    const ifModel = writeOnnx({
      opset: 13,
      irVersion: 8,
      graph: {
        name: 'g',
        node: [{ op_type: 'If', name: 'branch', input: ['x'], output: ['y'], attribute: [{ name: 'then_branch', type: ONNX_ATTR.GRAPH, g: sub }] }],
        initializer: [],
        input: [vi('x')],
        output: [vi('y')],
      },
    });
    expect(errorOf(() => importOnnxGraph(ifModel))).toBe("node 'branch' (If): attribute 'then_branch' is a subgraph; control flow (If, Loop, Scan) is not supported");

    const ext = { ...floatTensor('w', [1], [1]), raw_data: undefined, data_location: 1, external_data: [{ key: 'location', value: 'w.bin' }] };
    const extModel = writeOnnx({ opset: 13, irVersion: 8, graph: { name: 'g', node: [], initializer: [ext], input: [vi('x')], output: [vi('x')] } });
    expect(errorOf(() => importOnnxGraph(extModel))).toBe(
      "initializer 'w' uses external data files, which are not supported (save the model with the weights inside the .onnx file)",
    );

    const u16 = { name: 'w', dims: [1], data_type: ONNX_DTYPE.UINT32, raw_data: new Uint8Array(4) };
    const u16Model = writeOnnx({ opset: 13, irVersion: 8, graph: { name: 'g', node: [], initializer: [u16], input: [vi('x')], output: [vi('x')] } });
    expect(errorOf(() => importOnnxGraph(u16Model))).toBe(
      "initializer 'w' has data type UINT32, which is not supported (supported: FLOAT, DOUBLE, FLOAT16, INT64, INT32, INT16, UINT16, INT8, UINT8, BOOL)",
    );

    const str = writeOnnx({ opset: 13, irVersion: 8, graph: { name: 'g', node: [], initializer: [], input: [vi('s', ONNX_DTYPE.STRING)], output: [vi('s', ONNX_DTYPE.STRING)] } });
    expect(errorOf(() => importOnnxGraph(str))).toBe("graph input 's' has element type STRING, which is not supported (float, double, float16, integers, bool)");

    const sym = new OnnxGraphBuilder('s', { opset: 13 });
    sym.input('x', 'float', ['N', 3, 'H'] as Dim[]);
    sym.output(sym.node('Identity', ['x'], ['y'])[0], 'float');
    expect(errorOf(() => load(sym.encode()))).toBe(
      "graph input 'x': dimension 2 of [?, 3, ?] is symbolic or unknown; only a leading batch dimension may be (export the model with fixed sizes)",
    );
  });

  it('op refusals name the node, the attribute or input, and the value', () => {
    const one = (build: (g: OnnxGraphBuilder) => string, opset = 13) => {
      const g = new OnnxGraphBuilder('e', { opset });
      g.input('x', 'float', [2, 3, 4, 4]);
      g.input('k', 'int64', [2]);
      g.output(build(g), 'float');
      return errorOf(() => load(g.encode()));
    };
    expect(one((g) => g.node('Resize', ['x', '', g.constant('float', [4], [1, 1, 2, 2])], ['y'], { mode: 'linear' }, { name: 'up' })[0])).toBe(
      "node 'up' (Resize): attribute 'mode' = \"linear\" is not supported (nearest only; linear and cubic interpolation are not supported yet)",
    );
    expect(one((g) => g.node('Reshape', ['x', 'k'], ['y'], {}, { name: 'r' })[0])).toBe(
      "node 'r' (Reshape): input 1 (shape, 'k') must be a constant, but it is computed by the graph",
    );
    expect(one((g) => g.node('Reshape', ['x', g.constant('int64', [2], [5, -1])], ['y'], {}, { name: 'r' })[0])).toBe(
      "node 'r' (Reshape): shape [5,-1] cannot hold the input's 96 elements (input shape [2, 3, 4, 4])",
    );
    expect(one((g) => g.node('Transpose', ['x'], ['y'], { perm: [0, 1, 1, 2] }, { name: 't' })[0])).toBe("node 't' (Transpose): perm [0,1,1,2] is not a permutation of the 4 axes");
    expect(one((g) => g.node('Squeeze', ['x', g.constant('int64', [1], [-3])], ['y'], {}, { name: 'q' })[0])).toBe(
      "node 'q' (Squeeze): axis 1 has size 3, only dimensions of size 1 can be squeezed (input shape [2, 3, 4, 4])",
    );
    expect(one((g) => g.node('Concat', ['x', 'x'], ['y'], { axis: 4 }, { name: 'c' })[0])).toBe("node 'c' (Concat): axis 4 is out of range for rank 4 (valid: -4..3)");
    expect(one((g) => g.node('Gather', ['x', g.constant('int64', [1], [3])], ['y'], { axis: 0 }, { name: 'g' })[0])).toBe(
      "node 'g' (Gather): index 3 is out of range for axis 0 of size 2",
    );
    expect(one((g) => g.node('Pad', ['x', g.constant('int64', [8], [0, 0, 0, 0, 0, 0, 0, 0])], ['y'], { mode: 'wrap' }, { name: 'p' })[0], 19)).toBe(
      "node 'p' (Pad): attribute 'mode' = \"wrap\" is not supported (constant, reflect, edge)",
    );
    expect(one((g) => g.node('Squeeze', ['x'], ['y'], { axes: [1] }, { name: 'q' })[0])).toBe(
      "node 'q' (Squeeze): attribute 'axes' is an input from opset 13 on (this model uses opset 13)",
    );
  });
});

const EZKL = path.resolve(__dirname, '../../shared/peer-models/ezkl');

describe.skipIf(!existsSync(EZKL))('EZKL example models', () => {
  it('import + passes succeed, or fail only on an operator not yet in OPS', async () => {
    const rows: string[] = [];
    for (const dir of readdirSync(EZKL).sort()) {
      const file = path.join(EZKL, dir, 'network.onnx');
      if (!existsSync(file)) continue;
      try {
        const g = runPasses(await loadOnnxGraph(file));
        rows.push(`ok       ${dir}: ${g.nodes.map((n) => n.op).join(' ')} -> ${g.outputs.map((o) => `[${userShape(o)}]`).join(' ')}`);
      } catch (err) {
        expect(err, dir).toBeInstanceOf(ZkinferError);
        const e = err as ZkinferError;
        const m = /^node '.*' \((\w+)\): operator (\w+) is not supported \(supported: /.exec(e.message);
        expect(e.code, `${dir}: ${e.message}`).toBe('UNSUPPORTED_LAYER');
        expect(m, `${dir}: ${e.message}`).not.toBeNull();
        expect(OPS.has(m![2]), dir).toBe(false);
        rows.push(`missing  ${dir}: ${m![2]}`);
      }
    }
    console.log(`EZKL models through importOnnxGraph + runPasses:\n${rows.join('\n')}`);
    expect(rows.length).toBeGreaterThan(0);
  });
});
