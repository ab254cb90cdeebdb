// Benchmark: generateDevPtau vs snarkjs `powersoftau prepare phase2`.
//
//   npx tsx bench/devPtau.ts --powers 10,12,14 --snarkjs 10,12
//
// For snarkjs, `new` + `contribute` run first (untimed); only preparePhase2 is timed.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as snarkjs from 'snarkjs';
import { buildBn128 } from 'ffjavascript';
import { generateDevPtau } from '../src/setup/devPtau.js';

export interface DevPtauBenchRow {
  power: number;
  devSeconds: number;
  snarkjsPrepareSeconds?: number;
}

/** Times generateDevPtau for every power in either list, and snarkjs's prepare step for `snarkjsPowers`. */
export async function benchDevPtau(powers: number[], snarkjsPowers: number[]): Promise<DevPtauBenchRow[]> {
  const all = [...new Set([...powers, ...snarkjsPowers])].sort((a, b) => a - b);
  const dir = mkdtempSync(join(tmpdir(), 'zkinfer-bench-ptau-'));
  const rows: DevPtauBenchRow[] = [];
  try {
    for (const power of all) {
      const devFile = join(dir, `dev_${power}.ptau`);
      const t0 = performance.now();
      await generateDevPtau(power, devFile);
      const row: DevPtauBenchRow = { power, devSeconds: (performance.now() - t0) / 1000 };
      rmSync(devFile, { force: true });

      if (snarkjsPowers.includes(power)) {
        const curve = await buildBn128();
        const f0 = join(dir, `pot_${power}_0.ptau`);
        const f1 = join(dir, `pot_${power}_1.ptau`);
        const f2 = join(dir, `pot_${power}_final.ptau`);
        await snarkjs.powersOfTau.newAccumulator(curve, power, f0);
        await snarkjs.powersOfTau.contribute(f0, f1, 'bench', `bench entropy ${Math.random()}`);
        const t1 = performance.now();
        await snarkjs.powersOfTau.preparePhase2(f1, f2);
        row.snarkjsPrepareSeconds = (performance.now() - t1) / 1000;
        for (const f of [f0, f1, f2]) rmSync(f, { force: true });
      }
      rows.push(row);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    // snarkjs keeps a cached multi-threaded curve; stop its workers.
    if (snarkjsPowers.length > 0) await (await buildBn128()).terminate();
  }
  return rows;
}

function parseList(args: string[], flag: string, fallback: number[]): number[] {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a comma-separated list of powers (or "none")`);
  if (v === '' || v === 'none') return [];
  return v.split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n)) throw new Error(`${flag}: bad power "${s}"`);
    return n;
  });
}

export function formatTable(rows: DevPtauBenchRow[]): string {
  const lines = ['| power | generateDevPtau (s) | snarkjs prepare phase2 (s) | speedup |', '|---:|---:|---:|---:|'];
  for (const r of rows) {
    const sj = r.snarkjsPrepareSeconds;
    const speedup = sj === undefined ? '' : `${(sj / r.devSeconds).toFixed(1)}x`;
    lines.push(`| 2^${r.power} | ${r.devSeconds.toFixed(2)} | ${sj === undefined ? '-' : sj.toFixed(2)} | ${speedup} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const powers = parseList(args, '--powers', [10, 12, 14]);
  const snarkjsPowers = parseList(args, '--snarkjs', [10, 12]);
  const rows = await benchDevPtau(powers, snarkjsPowers);
  console.log(formatTable(rows));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
