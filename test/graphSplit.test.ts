import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkWitness, loadR1cs, loadSymbols } from '../tools/r1cs.js';
import { computeWitness } from '../src/circuit/witness.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { compileGraphProgram } from '../src/graph/pipeline.js';
import { linkedWitness } from '../src/graph/link/index.js';
import { runChain, splitGraph } from '../src/graph/split.js';
import { compileSplit, proveSplit, setupSplit, type SplitModel } from '../src/graph/splitPipeline.js';
import type { Sample } from '../src/graph/quant/lower.js';
import { quantizeInputs, runProgram } from '../src/graph/quant/reference.js';
import type { Graph } from '../src/graph/ir.js';
import { ProverThreads } from '../src/queue/proverThreads.js';
import { ZkinferError } from '../src/util/errors.js';
import { verifyChain } from '../src/verify/core.js';
import { canonicalConstraints, keptNames, wtnsValues } from './helpers/r1csCompare.js';
import { OnnxGraphBuilder } from './helpers/onnxGraph.js';

/**
 * Split models (src/graph/split.ts, splitPipeline.ts, verify/core.ts verifyChain): the chained chunks
 * compute the whole model's integers; a chunk with committed outputs is the same constraint system from
 * circom and the linker; chains of 2 and 3 chunks prove (serially and on prover threads) and verify; a
 * link swapped for another input's proof, or an edited commitment, is rejected; bad cuts are one line.
 */
const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-split-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

let seed = 11;
const rnd = (n: number, s = 1) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

/**
 * Conv 2@3x3 -> Relu (r1) -> MaxPool 2 stride 1 (p1) -> Flatten (f) -> Gemm 6 -> Relu (h) -> Gemm 3 (y). The
 * pool windows overlap, so the pool stays a node of its own (passes/fuse.ts fuses only disjoint windows)
 * and r1 stays a tensor one can cut at.
 */
function smallCnn(): Uint8Array {
  const g = new OnnxGraphBuilder('small-cnn');
  g.input('x', 'float', [1, 1, 6, 6]);
  g.initializer('k', 'float', [2, 1, 3, 3], rnd(18, 0.5));
  g.initializer('kb', 'float', [2], rnd(2, 0.2));
  g.initializer('w1', 'float', [6, 18], rnd(108, 0.4));
  g.initializer('w2', 'float', [3, 6], rnd(18, 0.4));
  g.node('Conv', ['x', 'k', 'kb'], ['c1'], { kernel_shape: [3, 3] });
  g.node('Relu', ['c1'], ['r1']);
  g.node('MaxPool', ['r1'], ['p1'], { kernel_shape: [2, 2], strides: [1, 1] });
  g.node('Flatten', ['p1'], ['f']);
  g.node('Gemm', ['f', 'w1'], ['z1'], { transB: 1 });
  g.node('Relu', ['z1'], ['h']);
  g.node('Gemm', ['h', 'w2'], ['y'], { transB: 1 });
  g.output('y', 'float', [1, 3]);
  return g.encode();
}

/** x -> Gemm+Relu (a) -> Gemm+Relu (b) -> Add(a, b) (s) -> Gemm (y): a skip connection around b. */
function skip(): Uint8Array {
  const g = new OnnxGraphBuilder('skip');
  g.input('x', 'float', [1, 4]);
  g.initializer('w1', 'float', [4, 4], rnd(16, 0.5));
  g.initializer('w2', 'float', [4, 4], rnd(16, 0.5));
  g.initializer('w3', 'float', [2, 4], rnd(8, 0.5));
  g.node('Gemm', ['x', 'w1'], ['z1'], { transB: 1 });
  g.node('Relu', ['z1'], ['a']);
  g.node('Gemm', ['a', 'w2'], ['z2'], { transB: 1 });
  g.node('Relu', ['z2'], ['b']);
  g.node('Add', ['a', 'b'], ['s']);
  g.node('Gemm', ['s', 'w3'], ['y'], { transB: 1 });
  g.output('y', 'float', [1, 2]);
  return g.encode();
}

/** x[8] -> six Gemm+Relu layers of 32 (h1..h6) -> Gemm 3 (y). */
function deepMlp(): Uint8Array {
  const g = new OnnxGraphBuilder('deep');
  g.input('x', 'float', [1, 8]);
  let h = 'x';
  for (let l = 1; l <= 7; l++) {
    const [n, m] = [l === 7 ? 3 : 32, l === 1 ? 8 : 32];
    g.initializer(`w${l}`, 'float', [n, m], rnd(n * m, 1 / Math.sqrt(m)));
    g.node('Gemm', [h, `w${l}`], [l === 7 ? 'y' : `z${l}`], { transB: 1 });
    if (l < 7) h = g.node('Relu', [`z${l}`], [`h${l}`])[0];
  }
  g.output('y', 'float', [1, 3]);
  return g.encode();
}

