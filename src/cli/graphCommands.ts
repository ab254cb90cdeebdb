/**
 * CLI commands for graph models (ONNX files): compile, setup, prove, evaluate. Inputs and calibration are
 * floats in the model's own units (a flat array, {name: array}, or EZKL's input.json).
 */
import path from 'node:path';
import type { Visibility } from '../circuit/emit.js';
import { keyRegistryDir } from '../setup/index.js';
import { fail } from '../util/errors.js';
import { readJsonFile, writeFileAtomic } from '../util/fs.js';
import { graphCosts } from '../graph/cost.js';
import type { EmitMode } from '../graph/pipeline.js';
import { buildGraphModel, compileGraphProgram, evaluateAgreement, loadGraph, lowerGraph, proveGraphBatch, readSample, readSamples, type Graph, type LowerOptions } from '../graph/index.js';
import { createProgress } from './progress.js';

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
  weights?: string;
  batchSize?: number;
  emit?: EmitMode;
  quiet?: boolean;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

function intFlag(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) fail('BAD_INPUT', `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

function lowerOptions(graph: Graph, flags: GraphFlags): LowerOptions {
  const scale = flags.inputScale === undefined ? undefined : Number(flags.inputScale);
  if (scale !== undefined && !(scale > 0 && Number.isFinite(scale))) fail('BAD_INPUT', `--input-scale must be a positive number, got ${JSON.stringify(flags.inputScale)}`);
  const inputBits = intFlag(flags.inputBits, '--input-bits', 1, 32);
  return {
    ...(flags.bits !== undefined ? { activationBits: intFlag(flags.bits, '--bits', 2, 24) } : {}),
    ...(flags.lookupBits !== undefined ? { lookupBits: intFlag(flags.lookupBits, '--lookup-bits', 1, 14) } : {}),
    inputs: Object.fromEntries(graph.inputs.map((i) => [i.name, { ...(scale !== undefined && i.dtype === 'float' ? { scale } : {}), ...(inputBits !== undefined ? { bits: inputBits } : {}) }])),
  };
}

function visibilityOf(flags: GraphFlags): Visibility {
  return { input: flags.privateInput ? 'private' : 'public', output: flags.classOnly ? 'class' : 'logits' };
}

async function loadWithCalibration(flags: GraphFlags, loaded?: Graph) {
  if (flags.weights === 'private') fail('BAD_INPUT', '--weights private is available for layer models (tfjs and the bundled models); graph (ONNX) models bake their weights in');
  const graph = loaded ?? (await loadGraph(path.resolve(flags.model)));
  if (!flags.calibration) fail('BAD_INPUT', `${flags.model} needs --calibration FILE: inputs in the model's own units (a JSON array of samples, or one sample: a flat array, {name: array}, or EZKL's input.json)`);
  const calibration = await readSamples(graph, flags.calibration);
  return { graph, calibration, options: lowerOptions(graph, flags) };
}

function printAgreement(agreement: ReturnType<typeof evaluateAgreement>, what: string): void {
  for (const o of agreement.outputs) {
    const rel = o.maxAbsReference > 0 ? ` (${((100 * o.maxAbsError) / o.maxAbsReference).toFixed(2)}% of the largest |output|)` : '';
    out(`agreement  ${o.name}: max |float - quantized| ${o.maxAbsError.toPrecision(3)}${rel}, mean ${o.meanAbsError.toPrecision(3)} on ${agreement.samples} ${what}`);
  }
  if (agreement.accuracy) out(`accuracy   float ${(100 * agreement.accuracy.float).toFixed(2)}%, quantized ${(100 * agreement.accuracy.quantized).toFixed(2)}%`);
}

export async function graphCompileCommand(flags: GraphFlags): Promise<void> {
  const progress = createProgress(flags.quiet);
  progress.stage('import + calibrate');
  const { graph, calibration, options } = await loadWithCalibration(flags);
  const program = lowerGraph(graph, calibration, options);
  progress.stage('compile');
  const compiled = await compileGraphProgram(program, {
    artifactsDir: flags.artifacts,
    visibility: visibilityOf(flags),
    classify: flags.class ? true : 'auto',
    graph,
    emit: flags.emit,
    onProgress: (stage, done, total) => progress.update(stage, done, total),
  });
  progress.stop();
  out(`model      ${graph.name}: ${graph.nodes.length} nodes (${[...new Set(graph.nodes.map((n) => n.op))].join(', ')})`);
  for (const line of graphCosts(program)) out(`cost       ${line}`);
  printAgreement(evaluateAgreement(graph, program, calibration), 'calibration samples');
  out(`circuit    ${compiled.circuit.constraints} constraints, ${compiled.circuit.wires} wires, ${compiled.layout.total} public signals`);
  out(`artifacts  ${compiled.circuit.dir}${compiled.linked ? ' (linked)' : ''}`);
  for (const note of graph.notes) out(`note       ${note}`);
}

async function buildFromFlags(flags: GraphFlags, loaded?: Graph) {
  const progress = createProgress(flags.quiet);
  try {
    progress.stage('import + calibrate');
    const { graph, calibration, options } = await loadWithCalibration(flags, loaded);
    progress.stage('compile + setup (cached after the first run)');
    const model = await buildGraphModel(graph, calibration, {
      ...options,
      artifactsDir: flags.artifacts,
      ptauPath: flags.ptau,
      visibility: visibilityOf(flags),
      classify: flags.class ? true : 'auto',
      batch: flags.batchSize,
      emit: flags.emit,
      onProgress: (stage, done, total) => progress.update(stage, done, total),
    });
    return { graph, model };
  } finally {
    progress.stop();
  }
}

export async function graphSetupCommand(flags: GraphFlags): Promise<void> {
  const { model } = await buildFromFlags(flags);
  out(`circuit    ${model.circuit.constraints} constraints, ${model.layout.total} public signals`);
  out(`model id   ${model.modelId}`);
  out(`key        ${path.join(keyRegistryDir(flags.artifacts), `${model.modelId}.json`)}`);
}

export async function graphProveCommand(flags: GraphFlags & { input?: string; batch?: string; mnistIndex?: string; out: string }): Promise<void> {
  if (flags.mnistIndex !== undefined) fail('BAD_INPUT', '--mnist-index is for the bundled models; prove an ONNX model with --input FILE');
  if (!flags.input === !flags.batch) fail('BAD_INPUT', 'prove an ONNX model with --input FILE (one sample) or --batch FILE (a JSON array of samples: one proof for all)');
  // Read the samples before the (slow) setup, so a bad file fails at once.
  const graph = await loadGraph(path.resolve(flags.model));
  const samples = flags.input ? [await readSample(graph, flags.input)] : await readSamples(graph, flags.batch!, 'batch input');
  if (flags.batch && samples.length < 2) fail('BAD_INPUT', `batch file ${flags.batch} must hold at least 2 samples`);
  const { model } = await buildFromFlags({ ...flags, batchSize: samples.length }, graph);
  const { bundle, openings } = await proveGraphBatch(model, samples);
  await writeFileAtomic(flags.out, JSON.stringify(bundle, null, 2));
  if (openings.length) {
    const openingFile = `${flags.out.replace(/\.json$/, '')}.opening.json`;
    await writeFileAtomic(openingFile, JSON.stringify(openings, null, 2));
    process.stderr.write(`input openings (input + salt: SECRET, keep them to check the commitments) written to ${openingFile}\n`);
  }
  for (const o of bundle.outputs ?? []) out(`output     ${o.name} [${o.shape}]: ${o.values.slice(0, 16).map((v) => v.toPrecision(4)).join(' ')}${o.values.length > 16 ? ' ...' : ''}`);
  const classes = (bundle.items ?? [bundle.prediction]).map((p) => p.class).filter((c) => c !== undefined);
  if (classes.length) out(`class${classes.length > 1 ? 'es' : ''}      ${classes.join(', ')}`);
  out(`proof written to ${flags.out}${samples.length > 1 ? ` (${samples.length} inferences)` : ''}`);
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
