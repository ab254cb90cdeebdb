import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel, type ModelCircuit } from '../src/circuit/index.js';
import { auditModel } from '../tools/audit/auditTargets.js';
import { checkWitness, loadR1cs, loadSymbols, withSignals, type R1csSystem } from '../tools/r1cs.js';
import { computeWitness, fieldToSigned } from '../src/circuit/witness.js';
import { proveWithOpenings } from '../src/prove/index.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import { runQuantized } from '../src/quantize/reference.js';
import type { QDense, QuantizedModel } from '../src/quantize/types.js';
import { setupModel, type CompiledModel } from '../src/setup/index.js';
import { ZkinferError } from '../src/util/errors.js';
import { verify } from '../src/verify/index.js';
import { buildApp } from '../src/server/app.js';
import { createKeyRegistry, verifyWithRegistry as verifyBundle } from '../src/verify/registry.js';
import { inputCommitment, poseidonHash } from '../src/format/commitment.js';
import { deriveArchitecture, fitToArchitecture, type WeightsArchitecture } from '../src/weights/architecture.js';
import { architectureTag, modelIdOfCommitment, parameterGroups, weightsCommitment, weightsWitness } from '../src/weights/commitment.js';
import { emitPrivateWeightsCircuit } from '../src/weights/emit.js';
import { privateWeightsInputs } from '../src/weights/prove.js';
import { parseQuantizedModel } from '../src/weights/qmodelFile.js';
import { randomFloatModel, randomInputs } from './helpers/models.js';
import { loadWebCore } from './helpers/webCore.js';

/**
 * Private weights: one circuit and one Groth16 key for every quantized model of an architecture; the model
 * id of a proof is the public Poseidon commitment to its weights.
 */
const VIS = { input: 'public', output: 'logits', weights: 'private' } as const;
const calibration = randomInputs(30, 16, 8, 5);
const inputs = randomInputs(6, 16, 8, 9);
const quantize = (seed: number, sizes = [16, 8, 4]) => quantizeModel(randomFloatModel(sizes, seed), calibration, { inputBits: 8, inputScale: 1 / 255 });
/** Two models of the same architecture with different weights (and different shifts: 19 and 18). */
const qa = quantize(1);
const qb = quantize(2);
const SALT_A = 1234567n;
const SALT_B = 7654321n;

let dir: string;
let circuit: ModelCircuit;
let model: CompiledModel;
let arch: WeightsArchitecture;
let r1cs: R1csSystem;
let symbols: Map<string, number>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-weights-'));
  circuit = await compileModel(qa, { artifactsDir: dir, visibility: VIS });
  arch = circuit.architecture!;
  model = await setupModel(circuit, { artifactsDir: dir });
  [r1cs, symbols] = await Promise.all([loadR1cs(circuit.circuit.r1csPath), loadSymbols(circuit.circuit.symPath)]);
});

/** The circuit's witness for an input and a parameter set (signals given raw, not validated). */
async function witnessFor(x: number[], signals: Record<string, unknown>): Promise<bigint[]> {
  return computeWitness(circuit.circuit.wasmPath, { x, ...signals });
}
const wire = (name: string) => {
  const w = symbols.get(name);
  if (w === undefined || w < 0) throw new Error(`no wire ${name}`);
  return w;
};
const logitsOf = (w: bigint[]) => Array.from({ length: 4 }, (_, j) => Number(fieldToSigned(w[wire(`main.logits[${j}]`)])));
const dense = (q: QuantizedModel, l: number) => q.layers[l] as QDense;

