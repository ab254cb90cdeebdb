/**
 * CLI commands for models split across provers (`--split T1,T2,...` or `--split auto --chunk-constraints
 * N`): compile, setup and prove a chain of chunk circuits (src/graph/split.ts, splitPipeline.ts); `verify`
 * reads chain bundles through verifyChainCommand. Chain keys are filed under artifacts/keys/chains by id.
 */
import path from 'node:path';
import { CHAIN_BUNDLE_FORMAT, parseChainBundle, type ChainKey } from '../format/chain.js';
import { splitGraph, type SplitOptions } from '../graph/split.js';
import { compileSplit, setupSplit, proveSplit, type SplitModel } from '../graph/splitPipeline.js';
import { readSample } from '../graph/index.js';
import { ProverThreads } from '../queue/proverThreads.js';
import { keyRegistryDir } from '../setup/index.js';
import { fail, ZkinferError } from '../util/errors.js';
import { exists, readJsonFile, writeFileAtomic } from '../util/fs.js';
import { verifyChain } from '../verify/core.js';
import { circuitOptions, digitSamples, heldOutDigit, loadModelGraph, loadWithCalibration, type GraphFlags } from './graphCommands.js';
import { createProgress } from './progress.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

export const isSplit = (flags: { split?: string }) => flags.split !== undefined;

function splitOptions(flags: GraphFlags): SplitOptions {
  const split = flags.split!.trim();
  let chunkConstraints: number | undefined;
  if (flags.chunkConstraints !== undefined) {
    if (!/^\d+$/.test(flags.chunkConstraints) || Number(flags.chunkConstraints) < 1)
      fail('BAD_INPUT', `--chunk-constraints must be a positive integer, got ${JSON.stringify(flags.chunkConstraints)}`);
    chunkConstraints = Number(flags.chunkConstraints);
    if (split !== 'auto') fail('BAD_INPUT', '--chunk-constraints is the budget of --split auto; with named cuts leave it out');
  }
  if (split === 'auto') return { split: 'auto', chunkConstraints };
  const names = split.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) fail('BAD_INPUT', `--split takes tensor names separated by commas (or auto), got ${JSON.stringify(flags.split)}`);
  return { split: names };
}

const chainDir = (artifacts?: string) => path.join(path.dirname(keyRegistryDir(artifacts)), 'chains');

async function compileFromFlags(flags: GraphFlags) {
  const progress = createProgress(flags.quiet);
  try {
    progress.stage('import + calibrate');
    if (flags.batchSize !== undefined && flags.batchSize !== 1) fail('BAD_INPUT', 'a split model proves one inference per chain (no --batch)');
    const { graph, calibration, options } = await loadWithCalibration(flags);
    const split = splitGraph(graph, calibration, { ...options, ...splitOptions(flags) });
    progress.stage(`compile ${split.chunks.length} chunks`);
    const circuits = await compileSplit(split, { ...circuitOptions(flags, progress), graph });
    return { graph, circuits, progress };
  } catch (err) {
    progress.stop();
    throw err;
  }
}

function describeChunks(circuits: Awaited<ReturnType<typeof compileFromFlags>>['circuits']): void {
  const { split, chunks } = circuits;
  out(`split      ${chunks.length} chunks at ${split.cuts.join(', ')}`);
  chunks.forEach((c, j) =>
    out(
      `chunk ${j + 1}    ${c.circuit.constraints} constraints (estimated ${split.estimates[j]}), ${c.layout.total} public signals${c.linked ? ' (linked)' : ''}: ${c.program.inputs.map((i) => i.name).join(', ')} -> ${c.program.outputs.map((o) => o.name).join(', ')}`,
    ),
  );
}

export async function splitCompileCommand(flags: GraphFlags): Promise<void> {
  const { circuits, progress } = await compileFromFlags(flags);
  progress.stop();
  describeChunks(circuits);
}

async function buildSplit(flags: GraphFlags & { ptau?: string }): Promise<SplitModel> {
  const { circuits, progress } = await compileFromFlags(flags);
  try {
    progress.stage('setup');
    const model = await setupSplit(circuits, { artifactsDir: flags.artifacts, ptauPath: flags.ptau, onProgress: (stage, done, total) => progress.update(stage, done, total) });
    const file = path.join(chainDir(flags.artifacts), `${model.chainId}.json`);
    if (!(await exists(file))) await writeFileAtomic(file, JSON.stringify(model.chainKey, null, 2));
    progress.stop();
    describeChunks(circuits);
    out(`chain id   ${model.chainId}`);
    out(`chain key  ${file}`);
    return model;
  } finally {
    progress.stop();
  }
}

