import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkWitness, loadR1cs } from '../tools/r1cs.js';
import { computeWitness } from '../src/circuit/witness.js';
import { graphInstances } from '../src/graph/instances.js';
import { linkedWitness } from '../src/graph/link/index.js';
import { compileGraphProgram } from '../src/graph/pipeline.js';
import { quantizeInputs } from '../src/graph/quant/reference.js';
import { wtnsValues } from './helpers/r1csCompare.js';
import { checkOpModel } from './helpers/graphCheck.js';
import { tokenEmbedding } from '../bench/sequenceModels.js';

/**
 * Token inputs: an int input read only as the indices of embedding Gathers takes exactly [0, vocab)
 * (quant/lower.ts tokenVocab). For a vocabulary that is not a power of two the circuit checks both ends
 * (instances.ts), so a token id past the table has no witness, where a power-of-two check alone would
 * let the one-hot select a row the id does not name.
 */
const artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-tokens-'));
afterAll(() => rmSync(artifactsDir, { recursive: true, force: true }));

const VOCAB = 11;
const T = 6;
const embedding = () => tokenEmbedding(T, VOCAB);

describe('token inputs index an embedding table', () => {
  it('the input range is exactly [0, vocab); quantized == onnxruntime, circuit == reference', async () => {
    const { program, constraints } = await checkOpModel(embedding(), { circuit: true, artifactsDir, count: 6, range: [0, VOCAB - 1], tolerance: 0.02 });
    expect(program.inputs).toMatchObject([{ dtype: 'int', lo: 0, hi: VOCAB - 1 }]);
    // Each token: two 4-bit checks (x and 10 - x), then a one-hot of 10 IsEqual (2 each) or lookups.
    expect(constraints).toBeGreaterThanOrEqual(T * 8);
    const inst = graphInstances(program);
    expect(inst.gadgets.filter((g) => g.name.startsWith('inTop')).length).toBe(T);
  }, 240_000);

  it('an id past the table, or negative, has no witness (circom and linker); a tampered witness fails the r1cs', async () => {
    const { program } = await checkOpModel(embedding(), { count: 6, range: [0, VOCAB - 1] });
    expect(() => quantizeInputs(program, new Map([['tokens', Float64Array.of(0, 1, 2, 3, 4, VOCAB)]]))).toThrow(/\[5\] = 11 is outside the range \[0, 10\]/);
    const circom = await compileGraphProgram(program, { artifactsDir, emit: 'circom' });
    const linked = await compileGraphProgram(program, { artifactsDir, emit: 'linked' });
    const good = [0, 3, 7, 9, 10, 10];
    const w = await computeWitness(circom.circuit.wasmPath, { x: good });
    const r1cs = await loadR1cs(circom.circuit.r1csPath);
    expect(checkWitness(r1cs, w)).toEqual({ ok: true, failing: [] });
    for (const bad of [VOCAB, VOCAB + 4, 15, -1]) {
      const x = [...good.slice(0, 5), bad];
      await expect(computeWitness(circom.circuit.wasmPath, { x })).rejects.toThrow();
      await expect(linkedWitness(linked.linked!, program, [{ x }])).rejects.toThrow(/rejected the input at (inRange\[5\]|inTop5)/);
    }
    // The same witness with token 5 changed to 11 (every other wire kept) breaks a constraint.
    const lw = wtnsValues(await linkedWitness(linked.linked!, program, [{ x: good }]));
    const lr1cs = await loadR1cs(linked.circuit.r1csPath);
    expect(checkWitness(lr1cs, lw).ok).toBe(true);
    const nPublic = 1 + lr1cs.nOutputs + lr1cs.nPubInputs;
    const xWire = nPublic - T + 5; // x is the last public input block
    expect(lw[xWire]).toBe(10n);
    const tampered = [...lw];
    tampered[xWire] = 11n;
    expect(checkWitness(lr1cs, tampered).ok).toBe(false);
  }, 240_000);
});
