/**
 * Cost breakdowns for `npm run bench`: constraints per gadget (layer type) for each bundled model, per
 * visibility mode, and batch proofs (k inferences in one proof: prove time per inference).
 *   npx tsx bench/costs.ts [--quick]
 * Constraint counts come from the compiled r1cs through the audit's per-template attribution; times are
 * measured in this run. Nothing is typed in.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileModel, type Visibility } from '../src/circuit/index.js';
import { emitCircuit } from '../src/circuit/emit.js';
import type { AuditReport } from '../tools/audit/audit.js';
import { auditCompiled } from '../tools/audit/auditTargets.js';
import { LAYER_BUNDLED_MODELS, loadModelSource } from '../src/model/index.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { randomSalt } from '../src/format/commitment.js';
import { prove, proveBatch } from '../src/prove/index.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import type { QuantizedModel } from '../src/quantize/types.js';
import { layerSummary } from '../src/quantize/linear.js';
import { setupModel } from '../src/setup/index.js';
import { verify } from '../src/verify/index.js';
import { residualExample } from './models.js';

export interface GadgetRow {
  model: string;
  gadget: string;
  instances: number;
  perInstance: number | null;
  total: number | null;
}
export interface LayerRow {
  model: string;
  layer: string;
  gadgets: string;
  instances: number;
  constraints: number;
}
export interface ModeRow {
  model: string;
  visibility: string;
  constraints: number;
  publicSignals: number;
}
export interface PrivateWeightsRow {
  model: string;
  constraints: number;
  ptauPower: number;
  compileSeconds: number;
  setupSeconds: number;
  proveSeconds: number;
  verifyMs: number;
}
export interface BatchRow {
  k: number;
  constraints: number;
  ptauPower: number;
  setupSeconds: number;
  proveSeconds: number;
  perInferenceSeconds: number;
}

async function quantized(spec: string): Promise<QuantizedModel> {
  const s = await loadModelSource(spec);
  return quantizeModel(s.float, s.calibration, { inputBits: s.inputBits, inputScale: s.inputScale, labels: s.labels });
}

/** A model compiled as the pipeline compiles it, with its audit report (per-template and per-component counts). */
export interface AuditedModel {
  name: string;
  /** Bundled models have a gadget table too; the residual example only a layer table. */
  bundled: boolean;
  q: QuantizedModel;
  report: AuditReport;
}

/** Compile and audit each bundled model and the residual example once, for both cost tables. */
export async function auditedModels(artifactsDir: string): Promise<AuditedModel[]> {
  const models: Array<Omit<AuditedModel, 'report'>> = [];
  for (const spec of LAYER_BUNDLED_MODELS) models.push({ name: spec, bundled: true, q: await quantized(spec) });
  models.push({ name: 'residual example (random weights)', bundled: false, q: residualExample() });
  const out: AuditedModel[] = [];
  for (const m of models) {
    const { circuit } = await compileModel(m.q, { artifactsDir });
    out.push({ ...m, report: await auditCompiled(m.name, emitCircuit(m.q).source, circuit.r1csPath, circuit.symPath) });
  }
  return out;
}

/** Constraints by gadget (the emitter's layer types map to gadgets: see circuits/README.md). */
export function gadgetCosts(models: AuditedModel[]): GadgetRow[] {
  const rows: GadgetRow[] = [];
  for (const { name, report } of models.filter((m) => m.bundled)) {
    // The emitted main template itself states no count: its rows are the gadgets below it.
    for (const t of report.templates.filter((t) => !t.nested && !t.instance.startsWith('Zkinfer'))) {
      rows.push({ model: name, gadget: t.instance, instances: t.instances, perInstance: t.expected, total: t.expected === null ? null : t.expected * t.instances });
    }
  }
  return rows;
}

/**
 * Constraints per layer: the audit's outermost gadgets grouped by the component names the emitter gives
 * them (rq<l>/mp<l> for layer l, inRange for the inputs, best for the argmax), each at its header formula;
 * the audit checks that these add up to the circuit's non-linear constraints.
 */