export async function splitSetupCommand(flags: GraphFlags & { ptau?: string }): Promise<void> {
  await buildSplit(flags);
}

export async function splitProveCommand(flags: GraphFlags & { ptau?: string; input?: string; batch?: string; mnistIndex?: string; workers?: string; out: string }): Promise<void> {
  if (flags.batch !== undefined) fail('BAD_INPUT', 'a split model proves one inference per chain: use --input FILE or --mnist-index N, not --batch');
  if ((flags.input === undefined) === (flags.mnistIndex === undefined)) fail('BAD_INPUT', 'prove a split model with one of --input FILE or --mnist-index N');
  const workers = flags.workers === undefined ? 0 : Number(flags.workers);
  if (!Number.isInteger(workers) || workers < 0 || workers > 64)
    fail('BAD_INPUT', `--workers must be an integer from 0 (prove here, one chunk after another) to 64, got ${JSON.stringify(flags.workers)}`);
  const graph = await loadModelGraph(flags.model);
  const sample = flags.input ? await readSample(graph, flags.input) : digitSamples(graph, [heldOutDigit(flags.mnistIndex!)])[0];
  const model = await buildSplit(flags);
  const threads = workers > 0 ? new ProverThreads(workers, flags.artifacts) : undefined;
  const progress = createProgress(flags.quiet);
  try {
    progress.stage(`prove ${model.chunks.length} chunks${threads ? ` on ${workers} prover threads` : ''}`);
    const { bundle, inputOpening } = await proveSplit(model, sample, { threads, onProgress: (stage, done, total) => progress.update(stage, done, total) });
    progress.stop();
    await writeFileAtomic(flags.out, JSON.stringify(bundle, null, 2));
    if (inputOpening) process.stderr.write(`input commitment salt (SECRET): ${inputOpening.salt}\n`);
    const last = bundle.links[bundle.links.length - 1];
    for (const o of last.outputs ?? [])
      out(
        `output     ${o.name} [${o.shape}]: ${o.values
          .slice(0, 16)
          .map((v) => v.toPrecision(4))
          .join(' ')}${o.values.length > 16 ? ' ...' : ''}`,
      );
    if (last.prediction.class !== undefined) out(`class      ${last.prediction.class}`);
    out(`proof written to ${flags.out} (${bundle.links.length} chunk proofs)`);
  } finally {
    progress.stop();
    await threads?.close();
  }
}

export const isChainBundle = (bundle: unknown) => (bundle as { format?: unknown })?.format === CHAIN_BUNDLE_FORMAT;

/** `zkinfer verify` of a chain bundle: --key is the chain key, else looked up by chain id. */
export async function verifyChainCommand(bundle: unknown, flags: { key?: string; artifacts?: string; json?: boolean }): Promise<number> {
  // Not a chain bundle at all is bad input (exit 2), as for verify's other bundles; a failed check is exit 1.
  parseChainBundle(bundle);
  let key: unknown;
  if (flags.key) key = await readJsonFile(flags.key, 'chain key', 'BAD_KEY');
  else {
    const id = (bundle as { chainId?: unknown }).chainId;
    if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id))
      throw new ZkinferError('BAD_BUNDLE', 'malformed chain proof bundle: chainId: missing or not a 64-digit hex id (pass --key to verify anyway)');
    const file = path.join(chainDir(flags.artifacts), `${id}.json`);
    if (!(await exists(file))) throw new ZkinferError('NOT_FOUND', `no chain key for chain ${id.slice(0, 16)}… under ${chainDir(flags.artifacts)} (pass --key)`);
    key = (await readJsonFile(file, 'chain key', 'BAD_KEY')) as ChainKey;
  }
  const result = await verifyChain(key, bundle);
  if (flags.json) out(JSON.stringify(result));
  else if (result.valid) {
    const p = result.output!.prediction;
    out(
      `VALID: chain ${result.chainId!.slice(0, 16)}… (${result.links!.length} chunks) ${p.class !== undefined ? `predicts class ${p.class}` : `outputs ${p.logits.slice(0, 10).join(' ')}${p.logits.length > 10 ? ' ...' : ''}`}`,
    );
  } else out(`INVALID: ${result.reason}`);
  return result.valid ? 0 : 1;
}