const graph = (): Graph => runPasses(importOnnxGraph(smallCnn(), 'm'));
const samples = (g: Graph, n: number): Sample[] =>
  Array.from({ length: n }, () => new Map(g.inputs.map((i) => [i.name, Float64Array.from(rnd(i.shape.reduce((a, b) => a * b, 1)))])));
const g0 = graph();
const calibration = samples(g0, 6);
const inputs = samples(g0, 3);

describe('cutting the integer program', () => {
  it('2 and 3 chunks chained equal the whole model, with its quantization', () => {
    for (const split of [['p1'], ['r1', 'h']]) {
      const s = splitGraph(graph(), calibration, { split });
      expect(s.chunks).toHaveLength(split.length + 1);
      expect(s.cuts).toEqual(split);
      for (const sample of [...calibration, ...inputs]) {
        const x = quantizeInputs(s.whole, sample);
        const chain = runChain(s, x);
        expect(chain[chain.length - 1]).toEqual(runProgram(s.whole, x));
      }
      // The chunks are the whole program's primitives, renumbered: none lost, none added.
      expect(s.chunks.reduce((a, c) => a + c.prims.length, 0)).toBe(s.whole.prims.length);
      expect(s.chunks.flatMap((c) => c.prims.map((p) => p.kind === 'requant' && [p.mult, p.shift]))).toEqual(s.whole.prims.map((p) => p.kind === 'requant' && [p.mult, p.shift]));
    }
  });

  it('--split auto keeps every chunk within the budget', () => {
    const g = runPasses(importOnnxGraph(deepMlp(), 'd'));
    const cal = samples(g, 4);
    const whole = splitGraph(g, cal, { split: 'auto', chunkConstraints: 1e9 });
    expect(whole.chunks).toHaveLength(1);
    for (const fraction of [0.7, 0.45]) {
      const budget = Math.round(whole.estimates[0] * fraction);
      const s = splitGraph(g, cal, { split: 'auto', chunkConstraints: budget });
      expect(s.chunks.length).toBeGreaterThanOrEqual(fraction < 0.5 ? 3 : 2);
      for (const e of s.estimates) expect(e).toBeLessThanOrEqual(budget);
      const x = quantizeInputs(s.whole, cal[1]);
      expect(runChain(s, x).at(-1)).toEqual(runProgram(s.whole, x));
    }
  });

  it('bad cuts are one-line BAD_INPUT errors', () => {
    const cases: Array<[Parameters<typeof splitGraph>[2], RegExp]> = [
      [{ split: ['nope'] }, /^--split: 'nope' is not a tensor of the graph .*; cut tensors: /],
      [{ split: ['y'] }, /'y' is a graph output/],
      [{ split: ['x'] }, /'x' is a graph input/],
      [{ split: ['c1'] }, /'c1' is not a tensor of the graph \(after the passes\); cut tensors: r1, p1, f, h$/],
      [{ split: ['h', 'r1'] }, /tensor 'r1' is not after 'h'/],
      [{ split: ['p1', 'p1'] }, /'p1' is named twice/],
      [{ split: [] }, /needs at least one tensor/],
      [{ split: 'auto' }, /--split auto needs --chunk-constraints/],
      [{ split: 'auto', chunkConstraints: 10 }, /no cut keeps a chunk within 10 constraints/],
    ];
    for (const [options, message] of cases) {
      let err: unknown;
      try {
        splitGraph(graph(), calibration, options);
      } catch (e) {
        err = e;
      }
      expect(err, String(message)).toBeInstanceOf(ZkinferError);
      expect((err as ZkinferError).code).toBe('BAD_INPUT');
      expect((err as ZkinferError).message).toMatch(message);
      expect((err as ZkinferError).message).not.toMatch(/\n/);
    }
    // A cut that a skip connection goes around.
    const g = runPasses(importOnnxGraph(skip(), 's'));
    const cal = samples(g, 4);
    expect(() => splitGraph(g, cal, { split: ['b'] })).toThrow(/^--split: tensor 'b' cannot be a cut: a later node reads a value from before it/);
    const s = splitGraph(g, cal, { split: ['a'] });
    const x = quantizeInputs(s.whole, cal[0]);
    expect(runChain(s, x).at(-1)).toEqual(runProgram(s.whole, x));
  });
});

