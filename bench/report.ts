/** Markdown tables for bench/results.md, from the measured results only. */
import { formatTable, type DevPtauBenchRow } from './devPtau.js';
import type { BuildResult, ProveResult, ThroughputResult } from './measure.js';
import type { Stats } from './stats.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  snarkjs: string;
  circom2: string;
  date: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export type ModelResult = BuildResult & ProveResult;

export interface Comparison {
  variant: string;
  layers: string;
  parameters: number;
  constraints: { zkinfer: number; baseline: number; ratio: number };
  proveSeconds: { zkinfer: number; baseline: number; ratio: number };
  provePeakRssMiB: { zkinfer: number; baseline: number };
}

export interface ThroughputRow extends ThroughputResult {
  mode: string;
  speedup: number;
}

export interface Results {
  machine: Machine;
  quick: boolean;
  settings: Record<string, unknown>;
  models: ModelResult[];
  comparisons: Comparison[];
  throughput: { model: string; rows: ThroughputRow[] };
  ptau: DevPtauBenchRow[];
  totalSeconds: number;
}

const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
const int = (x: number) => x.toLocaleString('en-US');
const spread = (s: Stats, d = 2) => `${f(s.median, d)} (${f(s.min, d)}-${f(s.max, d)}, n=${s.runs})`;
const name = (r: { variant: string; layers: string }) => (r.variant.startsWith('w') ? r.layers : `${r.variant} (${r.layers}, bundled)`);

export function markdown(r: Results): string {
  const m = r.machine;
  const L: string[] = [];
  L.push('# zkinfer benchmark', '');
  L.push(
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, snarkjs ${m.snarkjs}, circom2 ${m.circom2}; ${m.date}` +
      `${r.quick ? ' (quick run)' : ''}; total ${f(r.totalSeconds / 60, 1)} min.`,
  );
  L.push(
    '',
    `Load average (1 min) at start ${f(m.loadAverageAtStart[0], 1)}, at end ${f(m.loadAverageAtEnd?.[0], 1)}; each proving row records its own. ` +
      'Other work on the machine slows every timing; constraint counts and sizes do not depend on it.',
    '',
  );

  L.push('## zkinfer vs circomlib-ml-style baseline', '');
  L.push('| model | parameters | constraints zkinfer | constraints baseline | ratio | prove s zkinfer | prove s baseline | ratio | prove peak RSS MiB (zkinfer / baseline) |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of r.comparisons) {
    L.push(
      `| ${name(c)} | ${int(c.parameters)} | ${int(c.constraints.zkinfer)} | ${int(c.constraints.baseline)} | ${f(c.constraints.ratio, 1)}x | ` +
        `${f(c.proveSeconds.zkinfer)} | ${f(c.proveSeconds.baseline)} | ${f(c.proveSeconds.ratio, 1)}x | ${f(c.provePeakRssMiB.zkinfer, 0)} / ${f(c.provePeakRssMiB.baseline, 0)} |`,
    );
  }
  L.push('', 'The bundled CNN has no baseline row: the baseline emitter builds dense layers only.', '', '![cost chart](cost.svg)', '');

  L.push('## Every model, every stage', '');
  L.push(
    '| model | circuit | constraints | ptau | compile s | dev ptau s | setup s | witness s | prove s (median, min-max) | first proof s | verify ms | proof bytes (JSON / uncompressed / compressed) | peak RSS MiB (prove / setup) | load |',
  );
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of r.models) {
    L.push(
      `| ${name(x)} | ${x.impl} | ${int(x.constraints)} | 2^${x.ptauPower} | ${f(x.compileSeconds, 1)} | ${x.ptauSeconds === null ? 'shared' : f(x.ptauSeconds, 1)} | ` +
        `${f(x.setupSeconds, 1)} | ${f(x.witnessSeconds.median, 3)} | ${spread(x.proveSeconds)} | ${f(x.coldProveSeconds)} | ${f(x.verifyMs.median, 1)} | ` +
        `${x.proofJsonBytes} / ${x.proofBytes.uncompressed} / ${x.proofBytes.compressed} | ${f(x.peakRssMiB, 0)} / ${f(x.buildPeakRssMiB, 0)} | ${f(x.loadAverage1m, 1)} |`,
    );
  }
  L.push(
    '',
    '- **setup s** is the circuit-specific Groth16 setup (phase 2 with one local contribution, verification key). The local ' +
      'development ptau it needs is generated once per power in this run: **dev ptau s** is that generation, shown on the first ' +
      'model of each power ("shared" on the others). A cold `zkinfer setup` costs both.',
    '- **prove s** is a whole `prove()` call (witness, Groth16 proof, cross-check against the TypeScript reference) after one ' +
      'untimed proof; **first proof s** is that first proof in a fresh process (curve wasm, witness wasm and zkey loaded cold). ' +
      "**witness s** is the witness alone (the baseline's includes computing its quotient/remainder hints).",
    '- **peak RSS**: each measurement runs in its own child process; the figure is its `process.resourceUsage().maxRSS` ' +
      "(worker threads included; the circom compiler's own process is not). Prove: the proving process (load key, " +
      'prove, verify). Setup: quantize, compile driver, ptau and setup.',
    '- **proof bytes**: the snarkjs JSON of the proof, and its curve points serialized uncompressed/compressed.',
    '- The baseline (bench/baseline: emitter and templates) builds the same quantized model the circomlib-ml/keras2circom way ' +
      '(weights, biases and multipliers as private inputs; quotient and remainder as hints; 254-bit comparisons for ReLU, clamp and ' +
      'argmax) with its hints properly constrained, and proves the same public statement. It does not commit to the weights, as ' +
      'circomlib-ml does not; a commitment would only add constraints.',
    '',
  );

  L.push(`## Throughput: ${r.throughput.model}`, '');
  L.push('| mode | workers | proofs | wall s | proofs per minute | speedup | per-proof s (median, min-max) | peak RSS MiB | load |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of r.throughput.rows) {
    L.push(
      `| ${t.mode} | ${t.workers} | ${t.proofs} | ${f(t.wallSeconds, 1)} | ${f(t.proofsPerMinute, 1)} | ${f(t.speedup)}x | ${spread(t.perProofSeconds)} | ${f(t.peakRssMiB, 0)} | ${f(t.loadAverage1m, 1)} |`,
    );
  }
  L.push(
    '',
    'One at a time: `prove()` in a loop on the main thread, where snarkjs spreads each proof over its own thread pool (one ' +
      'thread per core). Pool: worker threads each proving with a single-threaded snarkjs curve (ffjavascript cannot start its ' +
      'pool inside a worker), one proof per worker at a time. Every proof is verified after timing. Wall time counts from the ' +
      'first proof sent to the last received, after one untimed warm-up proof per worker.',
    '',
  );

  L.push('## Local development ptau vs snarkjs prepare phase2', '', formatTable(r.ptau), '');
  return L.join('\n');
}
