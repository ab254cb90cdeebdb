/**
 * CLI commands on the op-graph pipeline (src/graph), for every model kind: the bundled models, tfjs
 * model.json files and ONNX files: compile, setup, prove, evaluate, demo. Inputs and calibration are in
 * the model's own units (a flat array, {name: array}, or EZKL's input.json): floats, or the integers an
 * input's declared encoding says (the bundled models' 8-bit pixels, src/graph/metadata.ts).
 */
import path from 'node:path';
import type { Visibility } from '../circuit/emit.js';
import { keyRegistryDir } from '../setup/index.js';
import { fail } from '../util/errors.js';
import { PACKAGE_ROOT, readJsonFile, writeFileAtomic } from '../util/fs.js';
import { graphCosts } from '../graph/cost.js';
import type { EmitMode } from '../graph/pipeline.js';
import { size } from '../graph/ir.js';
import {
  buildGraphModel,
  compileGraphProgram,
  evaluateAgreement,
  loadGraph,
  lowerGraph,
  proveGraphBatch,
  readSample,
  readSamples,
  type Graph,
  type LowerOptions,
  type Sample,
} from '../graph/index.js';
import { BUNDLED_MODELS, MNIST_CALIBRATION_SAMPLES } from '../model/index.js';
import { asciiDigit, loadMnistSplit, MNIST_PIXELS, type DigitSample } from '../model/mnist.js';
import { finishDemo } from './demo.js';
import { parseWeightsSalt, weightsVisibility, type WeightsFlags } from './weightsCommands.js';
import { randomSalt } from '../format/commitment.js';
import { modelIdOfCommitment } from '../format/modelId.js';
import { graphWeightsCommitment, graphWeightsWitness, type GraphWeightsOptions } from '../graph/pipeline.js';
import { weightsFromConstants } from '../graph/quant/privateWeights.js';
import type { QProgram } from '../graph/quant/lower.js';
import { createProgress, type Progress } from './progress.js';

export interface GraphFlags {
  model: string;
  calibration?: string;
  artifacts?: string;
  ptau?: string;
  privateInput?: boolean;
  classOnly?: boolean;
  class?: boolean;
  inputScale?: string;
  inputBits?: string;
  bits?: string;
  lookupBits?: string;
  tensorBits?: string;
  weights?: string;
  batchSize?: number;
  emit?: EmitMode;
  quiet?: boolean;
  /** Split models (splitCommands.ts): cut tensors, comma-separated, or 'auto'. */
  split?: string;
  chunkConstraints?: string;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

function intFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) fail('BAD_INPUT', `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** `--tensor-bits conv1=12,sig=10:12`: activation bits, and optionally lookup bits, per node or tensor. */
function tensorWidths(list: string): NonNullable<LowerOptions['tensors']> {
  const widths: NonNullable<LowerOptions['tensors']> = {};
  for (const item of list.split(',')) {
    const m = /^(.+)=(\d+)(?::(\d+))?$/.exec(item.trim());
    if (!m) fail('BAD_INPUT', `--tensor-bits takes NAME=BITS[:LOOKUP_BITS],..., got ${JSON.stringify(item)}`);
    widths[m[1]] = {
      activationBits: intFlag(m[2], `--tensor-bits ${m[1]}`, 2, 24),
      ...(m[3] !== undefined ? { lookupBits: intFlag(m[3], `--tensor-bits ${m[1]} lookup bits`, 1, 14) } : {}),
    };
  }
  return widths;
}

function lowerOptions(graph: Graph, flags: GraphFlags): LowerOptions {
  const scale = flags.inputScale === undefined ? undefined : Number(flags.inputScale);
  if (scale !== undefined && !(scale > 0 && Number.isFinite(scale))) fail('BAD_INPUT', `--input-scale must be a positive number, got ${JSON.stringify(flags.inputScale)}`);
  const inputBits = intFlag(flags.inputBits, '--input-bits', 1, 32);
  return {
    ...(flags.bits !== undefined ? { activationBits: intFlag(flags.bits, '--bits', 2, 24) } : {}),
    ...(flags.lookupBits !== undefined ? { lookupBits: intFlag(flags.lookupBits, '--lookup-bits', 1, 14) } : {}),
    ...(flags.tensorBits !== undefined ? { tensors: tensorWidths(flags.tensorBits) } : {}),
    inputs: Object.fromEntries(
      graph.inputs.map((i) => [i.name, { ...(scale !== undefined && i.dtype === 'float' ? { scale } : {}), ...(inputBits !== undefined ? { bits: inputBits } : {}) }]),
    ),
  };
}

export function visibilityOf(flags: GraphFlags): Visibility {
  return { input: flags.privateInput ? 'private' : 'public', output: flags.classOnly ? 'class' : 'logits', ...weightsVisibility(flags) };
}

/** The model file of --model: a bundled model's name, or a path (.onnx or a tfjs model.json). */
function modelFile(model: string): string {
  const bundled = BUNDLED_MODELS[model];
  if (bundled) return path.join(PACKAGE_ROOT, bundled.modelJson);
  if (!model.endsWith('.json') && !model.endsWith('.onnx'))
    fail('NOT_FOUND', `unknown model '${model}': use one of ${Object.keys(BUNDLED_MODELS).join(', ')}, a tfjs model.json or an .onnx file`);
  return path.resolve(model);
}

export const loadModelGraph = (model: string): Promise<Graph> => loadGraph(modelFile(model));

/** MNIST digits as samples of a graph whose one input holds 784 pixels (the bundled models). */
export function digitSamples(graph: Graph, digits: DigitSample[]): Sample[] {
  const input = graph.inputs[0];
  const n = graph.inputs.length === 1 ? size(input.shape) : 0;
  if (n !== MNIST_PIXELS) fail('BAD_INPUT', `MNIST digits are ${MNIST_PIXELS} pixels; this model's inputs are ${graph.inputs.map((i) => `'${i.name}' [${i.shape}]`).join(', ')}`);
  if (input.dtype !== 'int')
    fail('BAD_INPUT', `MNIST digits are integer pixels; input '${input.name}' of this model is ${input.dtype} (declare its encoding, src/graph/metadata.ts)`);
  return digits.map((d) => new Map([[input.name, Float64Array.from(d.pixels)]]));
}