describe('a chunk with committed outputs', () => {
  // Chunk 2 of r1|p1 outputs max pools of its own inputs (range-checked before packing); chunk 2 of r1|h
  // outputs clamped requantizations, which RequantReluClamp confines already (no checks of its own).
  for (const [cuts, checks] of [
    [['r1', 'p1'], true],
    [['r1', 'h'], false],
  ] as const) {
    it(`circom and the linker give the same constraint system (cuts ${cuts}); a wrong commitment${checks ? ' or range bit' : ''} breaks it`, async () => {
      const s = splitGraph(graph(), calibration, { split: [...cuts] });
      const program = s.chunks[1];
      const options = { artifactsDir, visibility: { input: 'private', output: 'logits' }, commitOutputs: true } as const;
      const circom = await compileGraphProgram(program, { ...options, emit: 'circom' });
      const linked = await compileGraphProgram(program, { ...options, emit: 'linked' });
      const counts = (c: typeof circom.circuit) => [c.constraints, c.wires, c.outputs, c.publicInputs, c.privateInputs];
      expect(counts(linked.circuit)).toEqual(counts(circom.circuit));
      expect(circom.layout.outputs).toBe(0);
      expect(circom.layout.commitmentIndex).toBe(0);
      expect(circom.layout.outputCommitmentIndex).toBe(1);
      const [cNames, lNames] = await Promise.all([keptNames(circom.circuit.symPath), keptNames(linked.circuit.symPath)]);
      const [cSet, lSet] = await Promise.all([
        canonicalConstraints(circom.circuit.r1csPath, circom.circuit.symPath, lNames),
        canonicalConstraints(linked.circuit.r1csPath, linked.circuit.symPath, cNames),
      ]);
      expect([...lSet].sort()).toEqual([...cSet].sort());

      const x = runChain(s, quantizeInputs(s.whole, inputs[0]))[0];
      const item = { x, salt: 5n, outSalt: 9n };
      const w = wtnsValues(await linkedWitness(linked.linked!, program, [item]));
      const cw = await computeWitness(circom.circuit.wasmPath, item);
      const r1cs = await loadR1cs(linked.circuit.r1csPath);
      expect(checkWitness(r1cs, w).ok).toBe(true);
      expect(w.slice(0, 3)).toEqual(cw.slice(0, 3));
      const sym = await loadSymbols(linked.circuit.symPath);
      expect([...sym.keys()].some((name) => name.includes('outRange['))).toBe(checks);
      for (const pattern of [/^main\.outputCommitment$/, ...(checks ? [/outRange\[0\]\.b\.out\[0\]$/] : [])]) {
        const [, i] = [...sym].find(([name, i]) => i >= 0 && pattern.test(name))!;
        const bad = [...w];
        bad[i] = bad[i] + 1n;
        expect(checkWitness(r1cs, bad).ok, String(pattern)).toBe(false);
      }
    }, 300_000);
  }
});

async function chain(split: string[]): Promise<SplitModel> {
  const g = graph();
  const s = splitGraph(g, calibration, { split });
  return setupSplit(await compileSplit(s, { artifactsDir, graph: g }), { artifactsDir });
}

