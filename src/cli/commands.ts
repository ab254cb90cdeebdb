import path from 'node:path';
import { isChainBundle, verifyChainCommand } from './splitCommands.js';
import { readdir } from 'node:fs/promises';
import { buildModel, type BuildOptions } from '../index.js';
import { BUNDLED_MODELS, loadModelSource } from '../model/index.js';
import { asciiDigit, loadMnistSplit } from '../model/mnist.js';
import { compileModel, type Visibility } from '../circuit/index.js';
import { quantizeModel } from '../quantize/quantize.js';
import { compareAccuracy } from '../quantize/accuracy.js';
import { layerSummary } from '../quantize/linear.js';
import { prove, proveWithOpenings } from '../prove/index.js';
import { inputCommitment } from '../format/commitment.js';
import { verify } from '../verify/index.js';
import { keyRegistryDir, type CompiledModel } from '../setup/index.js';
import { generateDevPtau } from '../setup/devPtau.js';
import type { ProofBundle } from '../format/bundle.js';
import { parseKey } from '../format/key.js';
import { ZkinferError } from '../util/errors.js';
import { exists, readJsonFile, writeFileAtomic } from '../util/fs.js';
import { finishDemo } from './demo.js';
import { createProgress } from './progress.js';
import { weightsProveOptions, weightsVisibility, type WeightsFlags } from './weightsCommands.js';
import { modelIdOfCommitment } from '../weights/commitment.js';
import { openingCommitmentValues } from '../format/opening.js';

/** Shared options of the commands that build a model. */
export interface ModelFlags extends WeightsFlags {
  model: string;
  /** Inferences per proof (set by prove --batch). */
  batchSize?: number;
  /** prove: the inputs, checked before compile and setup. */
  inputs?: unknown[];
  privateInput?: boolean;
  classOnly?: boolean;
  calibration?: string;
  ptau?: string;
  artifacts?: string;
  quiet?: boolean;
}

const INSECURE_WARNING =
  'WARNING: local single-party setup. Whoever ran it could forge proofs; for production pass --ptau with a ceremony file and run a multi-party phase 2.';

const out = (line: string) => process.stdout.write(`${line}\n`);

/** What the proof reveals, from --private-input, --class-only and --weights (compile and setup agree). */
function visibilityOf(flags: ModelFlags): Visibility {
  return { input: flags.privateInput ? 'private' : 'public', output: flags.classOnly ? 'class' : 'logits', ...weightsVisibility(flags) };
}

async function build(flags: ModelFlags): Promise<CompiledModel> {
  const progress = createProgress(flags.quiet);
  const options: BuildOptions = {
    calibrationFile: flags.calibration,
    ptauPath: flags.ptau,
    artifactsDir: flags.artifacts,
    batch: flags.batchSize,
    inputs: flags.inputs,
    visibility: visibilityOf(flags),
    onStage: (s) => progress.stage(s === 'setup' ? 'setup (cached after the first run)' : s),
    onProgress: (stage, done, total) => progress.update(stage, done, total),
  };
  try {
    const model = await buildModel(flags.model, options);
    progress.stage('ready');
    return model;
  } finally {
    progress.stop();
  }
}

function describe(model: CompiledModel): void {
  out(`model      ${model.qmodel.name} (${model.qmodel.layers.map(layerSummary).join(', ')})`);
  out(`circuit    ${model.circuit.constraints} constraints, ${model.circuit.publicInputs + model.circuit.outputs} public signals`);
  out(`setup      ptau 2^${model.key.setup.ptau.power} (${model.key.setup.ptau.kind})`);
  if (model.architecture) out(`key id     ${model.modelId} (private weights: a proof's model id is its weights commitment)`);
  else out(`model id   ${model.modelId}`);
  if (model.key.setup.ptau.insecure) process.stderr.write(`${INSECURE_WARNING}\n`);
}

/** `zkinfer compile`: quantize, report float vs quantized accuracy on held-out digits, compile. */
export async function compileCommand(flags: ModelFlags): Promise<void> {
  const progress = createProgress(flags.quiet);
  progress.stage('load + quantize');
  const source = await loadModelSource(flags.model, { calibrationFile: flags.calibration });
  const qmodel = quantizeModel(source.float, source.calibration, { inputBits: source.inputBits, inputScale: source.inputScale, labels: source.labels });
  if (flags.model in BUNDLED_MODELS) {
    const acc = compareAccuracy(source.float, qmodel, loadMnistSplit().test);
    out(`accuracy   float ${(100 * acc.float).toFixed(2)}%, quantized ${(100 * acc.quantized).toFixed(2)}% on ${acc.samples} held-out digits`);
  }
  progress.stage('compile (circom2)');
  const compiled = await compileModel(qmodel, { artifactsDir: flags.artifacts, visibility: visibilityOf(flags) });
  progress.stop();
  out(`circuit    ${compiled.circuit.constraints} constraints, ${compiled.circuit.wires} wires`);
  out(`artifacts  ${compiled.circuit.dir}`);
}