export async function loadWithCalibration(flags: GraphFlags, loaded?: Graph) {
  const graph = loaded ?? (await loadModelGraph(flags.model));
  let calibration: Sample[];
  if (flags.calibration) calibration = await readSamples(graph, flags.calibration);
  else if (flags.model in BUNDLED_MODELS) calibration = digitSamples(graph, loadMnistSplit().train.slice(0, MNIST_CALIBRATION_SAMPLES));
  else
    fail(
      'BAD_INPUT',
      `${flags.model} needs --calibration FILE: inputs in the model's own units (a JSON array of samples, or one sample: a flat array, {name: array}, or EZKL's input.json)`,
    );
  return { graph, calibration, options: { ...lowerOptions(graph, flags), privateWeights: weightsVisibility(flags).weights === 'private' } };
}

function printAgreement(agreement: ReturnType<typeof evaluateAgreement>, what: string): void {
  for (const o of agreement.outputs) {
    const rel = o.maxAbsReference > 0 ? ` (${((100 * o.maxAbsError) / o.maxAbsReference).toFixed(2)}% of the largest |output|)` : '';
    out(`agreement  ${o.name}: max |float - quantized| ${o.maxAbsError.toPrecision(3)}${rel}, mean ${o.meanAbsError.toPrecision(3)} on ${agreement.samples} ${what}`);
  }
  if (agreement.accuracy) out(`accuracy   float ${(100 * agreement.accuracy.float).toFixed(2)}%, quantized ${(100 * agreement.accuracy.quantized).toFixed(2)}%`);
}

/** The circuit options every model command (compile, setup/prove, split) takes from its flags. */
export function circuitOptions(flags: GraphFlags, progress: Progress) {
  return {
    artifactsDir: flags.artifacts,
    visibility: visibilityOf(flags),
    classify: flags.class ? true : ('auto' as const),
    emit: flags.emit,
    onProgress: (stage: string, done: number, total: number) => progress.update(stage, done, total),
  };
}

export async function graphCompileCommand(flags: GraphFlags): Promise<void> {
  const progress = createProgress(flags.quiet);
  progress.stage('import + calibrate');
  const { graph, calibration, options } = await loadWithCalibration(flags);
  const program = lowerGraph(graph, calibration, options);
  progress.stage('compile');
  const compiled = await compileGraphProgram(program, { ...circuitOptions(flags, progress), graph });
  progress.stop();
  out(`model      ${graph.name}: ${graph.nodes.length} nodes (${[...new Set(graph.nodes.map((n) => n.op))].join(', ')})`);
  for (const line of graphCosts(program)) out(`cost       ${line}`);
  printAgreement(evaluateAgreement(graph, program, calibration), 'calibration samples');
  if (flags.model in BUNDLED_MODELS) {
    const test = loadMnistSplit().test;
    const acc = evaluateAgreement(
      graph,
      program,
      digitSamples(graph, test),
      test.map((d) => d.label),
    ).accuracy!;
    out(`accuracy   float ${(100 * acc.float).toFixed(2)}%, quantized ${(100 * acc.quantized).toFixed(2)}% on ${test.length} held-out digits`);
  }
  out(`circuit    ${compiled.circuit.constraints} constraints, ${compiled.circuit.wires} wires, ${compiled.layout.total} public signals`);
  out(`artifacts  ${compiled.circuit.dir}${compiled.linked ? ' (linked)' : ''}`);
  for (const note of graph.notes) out(`note       ${note}`);
}