describe('chains prove and verify', () => {
  it("3 chunks, proved serially: verifies with the whole model's outputs; swapped or edited links do not", async () => {
    const model = await chain(['r1', 'h']);
    const a = await proveSplit(model, inputs[0]);
    const b = await proveSplit(model, inputs[1]);
    const ra = await verifyChain(model.chainKey, a.bundle);
    expect(ra.valid, ra.reason).toBe(true);
    const x = quantizeInputs(model.split.whole, inputs[0]);
    expect(ra.output!.prediction.logits).toEqual(runProgram(model.split.whole, x).map(String));
    // The model's input is the first chunk's public input (decoded as for any bundle: negative ones as field elements).
    expect(ra.output!.input).toHaveLength(x.length);
    x.forEach((v, i) => v >= 0 && expect(ra.output!.input![i]).toBe(v));
    expect((await verifyChain(model.chainKey, b.bundle)).valid).toBe(true);

    // One chunk's proof replaced by the same chunk's proof on another input: each proof verifies, the chain does not.
    for (const j of [0, 1, 2]) {
      const swapped = { ...a.bundle, links: a.bundle.links.map((l, k) => (k === j ? b.bundle.links[j] : l)) };
      const r = await verifyChain(model.chainKey, swapped);
      expect(r.valid).toBe(false);
      expect(r.reason).toMatch(/input commitment is not chunk \d's output commitment/);
    }
    // An edited commitment signal breaks its proof.
    const edited = structuredClone(a.bundle);
    const i = model.chunks[1].layout.outputCommitmentIndex;
    edited.links[1].publicSignals[i] = edited.links[2].publicSignals[i] = String(BigInt(edited.links[1].publicSignals[i]) + 1n);
    edited.links[2].inputCommitments = [edited.links[2].publicSignals[model.chunks[2].layout.commitmentIndex]];
    const re = await verifyChain(model.chainKey, edited);
    expect(re.valid).toBe(false);
    expect(re.reason).toMatch(/chunk 2: the Groth16 proof does not verify/);
    // Links out of order, a link dropped, another chain's id.
    expect((await verifyChain(model.chainKey, { ...a.bundle, links: [a.bundle.links[1], a.bundle.links[0], a.bundle.links[2]] })).valid).toBe(false);
    expect((await verifyChain(model.chainKey, { ...a.bundle, links: a.bundle.links.slice(0, 2) })).reason).toMatch(/2 links, the chain has 3 chunks/);
    expect((await verifyChain(model.chainKey, { ...a.bundle, chainId: '0'.repeat(64) })).reason).toMatch(/bundle is for chain/);
  }, 600_000);

  it('2 chunks, proved at once on 2 prover threads, verify', async () => {
    const model = await chain(['p1']);
    const threads = new ProverThreads(2, artifactsDir);
    try {
      const { bundle } = await proveSplit(model, inputs[2], { threads });
      const r = await verifyChain(model.chainKey, bundle);
      expect(r.valid, r.reason).toBe(true);
      expect(r.output!.prediction.logits).toEqual(runProgram(model.split.whole, quantizeInputs(model.split.whole, inputs[2])).map(String));
    } finally {
      await threads.close();
    }
  }, 600_000);
});

describe('CLI with --split', () => {
  const root = path.resolve(import.meta.dirname, '..');
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(root, 'bin', 'zkinfer.js'), ...args, '--artifacts', artifactsDir, ...(args[0] === 'verify' ? [] : ['-q'])],
        { cwd: root },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });

  it('compile, prove on 2 workers and verify a chain; a tampered chain is INVALID; bad cuts are one line, exit 2', async () => {
    const onnx = path.join(artifactsDir, 'small.onnx');
    const cal = path.join(artifactsDir, 'cal.json');
    const input = path.join(artifactsDir, 'input.json');
    const proof = path.join(artifactsDir, 'chain.json');
    await writeFile(onnx, smallCnn());
    await writeFile(cal, JSON.stringify(calibration.map((c) => Array.from(c.get('x')!))));
    await writeFile(input, JSON.stringify(Array.from(inputs[1].get('x')!)));
    const model = ['-m', onnx, '--calibration', cal];

    const compiled = await cli('compile', ...model, '--split', 'r1,h');
    expect(compiled.code, compiled.stderr).toBe(0);
    expect(compiled.stdout).toMatch(/split {6}3 chunks at r1, h/);
    const proved = await cli('prove', ...model, '--split', 'r1,h', '--input', input, '--workers', '2', '-o', proof);
    expect(proved.code, proved.stderr).toBe(0);
    expect(proved.stdout).toMatch(/3 chunk proofs/);
    const verified = await cli('verify', proof);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^VALID: chain [0-9a-f]{16}… \(3 chunks\)/);

    const chain = JSON.parse(await readFile(proof, 'utf8'));
    chain.links.reverse();
    await writeFile(proof, JSON.stringify(chain));
    const tampered = await cli('verify', proof);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/^INVALID: chunk 1: /);

    for (const [args, message] of [
      [['--split', 'nope'], /^--split: 'nope' is not a tensor of the graph/],
      [['--split', 'r1,,h'], /^--split takes tensor names separated by commas/],
      [['--split', 'r1', '--chunk-constraints', '100'], /^--chunk-constraints is the budget of --split auto/],
      [['--split', 'auto', '--chunk-constraints', 'x'], /^--chunk-constraints must be a positive integer/],
    ] as Array<[string[], RegExp]>) {
      const r = await cli('compile', ...model, ...args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr.trim().replace(/^zkinfer: /, '')).toMatch(message);
    }
  }, 600_000);
});
