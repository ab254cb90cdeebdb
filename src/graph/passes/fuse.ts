/**
 * Fusions that save constraints, for every importer. Each pass rewrites a node pair into one node when the
 * first node's output has no other reader and is not a graph output, so no other value changes.
 *
 * - foldBatchNorm: Conv/ConvTranspose/Gemm with constant weights, then BatchNormalization: the BN's
 *   per-channel affine map goes into the weights and bias (inference mode).
 * - foldChannelAffine: Conv/Gemm, then Mul/Div/Add/Sub by a constant that is the same along every axis but
 *   the output channel: into the weights (Mul, Div) or the bias (Add, Sub).
 * - fuseActivation: a linear op, then Relu (or Clip with min 0 and no max): the activation becomes the
 *   node's `__act` attribute. Fused ops requantize their output onto the range calibrated after the
 *   activation, whose low end is then 0, so the requantization's clamp is the Relu (no extra constraint).
 * - fuseMaxPool: a Conv with constant weights (and its fused activation), then a MaxPool whose windows
 *   do not overlap: the pool becomes the Conv's `__pool` attributes, and the Conv takes each window's
 *   maximum of its accumulators before requantizing (QBuilder.linear's Pooling: exact, since the
 *   requantization is monotone). Per pooled output of a 2x2 window that is 3 comparisons of the
 *   accumulators' width and 1 requantization, instead of 4 requantizations and 3 comparisons of the
 *   activations' width; with overlapping windows it would not be cheaper (one comparison chain per
 *   output, not per element), so those stay apart.
 * - cancelTransposes: a Transpose whose only reader is a Transpose undoing it (tfjs layers wrap every
 *   NHWC layer in such pairs): both go, so the layers around them can fuse.
 */
import { NodeAttrs, nodeLabel, size, tensor, type Graph, type Node, type Tensor } from '../ir.js';
import { disjointWindows } from '../ops/pool.js';

/** Ops whose lowering always ends by requantizing onto the calibrated output range (ops/linear.ts). */
export const ACTIVATION_HOSTS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

interface Use {
  readers: Map<string, Node[]>;
  outputs: Set<string>;
}

function uses(graph: Graph): Use {
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i !== '') readers.set(i, [...(readers.get(i) ?? []), n]);
  return { readers, outputs: new Set(graph.outputs.map((o) => o.name)) };
}

/** The only reader of `value`, when there is exactly one and the value is not a graph output. */
function soleReader(u: Use, value: string): Node | undefined {
  const r = u.readers.get(value);
  return r && r.length === 1 && !u.outputs.has(value) ? r[0] : undefined;
}

/** Output channels of a linear node with constant weights, and how weight element k maps to its channel. */
function channelsOf(graph: Graph, node: Node): { count: number; channelOf: (k: number) => number; weight: Tensor } | undefined {
  const w = graph.constants.get(node.inputs[1]);
  if (!w || w.dtype !== 'float') return undefined;
  if (node.op === 'Conv') {
    const per = size(w.shape.slice(1));
    return { count: w.shape[0], channelOf: (k) => Math.floor(k / per), weight: w };
  }
  if (node.op === 'ConvTranspose') {
    const group = Number(node.attrs.group ?? 1);
    if (group !== 1) return undefined;
    const per = size(w.shape.slice(2));
    return { count: w.shape[1], channelOf: (k) => Math.floor(k / per) % w.shape[1], weight: w };
  }
  if (node.op === 'Gemm' && w.shape.length === 2 && Number(node.attrs.alpha ?? 1) === 1) {
    const transB = Number(node.attrs.transB ?? 0) === 1;
    const n = transB ? w.shape[0] : w.shape[1];
    return { count: n, channelOf: transB ? (k) => Math.floor(k / w.shape[1]) : (k) => k % n, weight: w };
  }
  return undefined;
}