export async function buildFromFlags(flags: GraphFlags, loaded?: Graph) {
  const progress = createProgress(flags.quiet);
  try {
    progress.stage('import + calibrate');
    const { graph, calibration, options } = await loadWithCalibration(flags, loaded);
    progress.stage('compile + setup (cached after the first run)');
    const model = await buildGraphModel(graph, calibration, {
      ...options,
      ...circuitOptions(flags, progress),
      ptauPath: flags.ptau,
      batch: flags.batchSize,
    });
    return { graph, model };
  } finally {
    progress.stop();
  }
}

/** The witness and Groth16 proof as one progress stage (snarkjs's multiexp counts), silent with -q. */
async function withProveProgress<T>(flags: GraphFlags, run: (onProgress: (stage: string, done: number, total: number) => void) => Promise<T>): Promise<T> {
  const progress = createProgress(flags.quiet);
  progress.stage('witness + prove');
  try {
    return await run((stage, done, total) => progress.update(stage, done, total));
  } finally {
    progress.stop();
  }
}

const INSECURE_WARNING = 'WARNING: local single-party setup. Whoever ran it could forge proofs; for production pass --ptau with a ceremony file and run a multi-party phase 2.';

function describeModel(model: Awaited<ReturnType<typeof buildFromFlags>>['model']): void {
  out(`circuit    ${model.circuit.constraints} constraints, ${model.layout.total} public signals`);
  out(`setup      ptau 2^${model.key.setup.ptau.power} (${model.key.setup.ptau.kind})`);
  out(`model id   ${model.modelId}`);
  if (model.key.setup.ptau.insecure) process.stderr.write(`${INSECURE_WARNING}\n`);
}

export async function graphSetupCommand(flags: GraphFlags): Promise<void> {
  const { model } = await buildFromFlags(flags);
  describeModel(model);
  out(`key        ${path.join(keyRegistryDir(flags.artifacts), `${model.modelId}.json`)}`);
}

/** Held-out MNIST digit --mnist-index. */
export function heldOutDigit(index: string): DigitSample {
  const test = loadMnistSplit().test;
  const i = Number(index);
  if (!/^\d+$/.test(index) || i >= test.length) fail('BAD_INPUT', `--mnist-index must be an integer from 0 to ${test.length - 1}`);
  return test[i];
}

/** `zkinfer demo`: the whole path on one held-out digit, bundle in artifacts/demo/proof.json. */
export async function graphDemoCommand(flags: GraphFlags & { mnistIndex?: string }): Promise<number> {
  const index = flags.mnistIndex ?? '0';
  const digit = heldOutDigit(index);
  const graph = await loadModelGraph(flags.model);
  const [sample] = digitSamples(graph, [digit]);
  out(asciiDigit(digit.pixels));
  out(`held-out digit #${index}, true label ${digit.label}`);
  const { model } = await buildFromFlags(flags, graph);
  describeModel(model);
  const t = Date.now();
  // Private weights: a fresh salt (the demo's model id is then new each run, as commit-weights without --weights-salt).
  const { bundle } = await withProveProgress(flags, (onProgress) =>
    proveGraphBatch(model, [sample], { ...(model.program.weights ? { weightsSalt: randomSalt() } : {}), onProgress }),
  );
  const proveSeconds = (Date.now() - t) / 1000;
  return finishDemo(bundle, model.key, proveSeconds, flags.artifacts);
}