describe('one circuit, one key, any weights of the architecture', () => {
  it('the two test models really differ (weights and shifts) and both fit', () => {
    expect(dense(qa, 0).weights).not.toEqual(dense(qb, 0).weights);
    expect(dense(qa, 0).requant!.shift).not.toBe(dense(qb, 0).requant!.shift);
    // Normalising the shift keeps every output bit for bit.
    for (const q of [qa, qb]) {
      const fitted = fitToArchitecture(q, arch);
      expect(dense(fitted, 0).requant!.shift).toBe(arch.layers[0].requant!.shift);
      for (const x of [...inputs, ...randomInputs(200, 16, 8, 31)]) expect(runQuantized(fitted, x)).toEqual(runQuantized(q, x));
    }
  });

  it('the witness equals runQuantized bit for bit for both weight sets, and the commitment equals the circomlibjs twin', async () => {
    for (const [q, salt] of [
      [qa, SALT_A],
      [qb, SALT_B],
    ] as const) {
      const pw = privateWeightsInputs(circuit, { weights: q, weightsSalt: salt })!;
      for (const x of inputs) {
        const w = await witnessFor(x, pw.signals);
        expect(checkWitness(r1cs, w).ok).toBe(true);
        const reference = runQuantized(q, x);
        expect(logitsOf(w)).toEqual(reference.logits);
        expect(Number(w[wire('main.class')])).toBe(reference.predicted);
        expect(w[wire('main.weightsCommitment')]).toBe(await weightsCommitment(q, arch, salt));
      }
    }
  });

  it('both proofs verify with the same key; their model ids are their (different) weight commitments', async () => {
    const a = await proveWithOpenings(model, [inputs[0]], { weights: qa, weightsSalt: SALT_A });
    const b = await proveWithOpenings(model, [inputs[0]], { weights: qb, weightsSalt: SALT_B });
    const idA = modelIdOfCommitment(await weightsCommitment(qa, arch, SALT_A));
    const idB = modelIdOfCommitment(await weightsCommitment(qb, arch, SALT_B));
    expect(idA).not.toBe(idB);
    expect([a.bundle.modelId, b.bundle.modelId]).toEqual([idA, idB]);
    expect(a.bundle.keyId).toBe(model.modelId);
    expect(b.bundle.keyId).toBe(model.modelId);
    for (const [bundle, q] of [
      [a.bundle, qa],
      [b.bundle, qb],
    ] as const) {
      const result = await verify(bundle, model.key);
      expect(result.valid, result.reason).toBe(true);
      expect(result.modelId).toBe(bundle.modelId);
      expect(result.output!.prediction.logits).toEqual(runQuantized(q, inputs[0]).logits.map(String));
      expect(BigInt(result.output!.weightsCommitment!)).toBe(BigInt(`0x${bundle.modelId}`));
    }
    // The same weights under another salt: another (unlinkable) model id.
    expect(await weightsCommitment(qa, arch, SALT_B)).not.toBe(await weightsCommitment(qa, arch, SALT_A));
    // One more shift everywhere, same multipliers: another function (half the scale) whose fitted
    // parameters are the same numbers. Only the architecture digest at the head of the chain tells them
    // apart, and it must: they get different model ids. Layer names do not enter the digest.
    const shifted: WeightsArchitecture = { ...arch, layers: arch.layers.map((a) => (a.requant ? { ...a, requant: { ...a.requant, shift: a.requant.shift + 1 } } : a)) };
    const qaShifted: QuantizedModel = {
      ...qa,
      layers: qa.layers.map((l) => (l.kind === 'dense' && l.requant ? { ...l, requant: { ...l.requant, shift: l.requant.shift + 1 } } : l)),
    };
    expect(JSON.stringify(fitToArchitecture(qaShifted, shifted).layers.map((l) => (l as QDense).requant?.multipliers))).toBe(
      JSON.stringify(fitToArchitecture(qa, arch).layers.map((l) => (l as QDense).requant?.multipliers)),
    );
    expect(await weightsCommitment(qaShifted, shifted, SALT_A)).not.toBe(await weightsCommitment(qa, arch, SALT_A));
    const renamed: WeightsArchitecture = { ...arch, layers: arch.layers.map((a, l) => ({ ...a, name: `other${l}` })) };
    expect(await weightsCommitment(qa, renamed, SALT_A)).toBe(await weightsCommitment(qa, arch, SALT_A));

    // A registry finds the key through keyId.
    const registry = createKeyRegistry([{ key: model.key }]);
    expect((await verifyBundle(a.bundle, registry)).valid).toBe(true);
    const unknown = await verifyBundle({ ...a.bundle, keyId: 'f'.repeat(64) }, registry);
    expect(unknown).toMatchObject({ valid: false, failure: 'unknown-model' });

    // Tampering.
    const otherId = { ...a.bundle, modelId: idB };
    expect((await verify(otherId, model.key)).reason).toMatch(/claims model .* the proved weights commitment is model/);
    expect((await verifyBundle(otherId, registry)).valid).toBe(false);
    const swapped = structuredClone(a.bundle); // the other model's commitment, consistently everywhere: the proof fails
    swapped.publicSignals[model.layout.weightsCommitmentIndex!] = b.bundle.weightsCommitment!;
    swapped.modelId = idB;
    swapped.weightsCommitment = b.bundle.weightsCommitment;
    expect((await verify(swapped, model.key)).reason).toMatch(/does not verify/);
    const logit = structuredClone(a.bundle);
    logit.publicSignals[0] = String(BigInt(logit.publicSignals[0]) + 1n);
    expect((await verify(logit, model.key)).valid).toBe(false);
    const cls = structuredClone(a.bundle);
    cls.publicSignals[model.layout.classIndex] = String((a.bundle.prediction.class! + 1) % 4);
    expect((await verify(cls, model.key)).valid).toBe(false);
    const noKeyId = structuredClone(a.bundle);
    delete noKeyId.keyId;
    expect((await verify(noKeyId, model.key)).reason).toMatch(/must name its key/);
    const field = structuredClone(a.bundle);
    field.weightsCommitment = b.bundle.weightsCommitment;
    expect((await verify(field, model.key)).reason).toMatch(/differs from the proved output/);
    const relabelled = structuredClone(a.bundle);
    relabelled.visibility = { input: 'public', output: 'logits' };
    expect((await verify(relabelled, model.key)).reason).toMatch(/visibility/);

    // The HTTP service: 200 with the commitment as model id and the architecture's key id; 404 for an unknown key.
    const app = buildApp({ registry });
    try {
      const ok = await app.inject({ method: 'POST', url: '/v1/verify', payload: a.bundle });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({
        valid: true,
        modelId: a.bundle.modelId,
        keyId: model.modelId,
        weightsCommitment: a.bundle.weightsCommitment,
        prediction: a.bundle.prediction,
      });
      const lie = await app.inject({ method: 'POST', url: '/v1/verify', payload: otherId });
      expect(lie.statusCode).toBe(200);
      expect(lie.json()).toMatchObject({ valid: false });
      expect((await app.inject({ method: 'POST', url: '/v1/verify', payload: { ...a.bundle, keyId: 'f'.repeat(64) } })).statusCode).toBe(404);
    } finally {
      await app.close();
    }

    // The browser page's verifier (the browser build of src/verify/core.ts) gives the same verdicts.
    const web = await loadWebCore();
    for (const [what, bundle] of Object.entries({
      real: a.bundle,
      other: b.bundle,
      otherId,
      swapped,
      cls,
      noKeyId,
      field,
      relabelled,
      unknownKey: { ...a.bundle, keyId: 'f'.repeat(64) },
    })) {
      const node = await verify(bundle, model.key);
      const page = await web.verifyBundle(model.key, bundle);
      expect(page.valid, what).toBe(node.valid);
      if (node.valid) expect(page.modelId, what).toBe(node.modelId);
      else expect(page.reason, what).toBe(node.reason);
    }
  });

  it('a proof needs the weights salt; constant-weights circuits refuse weights', async () => {
    await expect(proveWithOpenings(model, [inputs[0]], { weights: qa })).rejects.toThrow(/weights salt/);
    const constant = { ...model, layout: { ...model.layout, visibility: { input: 'public' as const, output: 'logits' as const } } };
    await expect(proveWithOpenings(constant, [inputs[0]], { weights: qa, weightsSalt: 1n })).rejects.toThrow(/only taken by private-weights circuits/);
  });
});