export async function setupCommand(flags: ModelFlags): Promise<void> {
  const model = await build(flags);
  describe(model);
  out(`key        ${path.join(keyRegistryDir(flags.artifacts), `${model.modelId}.json`)}`);
}

async function readInput(flags: { input?: string; mnistIndex?: string }): Promise<{ pixels: number[]; label?: number }> {
  if (flags.input && flags.mnistIndex !== undefined) throw new ZkinferError('BAD_INPUT', 'give either --input or --mnist-index, not both');
  if (flags.input) {
    const value = await readJsonFile(flags.input, 'input', 'BAD_INPUT');
    const arr = Array.isArray(value) ? value : (value as { input?: unknown })?.input;
    if (!Array.isArray(arr)) throw new ZkinferError('BAD_INPUT', `input file ${flags.input} must hold a JSON array of integers (or {"input": [...]})`);
    return { pixels: arr as number[] };
  }
  const test = loadMnistSplit().test;
  const index = Number(flags.mnistIndex ?? 0);
  if (!Number.isInteger(index) || index < 0 || index >= test.length) {
    throw new ZkinferError('BAD_INPUT', `--mnist-index must be an integer from 0 to ${test.length - 1}`);
  }
  return { pixels: Array.from(test[index].pixels), label: test[index].label };
}

async function readBatch(file: string): Promise<number[][]> {
  const value = await readJsonFile(file, 'batch input', 'BAD_INPUT');
  if (!Array.isArray(value) || value.length < 2 || !value.every(Array.isArray)) {
    throw new ZkinferError('BAD_INPUT', `batch file ${file} must hold a JSON array of at least 2 input arrays`);
  }
  return value as number[][];
}

export async function proveCommand(flags: ModelFlags & { input?: string; mnistIndex?: string; batch?: string; out: string }): Promise<void> {
  if (flags.batch && (flags.input || flags.mnistIndex !== undefined)) throw new ZkinferError('BAD_INPUT', 'give --batch alone, without --input or --mnist-index');
  const inputs = flags.batch ? await readBatch(flags.batch) : [(await readInput(flags)).pixels];
  const model = await build({ ...flags, batchSize: inputs.length, inputs });
  const { bundle, openings } = await proveWithOpenings(model, inputs, await weightsProveOptions(flags));
  await writeFileAtomic(flags.out, JSON.stringify(bundle, null, 2));
  if (bundle.weightsCommitment) out(`model id ${modelIdOfCommitment(bundle.weightsCommitment)} (weights commitment ${bundle.weightsCommitment})`);
  if (openings.length > 0) {
    const openingFile = `${flags.out.replace(/\.json$/, '')}.opening.json`;
    await writeFileAtomic(openingFile, JSON.stringify(openings, null, 2));
    process.stderr.write(`input openings (input + salt: SECRET, keep them to check the commitments) written to ${openingFile}\n`);
  }
  const classes = (bundle.items ?? [bundle.prediction]).map((p) => p.class).join(', ');
  out(`class${inputs.length > 1 ? 'es' : ''} ${classes}; proof written to ${flags.out}`);
}

async function findKey(modelId: string, artifacts?: string): Promise<unknown> {
  const file = path.join(keyRegistryDir(artifacts), `${modelId}.json`);
  if (!(await exists(file))) {
    const known = (await exists(keyRegistryDir(artifacts))) ? (await readdir(keyRegistryDir(artifacts))).length : 0;
    throw new ZkinferError('NOT_FOUND', `no verification key for model ${modelId.slice(0, 16)}… among ${known} known keys; pass --key FILE`);
  }
  return readJsonFile(file, 'verification key', 'BAD_KEY');
}

/** The key a bundle is checked against: --key, else the key filed under the bundle's model id. */
async function resolveKey(bundle: unknown, flags: { key?: string; artifacts?: string }): Promise<unknown> {
  if (flags.key) return readJsonFile(flags.key, 'verification key', 'BAD_KEY');
  // Private-weights bundles name their key in keyId (their modelId is the weights commitment).
  const id = (bundle as { keyId?: unknown })?.keyId ?? (bundle as { modelId?: unknown })?.modelId;
  if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) {
    throw new ZkinferError('BAD_BUNDLE', 'malformed proof bundle: modelId: missing or not a 64-digit hex id (pass --key to verify anyway)');
  }
  return findKey(id, flags.artifacts);
}