export async function graphProveCommand(flags: GraphFlags & WeightsFlags & { input?: string; batch?: string; mnistIndex?: string; out: string }): Promise<void> {
  if ([flags.input, flags.batch, flags.mnistIndex].filter((f) => f !== undefined).length !== 1) {
    fail('BAD_INPUT', 'prove with one of --input FILE (one sample), --batch FILE (a JSON array of samples: one proof for all) or --mnist-index N (a held-out digit)');
  }
  // Read the samples before the (slow) setup, so a bad file fails at once.
  const graph = await loadModelGraph(flags.model);
  const samples =
    flags.mnistIndex !== undefined
      ? digitSamples(graph, [heldOutDigit(flags.mnistIndex)])
      : flags.input
        ? [await readSample(graph, flags.input)]
        : await readSamples(graph, flags.batch!, 'batch input');
  if (flags.batch && samples.length < 2) fail('BAD_INPUT', `batch file ${flags.batch} must hold at least 2 samples`);
  const { model } = await buildFromFlags({ ...flags, batchSize: samples.length }, graph);
  const weights = await graphWeightsOptions(flags, model.program);
  const { bundle, openings } = await withProveProgress(flags, (onProgress) => proveGraphBatch(model, samples, { ...weights, onProgress }));
  await writeFileAtomic(flags.out, JSON.stringify(bundle, null, 2));
  if (openings.length) {
    const openingFile = `${flags.out.replace(/\.json$/, '')}.opening.json`;
    await writeFileAtomic(openingFile, JSON.stringify(openings, null, 2));
    process.stderr.write(`input openings (input + salt: SECRET, keep them to check the commitments) written to ${openingFile}\n`);
  }
  for (const o of bundle.outputs ?? [])
    out(
      `output     ${o.name} [${o.shape}]: ${o.values
        .slice(0, 16)
        .map((v) => v.toPrecision(4))
        .join(' ')}${o.values.length > 16 ? ' ...' : ''}`,
    );
  const classes = (bundle.items ?? [bundle.prediction]).map((p) => p.class).filter((c) => c !== undefined);
  if (classes.length) out(`class${classes.length > 1 ? 'es' : ''}      ${classes.join(', ')}`);
  if (bundle.weightsCommitment) out(`model id   ${bundle.modelId} (weights commitment ${bundle.weightsCommitment})`);
  out(`proof written to ${flags.out}${samples.length > 1 ? ` (${samples.length} inferences)` : ''}`);
}

/**
 * --weights-salt and --weights-file of a private-weights graph model. The weights file is another model
 * (.onnx or tfjs model.json) of the same architecture: its weights are quantized at the circuit's public
 * scales and must fit the circuit's widths.
 */
async function graphWeightsOptions(flags: GraphFlags & WeightsFlags, program: QProgram): Promise<GraphWeightsOptions> {
  if (!program.weights) {
    if (flags.weightsFile !== undefined || flags.weightsSalt !== undefined) fail('BAD_INPUT', '--weights-file and --weights-salt are only used with --weights private');
    return {};
  }
  if (flags.weightsSalt === undefined) fail('BAD_INPUT', '--weights private needs --weights-salt N (the secret salt of the weights commitment; see zkinfer commit-weights)');
  const salt = parseWeightsSalt(flags.weightsSalt);
  if (!flags.weightsFile) return { weightsSalt: salt };
  const other = await loadModelGraph(flags.weightsFile);
  return { weightsSalt: salt, weights: weightsFromConstants(program, other.constants, flags.weightsFile) };
}

/**
 * `zkinfer commit-weights` for graph models: the weights commitment (model id of --weights private
 * proofs) of --model's weights, or --weights-file's quantized at --model's scales, under a salt.
 */
export async function graphCommitWeightsCommand(flags: GraphFlags & WeightsFlags): Promise<void> {
  const { graph, calibration, options } = await loadWithCalibration({ ...flags, weights: 'private' });
  const program = lowerGraph(graph, calibration, options);
  const salt = flags.weightsSalt !== undefined ? parseWeightsSalt(flags.weightsSalt) : randomSalt();
  const values = flags.weightsFile ? weightsFromConstants(program, (await loadModelGraph(flags.weightsFile)).constants, flags.weightsFile) : undefined;
  const commitment = await graphWeightsCommitment(program, salt, graphWeightsWitness(program, { weightsSalt: salt, ...(values ? { weights: values } : {}) })!.values);
  if (flags.weightsSalt === undefined) out(`weights salt       ${salt} (SECRET: provers need it; it keeps the weights from being guessed)`);
  out(`weights commitment ${commitment}`);
  out(`model id           ${modelIdOfCommitment(commitment)}`);
}

export async function graphEvaluateCommand(flags: GraphFlags & { inputs: string; labels?: string }): Promise<void> {
  const { graph, calibration, options } = await loadWithCalibration(flags);
  const program = lowerGraph(graph, calibration, options);
  const samples = await readSamples(graph, flags.inputs, 'inputs');
  let labels: number[] | undefined;
  if (flags.labels) {
    const value = await readJsonFile(flags.labels, 'labels', 'BAD_INPUT');
    if (!Array.isArray(value) || !value.every((v) => Number.isInteger(v))) fail('BAD_INPUT', `labels ${flags.labels} must be a JSON array of integer class indices`);
    labels = value as number[];
  }
  printAgreement(evaluateAgreement(graph, program, samples, labels), 'samples');
}
