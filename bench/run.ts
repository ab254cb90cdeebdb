/**
 * `npm run bench`: the cost of proving inference with zkinfer, measured in one run from a cold artifacts
 * directory, next to a circomlib-ml-style baseline of the same quantized models:
 *   - every bundled model and a sweep of MLP widths 784-W-10: constraints, compile, setup, witness, prove
 *     (median and spread), verify, proof size, peak RSS; each measurement in its own child process;
 *   - the baseline (bench/baseline) on the same models, and the zkinfer/baseline ratios;
 *   - throughput: proofs per minute one at a time vs a pool of worker threads;
 *   - the fast development ptau against snarkjs's prepare phase2.
 *
 *   npm run bench                       full: widths 16, 32, 64, 128; 7 proofs per model (3 for the baseline)
 *   npm run bench -- --quick            short: width 16 and the bundled model; 3 proofs (2 for the baseline)
 *   npm run bench -- --widths 16,64     choose the sweep
 *   npm run bench -- --redraw           rewrite bench/results.md and cost.svg from bench/results.json (no measuring)
 *   npm run bench -- --with split,link  then run those reports too (npm run bench:<name>, each writes its own
 *                                       bench/<name>.md): split (the CIFAR LeNet whole / 2 / 4 chunks, ~50 min),
 *                                       link, ops, activation, transformer, sequence
 *
 * Writes bench/results.json, bench/results.md and bench/cost.svg. Every figure is measured in this run.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProgress } from '../src/cli/progress.js';
import { PACKAGE_ROOT, writeFileAtomic } from '../src/util/fs.js';
import { costChart, type ChartSeries } from './chart.js';
import { runChild } from './child.js';
import { benchCosts, costsMarkdown } from './costs.js';
import { benchDevPtau } from './devPtau.js';
import { benchProvingQueue, type QueueBenchRow } from './provingQueue.js';
import { benchVerifyLoad, type VerifyLoadResult } from './verifyLoad.js';
import type { BuildResult, Job, ProveResult, ThroughputResult } from './measure.js';
import { FULL_WIDTHS, QUICK_WIDTHS, variantsFor, type Impl } from './models.js';
import { markdown, type Comparison, type Machine, type ModelResult, type Results, type ThroughputRow } from './report.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const widthsArg = args.indexOf('--widths');
const widths = widthsArg >= 0 ? args[widthsArg + 1].split(',').map(Number) : quick ? QUICK_WIDTHS : FULL_WIDTHS;
if (widths.some((w) => !Number.isInteger(w) || w < 1)) throw new Error('--widths takes a comma-separated list of positive integers');
const SETTINGS = {
  widths,
  proveRuns: { zkinfer: quick ? 3 : 7, baseline: quick ? 2 : 3 }, // baseline proofs take ~10x longer
  throughputProofs: quick ? 6 : 16,
  poolWorkers: os.cpus().length > 1 ? [1, os.cpus().length] : [1], // one worker per core, and one alone
  throughputModel: 'mlp',
  ptauPowers: quick ? [10, 12, 14] : [10, 12, 14, 16, 18],
  snarkjsPrepare: quick ? [10] : [10, 12, 14], // 2^14 takes ~7 min in snarkjs; 2^16 does not finish in reasonable time
};

// Reports of their own, run after the main one with --with (each is `npm run bench:<name>`).
const WITH = ['split', 'link', 'ops', 'activation', 'transformer', 'sequence'];
const withArg = args.indexOf('--with');
const extra = withArg >= 0 ? (args[withArg + 1] ?? '').split(',').filter(Boolean) : [];
const unknownExtra = extra.filter((x) => !WITH.includes(x));
if (unknownExtra.length || (withArg >= 0 && !extra.length)) {
  process.stderr.write(`bench: --with takes a comma-separated list of: ${WITH.join(', ')}\n`);
  process.exit(2);
}

/** One extra report, in its own process, with its output shown as it runs. */
function runReport(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', `bench:${name}`], { cwd: PACKAGE_ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`npm run bench:${name} failed (exit ${code ?? signal})`))));
  });
}

const PARTIAL = path.join(os.tmpdir(), 'zkinfer-bench-partial.json');

// snarkjs's exports map hides its package.json from require(); read the file directly.
const versionOf = (pkg: string) => (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    snarkjs: versionOf('snarkjs'),
    circom2: versionOf('circom2'),
    date: new Date().toISOString(),
    loadAverageAtStart: os.loadavg(),
  };
}