/** `zkinfer verify`: exit code 0 only for a valid proof; otherwise one line saying why. */
export async function verifyCommand(file: string, flags: { key?: string; artifacts?: string; json?: boolean }): Promise<number> {
  const bundle = await readJsonFile(file, 'proof bundle', 'BAD_BUNDLE');
  if (isChainBundle(bundle)) return verifyChainCommand(bundle, flags);
  const result = await verify(bundle, await resolveKey(bundle, flags));
  // A bundle that is not a zkinfer bundle at all (bad field, unsupported version: the verdict's `malformed`)
  // is bad input, exit 2 with the one-line error; a well-formed bundle whose proof fails is exit 1.
  if (result.malformed && !flags.json) throw new ZkinferError('BAD_BUNDLE', result.reason ?? 'malformed proof bundle');
  if (flags.json) out(JSON.stringify(result));
  else if (result.valid) {
    const items = result.output!.items;
    const classes = items.map(({ prediction: p }) => `${p.class}${p.label !== undefined && p.label !== String(p.class) ? ` (${p.label})` : ''}`);
    out(`VALID: model ${result.modelId!.slice(0, 16)}… predicts class${items.length > 1 ? 'es' : ''} ${classes.join(', ')}`);
  } else out(`INVALID: ${result.reason}`);
  return result.valid ? 0 : result.malformed ? 2 : 1;
}

/** `zkinfer check-commitment`: the proof is valid AND its input commitments open to the given inputs. */
export async function checkCommitmentCommand(file: string, flags: { opening: string; key?: string; artifacts?: string }): Promise<number> {
  const bundle = await readJsonFile(file, 'proof bundle', 'BAD_BUNDLE');
  const key = parseKey(await resolveKey(bundle, flags));
  const result = await verify(bundle, key);
  if (!result.valid) {
    out(`INVALID: ${result.reason}`);
    return 1;
  }
  const commitments = result.output!.items.map((i) => i.inputCommitment);
  if (commitments.some((c) => c === undefined)) throw new ZkinferError('BAD_BUNDLE', 'this proof has public inputs: there is no commitment to check');
  const openings = await readJsonFile(flags.opening, 'opening', 'BAD_INPUT');
  if (!Array.isArray(openings) || openings.length !== commitments.length) {
    throw new ZkinferError('BAD_INPUT', `opening file ${flags.opening} must hold ${commitments.length} openings as written by zkinfer prove`);
  }
  // Every opening is validated (length, range, canonical salt) before hashing: packing is injective only there.
  const checked = (openings as unknown[]).map((o, i) => openingCommitmentValues(key, o, i));
  let ok = true;
  for (const [i, o] of checked.entries()) if (String(await inputCommitment(o.values, o.bits, o.salt)) !== commitments[i]) ok = false;
  out(ok ? 'MATCH: the proof is valid and its input commitments open to these inputs' : 'MISMATCH: the inputs/salts do not open the proved commitments');
  return ok ? 0 : 1;
}

export async function ptauCommand(flags: { power: string; out: string }): Promise<void> {
  const power = Number(flags.power);
  const progress = createProgress();
  progress.stage(`generating a local development ptau of power ${power} (INSECURE: the generator knew tau)`);
  const { seconds } = await generateDevPtau(power, flags.out, { onProgress: (stage, d, t) => progress.update(stage, d, t) });
  progress.stop();
  out(`wrote ${flags.out} in ${seconds.toFixed(1)} s`);
  process.stderr.write(`${INSECURE_WARNING}\n`);
}

/** `zkinfer demo`: the whole path on one held-out digit, bundle in artifacts/demo/proof.json. */
export async function demoCommand(flags: ModelFlags & { mnistIndex?: string }): Promise<number> {
  const { pixels, label } = await readInput({ mnistIndex: flags.mnistIndex ?? '0' });
  out(asciiDigit(Uint8Array.from(pixels)));
  out(`held-out digit #${flags.mnistIndex ?? 0}, true label ${label}`);
  const model = await build(flags);
  describe(model);
  const t = Date.now();
  const bundle: ProofBundle = await prove(model, pixels);
  const proveSeconds = (Date.now() - t) / 1000;
  return finishDemo(bundle, model.key, proveSeconds, flags.artifacts);
}
