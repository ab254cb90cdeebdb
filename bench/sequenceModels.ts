/**
 * `npm run bench:sequence [-- --compile-only]`: sequence models of our own, written with the project's
 * ONNX writer in EZKL's layout (<name>/network.onnx + input.json) into a temp folder and run through the
 * conformance runner (bench/conformance.ts: calibrate, compile, set up, prove, verify, compare with
 * onnxruntime within 2% of its largest output): a GRU, a bidirectional RNN, 2-head self-attention with a
 * causal mask (Trilu + Where -inf), and a token embedding (int ids in [0, 11), positions as a constant).
 * Writes bench/sequence-conformance.json. The builders are shared with the tests.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OnnxGraphBuilder } from '../test/helpers/onnxGraph.js';

export type MaskKind = 'where-inf' | 'where-1e9' | 'add-1e9' | 'none';

function random(seed: number) {
  let s = seed;
  return (n: number, scale = 1) => Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * scale);
}

/** x [1, T, D] -> H-head self-attention (causal mask as `mask`) -> output projection [1, T, D]. */
export function causalAttention(T: number, D: number, H: number, mask: MaskKind, seed = 5): Uint8Array {
  const rnd = random(seed);
  const g = new OnnxGraphBuilder('attn');
  const dh = D / H;
  g.input('x', 'float', [1, T, D]);
  for (const w of ['wq', 'wk', 'wv', 'wo']) g.initializer(w, 'float', [D, D], rnd(D * D, 0.6));
  g.initializer('heads', 'int64', [4], [1, T, H, dh]);
  g.initializer('merged', 'int64', [3], [1, T, D]);
  g.initializer('scale', 'float', [], [1 / Math.sqrt(dh)]);
  const head = (w: string) => {
    const [p] = g.node('MatMul', ['x', w]);
    const [r] = g.node('Reshape', [p, 'heads']);
    return g.node('Transpose', [r], undefined, { perm: [0, 2, 1, 3] })[0];
  };
  const [q, k, v] = [head('wq'), head('wk'), head('wv')];
  const [kt] = g.node('Transpose', [k], undefined, { perm: [0, 1, 3, 2] });
  const [qk] = g.node('MatMul', [q, kt]);
  let [scores] = g.node('Mul', [qk, 'scale']);
  if (mask !== 'none') {
    g.initializer('ones', 'float', [T, T], new Array(T * T).fill(1));
    g.initializer('zero', 'float', [], [0]);
    const [tril] = g.node('Trilu', ['ones'], undefined, { upper: 0 });
    const [future] = g.node('Equal', [tril, 'zero']);
    if (mask === 'add-1e9') {
      g.initializer('big', 'float', [], [-1e9]);
      const [m] = g.node('Where', [future, 'big', 'zero']);
      [scores] = g.node('Add', [scores, m]);
    } else {
      g.initializer('neg', 'float', [], [mask === 'where-inf' ? -Infinity : -1e9]);
      [scores] = g.node('Where', [future, 'neg', scores]);
    }
  }
  const [att] = g.node('Softmax', [scores], undefined, { axis: -1 });
  const [ctxv] = g.node('MatMul', [att, v]);
  const [tr] = g.node('Transpose', [ctxv], undefined, { perm: [0, 2, 1, 3] });
  const [mg] = g.node('Reshape', [tr, 'merged']);
  g.node('MatMul', [mg, 'wo'], ['y']);
  g.output('y', 'float', [1, T, D]);
  return g.encode();
}

/** tokens [1, T] -> Gather(embedding [vocab, 4]) + positional [T, 4] (a constant) -> MatMul [4, 3]. */
export function tokenEmbedding(T: number, vocab: number, seed = 11): Uint8Array {
  const rnd = random(seed);
  const g = new OnnxGraphBuilder('embed');
  g.input('tokens', 'int64', [1, T]);
  g.initializer('emb', 'float', [vocab, 4], rnd(vocab * 4));
  g.initializer('pos', 'float', [T, 4], rnd(T * 4, 0.3));
  g.initializer('w', 'float', [4, 3], rnd(12));
  const [e] = g.node('Gather', ['emb', 'tokens'], undefined, { axis: 0 });
  const [h] = g.node('Add', [e, 'pos']);
  g.node('MatMul', [h, 'w'], ['y']);
  g.output('y', 'float', [1, T, 3]);
  return g.encode();
}

/** x [T, 1, I] -> GRU or (bidirectional) RNN with hidden size H -> Y and Y_h. */
export function recurrent(op: 'GRU' | 'RNN', T: number, I: number, H: number, dirs: 1 | 2, seed = 7): Uint8Array {
  const rnd = random(seed);
  const G = op === 'GRU' ? 3 : 1;
  const g = new OnnxGraphBuilder(op.toLowerCase());
  g.input('x', 'float', [T, 1, I]);
  g.initializer('W', 'float', [dirs, G * H, I], rnd(dirs * G * H * I, 0.6));
  g.initializer('R', 'float', [dirs, G * H, H], rnd(dirs * G * H * H, 0.6));
  g.initializer('B', 'float', [dirs, 2 * G * H], rnd(dirs * 2 * G * H, 0.3));
  g.node(op, ['x', 'W', 'R', 'B'], ['y', 'yh'], { hidden_size: H, ...(dirs === 2 ? { direction: 'bidirectional' } : {}) });
  g.output('y', 'float');
  g.output('yh', 'float');
  return g.encode();
}

export function sequenceModels(): Array<{ name: string; bytes: Uint8Array; input: number[][] }> {
  const rnd = random(21);
  return [
    { name: 'gru', bytes: recurrent('GRU', 4, 3, 4, 1), input: [rnd(12, 1.5)] },
    { name: 'rnn_bidirectional', bytes: recurrent('RNN', 4, 3, 4, 2), input: [rnd(12, 1.5)] },
    { name: 'mha_causal', bytes: causalAttention(6, 8, 2, 'where-inf'), input: [rnd(48, 1.5)] },
    { name: 'token_embedding', bytes: tokenEmbedding(6, 11), input: [[3, 0, 10, 7, 7, 1]] },
  ];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'zkinfer-sequence-'));
  for (const m of sequenceModels()) {
    mkdirSync(path.join(dir, m.name));
    writeFileSync(path.join(dir, m.name, 'network.onnx'), m.bytes);
    writeFileSync(path.join(dir, m.name, 'input.json'), JSON.stringify({ input_data: m.input }));
  }
  const json = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sequence-conformance.json');
  const extra = process.argv.slice(2);
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, path.join(path.dirname(fileURLToPath(import.meta.url)), 'conformance.ts'), dir, '--json', json, '--artifacts', path.join(dir, 'artifacts'), ...extra],
    { stdio: 'inherit' },
  );
  process.exit(r.status ?? 1);
}
