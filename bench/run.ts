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
 *
 * Writes bench/results.json, bench/results.md and bench/cost.svg. Every figure is measured in this run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProgress } from '../src/cli/progress.js';
import { PACKAGE_ROOT, writeFileAtomic } from '../src/util/fs.js';
import { costChart, type ChartSeries } from './chart.js';
import { runChild } from './child.js';
import { benchDevPtau } from './devPtau.js';
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
  snarkjsPrepare: quick ? [10] : [10, 12],
};

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

async function main() {
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
      for (const impl of ['zkinfer', 'baseline'] as Impl[]) {
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

    const comparisons: Comparison[] = variants.map((v) => {
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
    const series: ChartSeries[] = (['zkinfer', 'baseline'] as Impl[]).map((impl) => ({
      name: impl === 'zkinfer' ? 'zkinfer (weights as constants)' : 'baseline (circomlib-ml style)',
      color: impl === 'zkinfer' ? '#1f77b4' : '#d62728',
      marker: impl === 'zkinfer' ? 'circle' : 'square',
      points: models
        .filter((x) => x.impl === impl)
        .map((x) => ({ parameters: x.parameters, constraints: x.constraints, proveSeconds: x.proveSeconds.median, label: x.layers, bundled: !x.variant.startsWith('w') })),
    }));
    const subtitle = `${m.cpu}, ${m.cores} cores, Node ${m.node}, snarkjs ${m.snarkjs}; ${m.date.slice(0, 10)}${quick ? ' (quick run)' : ''}`;
    const dir = path.dirname(fileURLToPath(import.meta.url));
    const md = markdown(results);
    await writeFileAtomic(path.join(dir, 'results.json'), JSON.stringify(results, null, 2));
    await writeFileAtomic(path.join(dir, 'results.md'), md);
    await writeFileAtomic(path.join(dir, 'cost.svg'), costChart(series, subtitle));
    process.stdout.write(`${md}\n`);
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