/** Rewrite `host` to compute y = a[c] * host(x) + b[c] per output channel c, in its constants. */
function applyChannelAffine(graph: Graph, host: Node, a: Float64Array, b: Float64Array, suffix: string): boolean {
  const ch = channelsOf(graph, host);
  if (!ch || a.length !== ch.count || b.length !== ch.count) return false;
  const biasIndex = 2;
  const beta = host.op === 'Gemm' ? Number(host.attrs.beta ?? 1) : 1;
  const oldBias = host.inputs[biasIndex] ? graph.constants.get(host.inputs[biasIndex]) : undefined;
  if (host.inputs[biasIndex] && (!oldBias || size(oldBias.shape) !== ch.count)) return false;
  const weight = tensor(
    'float',
    ch.weight.shape,
    ch.weight.data.map((v, k) => v * a[ch.channelOf(k)]),
  );
  const bias = tensor(
    'float',
    [ch.count],
    Array.from({ length: ch.count }, (_, c) => (oldBias ? beta * oldBias.data[c] : 0) * a[c] + b[c]),
  );
  const wName = `${host.name}.weight.${suffix}`;
  const bName = `${host.name}.bias.${suffix}`;
  graph.constants.set(wName, weight);
  graph.constants.set(bName, bias);
  host.inputs = [host.inputs[0], wName, bName, ...host.inputs.slice(3)];
  if (host.op === 'Gemm') host.attrs = { ...host.attrs, beta: 1 };
  return true;
}

/** Replace `second` by `host`: host now produces second's output. */
function absorb(graph: Graph, host: Node, second: Node): void {
  host.outputs = [second.outputs[0]];
  graph.nodes = graph.nodes.filter((n) => n !== second);
}

export function foldBatchNorm(graph: Graph): Graph {
  for (const host of [...graph.nodes]) {
    if (!['Conv', 'ConvTranspose', 'Gemm'].includes(host.op)) continue;
    const bn = soleReader(uses(graph), host.outputs[0]);
    if (!bn || bn.op !== 'BatchNormalization' || bn.inputs[0] !== host.outputs[0] || bn.outputs.filter(Boolean).length !== 1) continue;
    const [scale, bias, mean, variance] = bn.inputs.slice(1, 5).map((n) => graph.constants.get(n));
    if (!scale || !bias || !mean || !variance) continue;
    const eps = Number(bn.attrs.epsilon ?? 1e-5);
    const a = scale.data.map((g, c) => g / Math.sqrt(variance.data[c] + eps));
    const b = bias.data.map((beta, c) => beta - mean.data[c] * a[c]);
    if (applyChannelAffine(graph, host, a, b, 'bn')) {
      absorb(graph, host, bn);
      graph.notes.push(`${nodeLabel(bn)} folded into ${nodeLabel(host)}`);
    }
  }
  return graph;
}

/** A constant that varies only along the channel axis of an output of the given rank, as one value per channel. */
function perChannel(t: Tensor, rank: number, channelAxis: number, channels: number): Float64Array | undefined {
  if (t.dtype !== 'float' || t.shape.length > rank) return undefined;
  const shape = [...new Array(rank - t.shape.length).fill(1), ...t.shape];
  if (shape.some((d, i) => d !== 1 && i !== channelAxis)) return undefined;
  const n = shape[channelAxis];
  if (n !== 1 && n !== channels) return undefined;
  return Float64Array.from({ length: channels }, (_, c) => t.data[n === 1 ? 0 : c]);
}