function serviceMarkdown(load: VerifyLoadResult | { failed: string }, queue: QueueBenchRow[] | { failed: string }): string {
  const loadText =
    'failed' in load
      ? `FAILED: ${load.failed}`
      : `POST /v1/verify with a ${load.publicSignals}-signal ${load.model} bundle, ${load.connections} connections for ${load.durationSeconds} s: ` +
        `${load.verificationsPerSecond.mean.toFixed(1)} verifications/s (min ${load.verificationsPerSecond.min}, max ${load.verificationsPerSecond.max}); ` +
        `latency p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms; ${load.errors} errors, ${load.non2xx} non-2xx, ` +
        `${load.mismatches} wrong answers. One in-process verify: ${load.inProcessVerifyMs.toFixed(1)} ms.`;
  const queueRows =
    'failed' in queue
      ? [`FAILED: ${queue.failed}`]
      : [
          '| worker processes | proofs | wall s | proofs per minute | speedup |',
          '|---:|---:|---:|---:|---:|',
          ...queue.map((r) => `| ${r.workers} | ${r.proofs} | ${r.wallSeconds.toFixed(1)} | ${r.proofsPerMinute.toFixed(1)} | ${r.speedup.toFixed(2)}x |`),
        ];
  return ['## Verification service under load', '', loadText, '', '## Proving queue (BullMQ on Redis, worker processes on this machine)', '', ...queueRows, ''].join('\n');
}

const OUT_DIR = path.dirname(fileURLToPath(import.meta.url));

type CostsSaved = Omit<Awaited<ReturnType<typeof benchCosts>>, 'markdown'>;
/** What results.json holds: the measured run plus the sections that may have failed. */
type SavedResults = Results & { costs: CostsSaved | { failed: string }; verifyLoad: VerifyLoadResult | { failed: string }; queue: QueueBenchRow[] | { failed: string } };

/** results.md, from the saved results only (so `--redraw` gives what the run wrote). */
function resultsMarkdown(r: SavedResults): string {
  const c = r.costs;
  return [
    markdown(r),
    'failed' in c ? `## Cost breakdowns\n\nFAILED: ${c.failed}\n` : costsMarkdown(c.gadgets, c.layers, c.modes, c.batches, c.privateWeights),
    serviceMarkdown(r.verifyLoad, r.queue),
  ].join('\n');
}

/** cost.svg from a run's models (`--redraw` redraws it from bench/results.json without measuring). */
function chartSvg(results: Pick<Results, 'machine' | 'quick' | 'models'>): string {
  const m = results.machine;
  const series: ChartSeries[] = (['zkinfer', 'baseline'] as Impl[]).map((impl) => ({
    name: impl === 'zkinfer' ? 'zkinfer (weights as constants)' : 'baseline (circomlib-ml style)',
    color: impl === 'zkinfer' ? '#1f77b4' : '#d62728',
    marker: impl === 'zkinfer' ? 'circle' : 'square',
    points: results.models
      .filter((x) => x.impl === impl)
      .map((x) => ({ parameters: x.parameters, constraints: x.constraints, proveSeconds: x.proveSeconds.median, label: x.layers, bundled: !x.variant.startsWith('w') })),
  }));
  return costChart(series, `${m.cpu}, ${m.cores} cores, Node ${m.node}, snarkjs ${m.snarkjs}; ${m.date.slice(0, 10)}${results.quick ? ' (quick run)' : ''}`);
}

