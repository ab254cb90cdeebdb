import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCircom } from '../src/circuit/compile.js';
import { computeWitness, fieldToSigned } from '../src/circuit/witness.js';
import { emitGraphCircuit } from '../src/graph/emit.js';
import { programCosts } from '../src/graph/cost.js';
import { DEFAULT_QUANT, QBuilder } from '../src/graph/quant/builder.js';
import { divide, equal, less, maxOf, multiply, select, softmax } from '../src/graph/quant/composite.js';
import type { QProgram } from '../src/graph/quant/lower.js';
import type { Form, QTensor } from '../src/graph/quant/qtensor.js';
import { runProgram } from '../src/graph/quant/reference.js';
import { loadR1cs } from '../tools/r1cs.js';

/**
 * Every integer primitive and composite, emitted as a circuit and run on random and extreme inputs: the
 * circuit's public outputs equal the TypeScript reference bit for bit, the constraint count equals the
 * sum of the gadgets' stated counts, and an input outside its range has no witness.
 */
const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-prims-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

function program(): { b: QBuilder; x: Form[]; finish: (outs: Form[]) => QProgram } {
  const b = new QBuilder({ ...DEFAULT_QUANT, lookupBits: 5 });
  // Three inputs: a signed 6-bit, an unsigned 4-bit, a signed 10-bit.
  const ranges = [
    [-32, 31],
    [0, 15],
    [-512, 511],
  ];
  const x = ranges.map(([lo, hi]) => ({ bias: 0, terms: [[b.signal({ lo, hi }), 1]] }) as Form);
  const inputs = ranges.map(([lo, hi], i) => ({ name: `x${i}`, dtype: 'int' as const, shape: [1], scale: 1, lo, hi, first: i }));
  return {
    b,
    x,
    finish: (outs) => ({
      name: 'prims',
      inputs,
      outputs: outs.map((f, i) => ({ name: `y${i}`, dtype: 'int' as const, shape: [1], scale: 1, elems: [f] })),
      signals: b.signals,
      prims: b.prims,
      options: b.options,
      notes: [],
    }),
  };
}

const t = (f: Form, scale = 1): QTensor => ({ dtype: 'float', shape: [1], scale, elems: [f] });

async function check(prog: QProgram, samples: number[][]): Promise<void> {
  const { source } = emitGraphCircuit(prog);
  const compiled = await compileCircom(source, { name: 'prims', artifactsDir });
  const r1cs = await loadR1cs(compiled.r1csPath);
  expect(r1cs.constraints.length).toBe(programCosts(prog).total);
  const nOut = prog.outputs.length;
  for (const x of samples) {
    const w = await computeWitness(compiled.wasmPath, { x });
    const got = w.slice(1, 1 + nOut).map((v) => Number(fieldToSigned(v)));
    expect(got, `input ${x}`).toEqual(runProgram(prog, x));
  }
}

const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
const samples = (n: number) => [[-32, 0, -512], [31, 15, 511], [0, 0, 0], [-1, 1, -1], ...Array.from({ length: n }, () => [rand(-32, 31), rand(0, 15), rand(-512, 511)])];

describe('graph primitives: circuit == reference', () => {
  it('requantize (clamped and not, signed, unsigned, non-positive, shift 0), lookup, clamp', async () => {
    const { b, x, finish } = program();
    const outs: Form[] = [
      b.requantize(t(x[2], 1), { scale: 3.7, lo: -8, bits: 4 }).elems[0],
      b.requantize(t(x[2], 1), { scale: 0.3, lo: 0, bits: 8 }).elems[0],
      b.requantize(t(x[0], 1), { scale: 5, lo: -128, bits: 8 }).elems[0], // never clamps: DivFloorPow2 only
      b.requantize(t(x[0], 1), { scale: 1, lo: -15, bits: 4 }).elems[0], // shift 0, clamp to [-15, 0]
      b.unary(t(x[0], 0.25), { min: -8, max: 7.75, absMax: 8 }, Math.tanh, { scale: 1 / 127, lo: -128, bits: 8 }).elems[0],
      b.unary(t(x[2], 0.01), { min: -5, max: 5, absMax: 5 }, (v) => 1 / (1 + Math.exp(-v)), { scale: 1 / 255, lo: 0, bits: 8 }).elems[0],
      b.clampInt(x[2], -100, 7),
    ];
    await check(finish(outs), samples(12));
  });

  it('mul, div, less, equal, select, max, argmax', async () => {
    const { b, x, finish } = program();
    const bool = less(b, x[0], 1, x[2], 1);
    const outs: Form[] = [
      multiply(b, x[0], 1, x[2], 1, { scale: 16, lo: -2048, bits: 12 }),
      divide(b, x[2], 1, x[1], 1, { scale: 0.125, lo: 0, bits: 8 }, 'div').f,
      bool,
      less(b, x[0], 0.5, { bias: 3, terms: [] }, 1), // against a constant: x0 / 2 < 3
      less(b, { bias: 2, terms: [] }, 1, x[1], 1), // a constant on the left: 2 < x1
      equal(b, x[0], 1, x[1], 1),
      select(b, bool, x[0], 1, x[1], 1).f,
      maxOf(b, [x[0], x[1], { bias: 0, terms: [[2, 1]] }]),
      b.prim({ kind: 'argmax', in: [x[0], x[1], x[2]] }),
    ];
    await check(finish(outs), samples(12));
  });

  it('softmax over a group of three', async () => {
    const { b, x, finish } = program();
    const p = softmax(b, { dtype: 'float', shape: [3], scale: 0.1, elems: x }, [[0, 1, 2]], false, 8);
    await check(finish(p.elems), samples(6));
  });

  it('an input outside its range has no witness', async () => {
    const { b, x, finish } = program();
    const prog = finish([b.requantize(t(x[0]), { scale: 2, lo: 0, bits: 3 }).elems[0]]);
    const compiled = await compileCircom(emitGraphCircuit(prog).source, { name: 'prims', artifactsDir });
    await expect(computeWitness(compiled.wasmPath, { x: [32, 0, 0] })).rejects.toThrow(/rejected the input/);
    await expect(computeWitness(compiled.wasmPath, { x: [0, 16, 0] })).rejects.toThrow(/rejected the input/);
    await expect(computeWitness(compiled.wasmPath, { x: [0, -1, 0] })).rejects.toThrow(/rejected the input/);
  });
});