describe('model ids across architectures', () => {
  it('an owner cannot give two architectures (two functions) one model id by choosing the salt', async () => {
    // The attack a review found against an earlier chain (the architecture digest hashed in as data):
    // A2's second layer spells A1's start (its weights continue as A1's layer-0 weights, its bias and
    // multipliers are A1's), and the owner takes as A1's salt A2's chain state before that layer. Now every
    // chain starts at Poseidon(architecture tag, salt), which no later state of another chain can equal.
    const relu = (n: number, seed: number): QDense['requant'] => ({
      multipliers: Array.from({ length: n }, (_, i) => 1 + ((i * 37 + seed) % 60)),
      shift: 12,
      activation: 'relu',
      outBits: 8,
      outScale: 1,
    });
    const int8s = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ((i * 53 + seed * 17) % 255) - 127);
    const layer = (name: string, nIn: number, nOut: number, weights: number[], bias: number[], requant: QDense['requant']): QDense => ({
      kind: 'dense',
      name,
      inputSize: nIn,
      outputSize: nOut,
      weights,
      bias,
      weightScales: new Array(nOut).fill(1),
      requant,
    });
    const model = (name: string, nIn: number, layers: QDense[]): QuantizedModel => ({
      format: 'zkinfer-qmodel',
      version: 1,
      name,
      input: { shape: [nIn], bits: 8, scale: 1 / 255 },
      layers,
      output: { size: 2, logitScale: 1 },
      notes: [],
    });
    const a1 = model('A1', 4, [
      layer(
        'd0',
        4,
        10,
        int8s(40, 1),
        int8s(10, 2).map((b) => b * 50),
        relu(10, 3),
      ),
      layer('d1', 10, 2, int8s(20, 4), [300, -200], null),
    ]);
    const l0 = a1.layers[0] as QDense;
    const arch1 = deriveArchitecture(a1);
    // The first 30 bytes of A1's architecture hash, as weights (value - 128): what the old chain hashed first.
    const spelled = [...Buffer.from(architectureTag(arch1).toString(16).padStart(62, '0'), 'hex').subarray(0, 30)].map((b) => b - 128);
    const a2 = model('A2', 3, [
      layer('e0', 3, 7, int8s(21, 5), int8s(7, 6), relu(7, 7)),
      layer('e1', 7, 10, [...spelled, ...l0.weights], [...l0.bias], { ...l0.requant! }),
      { ...(a1.layers[1] as QDense), name: 'e2' },
    ]);
    const arch2 = deriveArchitecture(a2);
    const salt2 = 123456789n;
    // A2's chain state after its start and its layer-0 groups: the owner's choice of A1's salt.
    let state = await poseidonHash([architectureTag(arch2), salt2]);
    for (const g of parameterGroups(fitToArchitecture(a2, arch2), arch2).filter((g) => g.layer === 0)) state = await inputCommitment(g.values, g.bits, state);
    expect(await weightsCommitment(a1, arch1, state)).not.toBe(await weightsCommitment(a2, arch2, salt2));
    expect(architectureTag(arch1)).not.toBe(architectureTag(arch2));
  });
});