async function main() {
  if (args.includes('--redraw')) {
    const saved = JSON.parse(readFileSync(path.join(OUT_DIR, 'results.json'), 'utf8')) as SavedResults;
    await writeFileAtomic(path.join(OUT_DIR, 'results.md'), resultsMarkdown(saved));
    return writeFileAtomic(path.join(OUT_DIR, 'cost.svg'), chartSvg(saved));
  }
  const started = performance.now();
  const m = machine();
  const progress = createProgress();
  const artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-bench-'));
  const run = <T>(label: string, job: Job) => {
    progress.stage(label);
    return runChild<T>(job, (stage, done, total) => progress.update(stage, done, total));
  };
  try {
    const models: ModelResult[] = [];
    const files = new Map<string, string>();
    const variants = variantsFor(widths);
    for (const v of variants) {
      for (const impl of (v.baseline ? ['zkinfer', 'baseline'] : ['zkinfer']) as Impl[]) {
        const outFile = path.join(artifactsDir, 'built', `${v.id}-${impl}.json`);
        const label = `${impl} ${v.description}`;
        const built = await run<BuildResult>(`${label}: quantize, compile, setup`, { kind: 'build', variant: v.id, impl, artifactsDir, outFile });
        const proved = await run<ProveResult>(`${label}: ${SETTINGS.proveRuns[impl]} proofs (${built.constraints} constraints)`, {
          kind: 'prove',
          modelFile: outFile,
          runs: SETTINGS.proveRuns[impl],
        });
        models.push({ ...built, ...proved });
        files.set(`${v.id}-${impl}`, outFile);
        // A long run that is stopped keeps what it measured so far (outside the repository).
        await writeFileAtomic(PARTIAL, JSON.stringify({ machine: m, quick, settings: SETTINGS, models }, null, 2));
      }
    }

    const comparisons: Comparison[] = variants
      .filter((v) => v.baseline)
      .map((v) => {
        const ours = models.find((x) => x.variant === v.id && x.impl === 'zkinfer')!;
        const base = models.find((x) => x.variant === v.id && x.impl === 'baseline')!;
        return {
          variant: v.id,
          layers: ours.layers,
          parameters: ours.parameters,
          constraints: { zkinfer: ours.constraints, baseline: base.constraints, ratio: base.constraints / ours.constraints },
          proveSeconds: { zkinfer: ours.proveSeconds.median, baseline: base.proveSeconds.median, ratio: base.proveSeconds.median / ours.proveSeconds.median },
          provePeakRssMiB: { zkinfer: ours.peakRssMiB, baseline: base.peakRssMiB },
        };
      });

    // Throughput on one model: one at a time (snarkjs's own threads) vs pools of single-threaded workers.
    const modelFile = files.get(`${SETTINGS.throughputModel}-zkinfer`)!;
    const rows: ThroughputRow[] = [];
    for (const workers of [0, ...SETTINGS.poolWorkers]) {
      const mode = workers === 0 ? 'one at a time' : `pool of ${workers} worker thread${workers > 1 ? 's' : ''}`;
      const t = await run<ThroughputResult>(`throughput ${SETTINGS.throughputModel}: ${mode}, ${SETTINGS.throughputProofs} proofs`, {
        kind: 'throughput',
        modelFile,
        proofs: SETTINGS.throughputProofs,
        workers,
      });
      rows.push({ ...t, mode, speedup: rows.length ? t.proofsPerMinute / rows[0].proofsPerMinute : 1 });
    }

    progress.stage(`ptau generation at 2^${SETTINGS.ptauPowers.join(', 2^')} (snarkjs prepare at 2^${SETTINGS.snarkjsPrepare.join(', 2^')})`);
    const ptau = await benchDevPtau(SETTINGS.ptauPowers, SETTINGS.snarkjsPrepare);
    // The sections below report a failure in the results instead of losing everything measured above.
    const attempt = async <T>(stage: string, fn: () => Promise<T>): Promise<T | { failed: string }> => {
      progress.stage(stage);
      try {
        return await fn();
      } catch (err) {
        return { failed: `${stage}: ${(err as Error).message}` };
      }
    };
    const costs = await attempt('constraints per gadget and visibility mode; batch proofs', () => benchCosts({ quick, artifactsDir }));
    const verifyLoad = await attempt('HTTP verification load (autocannon on 127.0.0.1)', () => benchVerifyLoad({ artifactsDir, durationSeconds: quick ? 5 : 10 }));
    const queue = await attempt('proving queue: 1 and 2 worker processes on BullMQ/Redis', () => benchProvingQueue({ artifactsDir, proofs: quick ? 6 : 12 }));
    progress.stop();

    m.loadAverageAtEnd = os.loadavg();
    const results: Results = {
      machine: m,
      quick,
      settings: SETTINGS,
      models,
      comparisons,
      throughput: { model: SETTINGS.throughputModel, rows },
      ptau,
      totalSeconds: (performance.now() - started) / 1000,
    };
    const dir = OUT_DIR;
    const failed = (x: object): x is { failed: string } => 'failed' in x;
    const costsSaved = failed(costs) ? costs : { gadgets: costs.gadgets, layers: costs.layers, modes: costs.modes, batches: costs.batches, privateWeights: costs.privateWeights };
    const saved: SavedResults = { ...results, costs: costsSaved, verifyLoad, queue };
    const md = resultsMarkdown(saved);
    await writeFileAtomic(path.join(dir, 'results.json'), JSON.stringify(saved, null, 2));
    await writeFileAtomic(path.join(dir, 'results.md'), md);
    await writeFileAtomic(path.join(dir, 'cost.svg'), chartSvg(results));
    process.stdout.write(`${md}\n`);
    for (const name of extra) await runReport(name);
  } finally {
    progress.stop();
    await rm(artifactsDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