export function layerCosts(models: AuditedModel[]): LayerRow[] {
  const rows: LayerRow[] = [];
  for (const { name, q, report } of models) {
    if (report.expectedNonlinear !== report.nonlinear)
      throw new Error(`${name}: the gadgets' counts do not add up to the circuit's (${report.expectedNonlinear} vs ${report.nonlinear})`);
    const groups = new Map<string, { gadgets: Set<string>; instances: number; constraints: number }>();
    for (const c of report.components) {
      const m = /^main\.(rq|mp)(\d+)\[/.exec(c.path);
      const key = m ? `${m[2]}` : c.path.startsWith('main.inRange') ? 'input' : c.path === 'main.best' ? 'argmax' : c.path.replace(/\[\d+\]/g, '');
      const g = groups.get(key) ?? { gadgets: new Set<string>(), instances: 0, constraints: 0 };
      g.gadgets.add(c.template.split('(')[0]);
      g.instances++;
      g.constraints += c.expected ?? NaN;
      groups.set(key, g);
    }
    const row = (key: string, layer: string) => {
      const g = groups.get(key);
      rows.push({ model: name, layer, gadgets: g ? [...g.gadgets].join(', ') : 'none (linear in constants)', instances: g?.instances ?? 0, constraints: g?.constraints ?? 0 });
    };
    // In pipeline order: inputs, each layer, then what follows the last layer (argmax, commitments).
    row('input', `input range checks (${q.input.shape.join('x')})`);
    q.layers.forEach((l, i) => row(String(i), `${l.name}: ${layerSummary(l)}`));
    for (const key of groups.keys()) if (key !== 'input' && !/^\d+$/.test(key)) row(key, key);
    rows.push({ model: name, layer: 'total', gadgets: '', instances: report.components.length, constraints: report.nonlinear });
  }
  return rows;
}

export async function visibilityCosts(artifactsDir: string): Promise<ModeRow[]> {
  const modes: Visibility[] = [
    { input: 'public', output: 'logits' },
    { input: 'private', output: 'logits' },
    { input: 'public', output: 'class' },
    { input: 'private', output: 'class' },
    // Private weights behind a public commitment (src/weights/): compiled only, a setup would need 2^19.
    { input: 'public', output: 'logits', weights: 'private' },
  ];
  const rows: ModeRow[] = [];
  const q = await quantized('mlp');
  for (const visibility of modes) {
    const c = await compileModel(q, { artifactsDir, visibility });
    const weights = visibility.weights === 'private' ? ', weights private' : '';
    rows.push({ model: 'mlp', visibility: `input ${visibility.input}, output ${visibility.output}${weights}`, constraints: c.circuit.constraints, publicSignals: c.layout.total });
  }
  return rows;
}

/**
 * The bundled MLP with private weights, end to end: compile, set up (2^19, local dev ptau), prove one digit
 * with its own weights under a fresh salt, verify. Full runs only: the setup takes minutes.
 */
export async function privateWeightsRun(artifactsDir: string): Promise<PrivateWeightsRow> {
  const q = await quantized('mlp');
  let t = performance.now();
  const circuit = await compileModel(q, { artifactsDir, visibility: { input: 'public', output: 'logits', weights: 'private' } });
  const compileSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const model = await setupModel(circuit, { artifactsDir });
  const setupSeconds = (performance.now() - t) / 1000;
  const x = Array.from(loadMnistSplit().test[0].pixels);
  t = performance.now();
  const bundle = await prove(model, x, { weights: q, weightsSalt: randomSalt() });
  const proveSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const result = await verify(bundle, model.key);
  const verifyMs = performance.now() - t;
  if (!result.valid) throw new Error(`private-weights proof did not verify: ${result.reason}`);
  return { model: 'mlp', constraints: circuit.circuit.constraints, ptauPower: model.key.setup.ptau.power, compileSeconds, setupSeconds, proveSeconds, verifyMs };
}

/** k inferences in one proof: set up each batch circuit (local dev ptau) and time one proof. */
export async function batchCosts(artifactsDir: string, ks: number[]): Promise<BatchRow[]> {
  const q = await quantized('mlp');
  const digits = loadMnistSplit().test;
  const rows: BatchRow[] = [];
  for (const k of ks) {
    const circuit = await compileModel(q, { artifactsDir, batch: k });
    let t = performance.now();
    const model = await setupModel(circuit, { artifactsDir });
    const setupSeconds = (performance.now() - t) / 1000;
    const inputs = digits.slice(0, k).map((d) => Array.from(d.pixels));
    await proveBatch(model, inputs); // warm-up: keys and wasm loaded once
    t = performance.now();
    const bundle = await proveBatch(model, inputs);
    const proveSeconds = (performance.now() - t) / 1000;
    if (!(await verify(bundle, model.key)).valid) throw new Error(`batch ${k} proof did not verify`);
    rows.push({ k, constraints: circuit.circuit.constraints, ptauPower: model.key.setup.ptau.power, setupSeconds, proveSeconds, perInferenceSeconds: proveSeconds / k });
  }
  return rows;
}

export function costsMarkdown(
  gadgets: GadgetRow[],
  layers: LayerRow[],
  modes: ModeRow[],
  batches: BatchRow[],
  privateWeights?: PrivateWeightsRow | { failed: string } | null,
): string {
  const n = (v: number | null) => (v === null ? '?' : v.toLocaleString('en-US'));
  return [
    '## Constraints by layer',
    '',
    '| model | layer | gadgets | instances | constraints |',
    '|---|---|---|---:|---:|',
    ...layers.map((r) => `| ${r.model} | ${r.layer} | ${r.gadgets} | ${r.instances} | ${n(r.constraints)} |`),
    '',
    'The residual example shows the add: one requantize+clamp per element it outputs that a later layer reads (the 2x2 pool drops row and column 12, so those are not computed); its linear branch conv has the same cost as a relu one.',
    '',
    '## Constraints by layer type (gadget)',
    '',
    '| model | gadget | instances | per instance | total |',
    '|---|---|---:|---:|---:|',
    ...gadgets.map((g) => `| ${g.model} | ${g.gadget} | ${g.instances} | ${n(g.perInstance)} | ${n(g.total)} |`),
    '',
    'UnsignedRange: input range checks; RequantReluClamp: one per dense/conv/avg-pool output; MaxOfN: one per max-pool output; ArgMax: the class. Linear layers themselves cost nothing (weights are constants).',
    '',
    '## Visibility modes (bundled MLP)',
    '',
    '| visibility | constraints | public signals |',
    '|---|---:|---:|',
    ...modes.map((m) => `| ${m.visibility} | ${n(m.constraints)} | ${m.publicSignals} |`),
    '',
    'Weights private: weights, biases and multipliers are private inputs (int8 range check + one product per weight) behind a public Poseidon commitment, the model id; one circuit and key serve any weights of the architecture.',
    '',
    ...(privateWeights === undefined || privateWeights === null
      ? ['Private weights end to end: not measured in a --quick run (its setup is 2^19).', '']
      : 'failed' in privateWeights
        ? [`Private weights end to end: FAILED: ${privateWeights.failed}`, '']
        : [
            `Private weights end to end (bundled MLP, ${privateWeights.constraints.toLocaleString('en-US')} constraints, ptau 2^${privateWeights.ptauPower}): ` +
              `setup ${privateWeights.setupSeconds.toFixed(1)} s (local dev ptau included), prove ${privateWeights.proveSeconds.toFixed(2)} s ` +
              `(constant weights: the mlp row above), verify ${privateWeights.verifyMs.toFixed(0)} ms. ` +
              `(Compile: ${privateWeights.compileSeconds < 1 ? 'cached by the modes table above, which compiled it untimed' : `${privateWeights.compileSeconds.toFixed(1)} s`}.)`,
            '',
          ]),
    '## Batch proofs (bundled MLP, k inferences in one proof)',
    '',
    '| k | constraints | ptau | setup s | prove s | prove s per inference |',
    '|---:|---:|---:|---:|---:|---:|',
    // k = 1 is the bundled model's own circuit, already set up in the same artifacts directory: a cache hit.
    ...batches.map(
      (b) =>
        `| ${b.k} | ${n(b.constraints)} | 2^${b.ptauPower} | ${b.setupSeconds < 1 ? 'cached' : b.setupSeconds.toFixed(1)} | ${b.proveSeconds.toFixed(2)} | ${b.perInferenceSeconds.toFixed(3)} |`,
    ),
    '',
  ].join('\n');
}

export async function benchCosts(options: {
  quick: boolean;
  artifactsDir?: string;
}): Promise<{ markdown: string; gadgets: GadgetRow[]; layers: LayerRow[]; modes: ModeRow[]; batches: BatchRow[]; privateWeights: PrivateWeightsRow | { failed: string } | null }> {
  const artifactsDir = options.artifactsDir ?? (await mkdtemp(path.join(os.tmpdir(), 'zkinfer-costs-')));
  try {
    const audited = await auditedModels(artifactsDir);
    const gadgets = gadgetCosts(audited);
    const layers = layerCosts(audited);
    const modes = await visibilityCosts(artifactsDir);
    const batches = await batchCosts(artifactsDir, options.quick ? [1, 4] : [1, 4, 16]);
    let privateWeights: PrivateWeightsRow | { failed: string } | null = null;
    if (!options.quick) privateWeights = await privateWeightsRun(artifactsDir).catch((err: Error) => ({ failed: err.message }));
    return { markdown: costsMarkdown(gadgets, layers, modes, batches, privateWeights), gadgets, layers, modes, batches, privateWeights };
  } finally {
    if (!options.artifactsDir) await rm(artifactsDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  benchCosts({ quick: process.argv.includes('--quick') }).then(
    (r) => {
      process.stdout.write(`${r.markdown}\n`);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