export function foldChannelAffine(graph: Graph, outputRank: (value: string) => number | undefined): Graph {
  for (const host of [...graph.nodes]) {
    if (!['Conv', 'ConvTranspose', 'Gemm'].includes(host.op)) continue;
    const next = soleReader(uses(graph), host.outputs[0]);
    if (!next || !['Mul', 'Div', 'Add', 'Sub'].includes(next.op)) continue;
    const other = next.inputs[0] === host.outputs[0] ? next.inputs[1] : next.inputs[0];
    const c = graph.constants.get(other);
    const rank = outputRank(host.outputs[0]);
    const ch = channelsOf(graph, host);
    if (!c || rank === undefined || !ch) continue;
    // Sub and Div are only linear in the host's output when it is their first input.
    if ((next.op === 'Sub' || next.op === 'Div') && next.inputs[0] !== host.outputs[0]) continue;
    const v = perChannel(c, rank, host.op === 'Gemm' ? rank - 1 : 1, ch.count);
    if (!v || (next.op === 'Div' && v.some((x) => x === 0))) continue;
    const ones = new Float64Array(ch.count).fill(1);
    const zeros = new Float64Array(ch.count);
    const [a, b] = next.op === 'Mul' ? [v, zeros] : next.op === 'Div' ? [v.map((x) => 1 / x), zeros] : next.op === 'Add' ? [ones, v] : [ones, v.map((x) => -x)];
    if (applyChannelAffine(graph, host, a, b, next.op.toLowerCase())) {
      absorb(graph, host, next);
      graph.notes.push(`${nodeLabel(next)} by a constant folded into ${nodeLabel(host)}`);
    }
  }
  return graph;
}

export function fuseActivation(graph: Graph): Graph {
  for (const host of [...graph.nodes]) {
    if (!ACTIVATION_HOSTS.has(host.op) || host.attrs.__act !== undefined) continue;
    const act = soleReader(uses(graph), host.outputs[0]);
    if (!act || act.inputs[0] !== host.outputs[0]) continue;
    const isRelu = act.op === 'Relu';
    const min = act.op === 'Clip' ? (act.inputs[1] ? graph.constants.get(act.inputs[1])?.data[0] : Number(act.attrs.min ?? -Infinity)) : undefined;
    const clipAtZero = act.op === 'Clip' && min === 0 && !act.inputs[2] && act.attrs.max === undefined;
    if (!isRelu && !clipAtZero) continue;
    host.attrs = { ...host.attrs, __act: 'Relu' };
    absorb(graph, host, act);
  }
  return graph;
}

export function fuseMaxPool(graph: Graph, opset = 13): Graph {
  for (const host of [...graph.nodes]) {
    if (host.op !== 'Conv' || host.attrs.__pool !== undefined || !graph.constants.has(host.inputs[1])) continue;
    const pool = soleReader(uses(graph), host.outputs[0]);
    const shape = graph.values?.get(host.outputs[0])?.shape;
    if (!pool || pool.op !== 'MaxPool' || pool.inputs[0] !== host.outputs[0] || pool.outputs.filter(Boolean).length !== 1 || !shape) continue;
    if (!disjointWindows({ node: pool, attrs: new NodeAttrs(pool), opset }, shape)) continue;
    const attrs: Node['attrs'] = { ...host.attrs, __pool: 'MaxPool' };
    for (const [k, v] of Object.entries(pool.attrs)) attrs[`__pool.${k}`] = v;
    host.attrs = attrs;
    absorb(graph, host, pool);
  }
  return graph;
}

/** perm of b(a(x)) for Transposes a then b. */
const composePerms = (a: number[], b: number[]) => b.map((i) => a[i]);

export function cancelTransposes(graph: Graph): Graph {
  for (const first of [...graph.nodes]) {
    if (first.op !== 'Transpose' || !graph.nodes.includes(first)) continue;
    const second = soleReader(uses(graph), first.outputs[0]);
    const a = first.attrs.perm;
    const b = second?.attrs.perm;
    if (!second || second.op !== 'Transpose' || !Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) continue;
    const out = second.outputs[0];
    if (uses(graph).outputs.has(out)) continue;
    if (!composePerms(a as number[], b as number[]).every((p, i) => p === i)) continue;
    for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === out ? first.inputs[0] : i));
    graph.nodes = graph.nodes.filter((n) => n !== first && n !== second);
  }
  return graph;
}