describe('models that do not fit, and parameters out of range', () => {
  const withLayer0 = (q: QuantizedModel, change: Partial<QDense>): QuantizedModel => ({ ...q, layers: [{ ...dense(q, 0), ...change }, q.layers[1]] });

  it('off-circuit: a clear error naming the layer and the value', () => {
    const w = [...dense(qa, 0).weights];
    w[5] = 128;
    expect(() => fitToArchitecture(withLayer0(qa, { weights: w }), arch)).toThrow(/layer 0 \(dense0\) weights\[5\] = 128 is outside the architecture's range \[-128, 127\]/);
    const m = [...dense(qa, 0).requant!.multipliers];
    m[2] = 0;
    expect(() => fitToArchitecture(withLayer0(qa, { requant: { ...dense(qa, 0).requant!, multipliers: m } }), arch)).toThrow(/layer 0 \(dense0\) multipliers\[2\] = 0 is outside/);
    m[2] = 2 ** 20;
    expect(() => fitToArchitecture(withLayer0(qa, { requant: { ...dense(qa, 0).requant!, multipliers: m } }), arch)).toThrow(
      /multipliers\[2\] = 1048576 .*outside the architecture's range/,
    );
    expect(() => fitToArchitecture(withLayer0(qa, { requant: { ...dense(qa, 0).requant!, shift: 40 } }), arch)).toThrow(/layer 0 \(dense0\): shift 40 does not fit/);
    expect(() => fitToArchitecture(withLayer0(qa, { bias: dense(qa, 0).bias.map(() => 2 ** 30) }), arch)).toThrow(/layer 0 \(dense0\) bias\[0\] = 1073741824 is outside/);
    const err = (() => {
      try {
        fitToArchitecture(quantize(3, [16, 9, 4]), arch);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ZkinferError);
    expect((err as Error).message).toMatch(/layer 0 \(dense0\): dense 16->9, the architecture has dense 16->8/);
  });

  it('in the circuit: a weight outside int8, a multiplier outside [1, 2^mb] or a bias out of range has no witness', async () => {
    const fitted = fitToArchitecture(qa, arch);
    const honest = weightsWitness(fitted, arch, SALT_A);
    const mb = arch.layers[0].requant!.multiplierBits;
    const bb = arch.layers[0].biasBits;
    type Signals = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- nested signal arrays edited in place
    const cases: Array<[string, (s: Signals) => void]> = [
      ['weight 128', (s) => (s.w0[0][0] = '128')],
      ['weight -129', (s) => (s.w1[1][2] = String(-129n + 21888242871839275222246405745257275088548364400416034343698204186575808495617n))],
      ['multiplier 0', (s) => (s.m0[3] = '0')],
      [`multiplier 2^${mb} + 1`, (s) => (s.m0[3] = String(2 ** mb + 1))],
      [`bias 2^${bb - 1}`, (s) => (s.b1[0] = String(2 ** (bb - 1)))],
    ];
    // The honest extremes are accepted.
    const edge = structuredClone(honest) as Signals;
    edge.w0[0][0] = String(-128n + 21888242871839275222246405745257275088548364400416034343698204186575808495617n);
    edge.m0[3] = String(2 ** mb);
    expect(checkWitness(r1cs, await witnessFor(inputs[0], edge)).ok).toBe(true);
    for (const [name, change] of cases) {
      const signals = structuredClone(honest) as Signals;
      change(signals);
      const err = await witnessFor(inputs[0], signals).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(ZkinferError);
      expect((err as Error).message, name).toMatch(/the circuit rejected the input/);
    }
  });

  it('a quantized model file round-trips; a bad one is named field by field', () => {
    expect(parseQuantizedModel(JSON.parse(JSON.stringify(qb)))).toEqual(JSON.parse(JSON.stringify(qb)));
    const broken = JSON.parse(JSON.stringify(qb));
    broken.layers[1].weights[3] = 0.5;
    expect(() => parseQuantizedModel(broken)).toThrow(/layer 1 \(dense1\): weights\[3\]: .*expected int/);
    broken.layers[0] = { kind: 'conv2d', name: 'c' };
    expect(() => parseQuantizedModel(broken)).toThrow(/layer 0 \(c\) is conv2d; private weights support dense layers only/);
  });

  it('only dense layers, one inference per proof', () => {
    const cnn: QuantizedModel = {
      ...qa,
      input: { shape: [4, 4, 1], bits: 8, scale: 1 },
      layers: [
        {
          kind: 'conv2d',
          name: 'conv',
          inShape: [4, 4, 1],
          outShape: [3, 3, 1],
          kernelSize: [2, 2],
          strides: [1, 1],
          pads: [0, 0, 0, 0],
          depthwise: false,
          weights: [1, 2, 3, 4],
          bias: [0],
          weightScales: [1],
          requant: { multipliers: [1], shift: 1, activation: 'relu', outBits: 8, outScale: 1 },
        },
        { kind: 'dense', name: 'out', inputSize: 9, outputSize: 4, weights: Array(36).fill(1), bias: [0, 0, 0, 0], weightScales: [1, 1, 1, 1], requant: null },
      ],
    };
    expect(() => emitPrivateWeightsCircuit(cnn, 1, VIS)).toThrow(/layer conv \(conv2d 4x4x1->3x3x1\): private weights support dense layers only/);
    expect(() => emitPrivateWeightsCircuit(qa, 2, VIS)).toThrow(/one inference per proof/);
    // A chain of relu dense layers only: a skip connection or a signed (linear) hidden layer is refused.
    // A well-formed skip: 16-8-8-4 whose last layer reads the first layer's output (tensor 1), not the second's.
    const deep = quantize(3, [16, 8, 8, 4]);
    const skip: QuantizedModel = { ...deep, layers: deep.layers.map((l, i) => (i === 2 ? { ...l, from: 1 } : l)) as QuantizedModel['layers'] };
    expect(runQuantized(skip, inputs[0]).logits).not.toEqual(runQuantized(deep, inputs[0]).logits); // a real graph
    expect(() => emitPrivateWeightsCircuit(skip, 1, VIS)).toThrow(/reads tensor 1: private weights support a chain of dense layers only/);
    const linear: QuantizedModel = {
      ...qa,
      layers: qa.layers.map((l, i) => (i === 0 && l.requant ? { ...l, requant: { ...l.requant, activation: 'linear' } } : l)) as QuantizedModel['layers'],
    };
    expect(() => emitPrivateWeightsCircuit(linear, 1, VIS)).toThrow(/has no activation \(a signed output\)/);
    expect(() => parseQuantizedModel(JSON.parse(JSON.stringify(skip)))).toThrow(/reads tensor 1/);
  });
});

describe('soundness', () => {
  it('a witness whose weights differ from the committed ones does not satisfy the constraints', async () => {
    const pa = privateWeightsInputs(circuit, { weights: qa, weightsSalt: SALT_A })!;
    const pb = privateWeightsInputs(circuit, { weights: qb, weightsSalt: SALT_A })!;
    const honestA = await witnessFor(inputs[1], pa.signals);
    const commitmentA = honestA[wire('main.weightsCommitment')];
    // qb's complete, internally consistent witness, but claiming qa's public commitment.
    const honestB = await witnessFor(inputs[1], pb.signals);
    expect(checkWitness(r1cs, honestB).ok).toBe(true);
    const claimed = withSignals(honestB, symbols, { 'main.weightsCommitment': commitmentA });
    expect(checkWitness(r1cs, claimed).ok).toBe(false);
    // qa's witness with one weight changed (everything else, the commitment included, kept).
    const w00 = BigInt(dense(fitToArchitecture(qa, arch), 0).weights[0]);
    const changed = withSignals(honestA, symbols, { 'main.w0[0][0]': w00 === 5n ? 6n : 5n });
    expect(checkWitness(r1cs, changed).ok).toBe(false);
    // The salt cannot move either.
    expect(checkWitness(r1cs, withSignals(honestA, symbols, { 'main.weightsSalt': SALT_A + 1n })).ok).toBe(false);
  });

  it('the soundness audit accepts the circuit: no unconstrained wire, header counts add up exactly', async () => {
    const report = await auditModel(qa, { artifactsDir: dir, visibility: VIS });
    expect(report.failures).toEqual([]);
    expect(report.expectedNonlinear).toBe(report.nonlinear);
    expect(report.findings.filter((f) => f.kind === 'unused')).toEqual([]);
    expect(report.findings.every((f) => f.allowedBy?.template === 'IsZero')).toBe(true);
    expect(report.templates.find((t) => t.instance.startsWith('PrivateDense(16, 8,'))?.expected).toBe(8 * (9 * 16 + arch.layers[0].biasBits));
    const priv = await auditModel(qa, { artifactsDir: dir, visibility: { input: 'private', output: 'class', weights: 'private' } });
    expect(priv.failures).toEqual([]);
    expect(priv.expectedNonlinear).toBe(priv.nonlinear);
  });
});

// The CLI serves private weights on the op graph: commit-weights / prove --weights private / verify are
// tested in test/graphPrivateWeights.test.ts.
