/**
 * Throughput of scale-out proving: proofs per minute with 1 and 2 `zkinfer worker` processes (each with
 * one prover thread) draining a BullMQ queue in Redis, end to end (enqueue -> bundle in the result store).
 * Every bundle is verified. Each round first proves one warm-up job per worker (thread start, model load)
 * and times only the jobs after it.
 *
 *   npx tsx bench/provingQueue.ts [--proofs 12] [--workers 1,2] [--model mlp] [--redis redis://127.0.0.1:6379]
 *
 * From bench/run.ts: `await benchProvingQueue({ artifactsDir, proofs: SETTINGS.throughputProofs })`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { buildModel, verify } from '../src/index.js';
import { storeModel } from '../src/prove/modelStore.js';
import { BullProveQueue } from '../src/queue/bullmq.js';
import type { JobStatus } from '../src/queue/backend.js';
import { PACKAGE_ROOT, defaultArtifactsDir } from '../src/util/fs.js';

export interface QueueBenchOptions {
  artifactsDir?: string;
  /** Model spec for buildModel (default the bundled 'mlp'). */
  model?: string;
  /** Timed proofs per round (default 12). */
  proofs?: number;
  /** Worker process counts to compare (default [1, 2]). */
  workers?: number[];
  redisUrl?: string;
}

export interface QueueBenchRow {
  workers: number;
  proofs: number;
  wallSeconds: number;
  proofsPerMinute: number;
  /** proofsPerMinute / the first row's. */
  speedup: number;
}

function startWorker(redisUrl: string, queue: string, prefix: string, artifactsDir: string): { child: ChildProcess; ready: Promise<void> } {
  const bin = path.join(PACKAGE_ROOT, 'bin', 'zkinfer.js');
  const child = spawn(process.execPath, [bin, 'worker', '--redis', redisUrl, '--queue', queue, '--prefix', prefix, '--artifacts', artifactsDir, '--quiet'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l.includes(' ready: queue ') && resolve());
    child.once('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before it was ready`)));
  });
  return { child, ready };
}

async function drain(queue: BullProveQueue, modelId: string, inputs: number[][]): Promise<JobStatus[]> {
  const ids = await Promise.all(inputs.map((x) => queue.submit(modelId, x)));
  const done: JobStatus[] = [];
  for (const id of ids) {
    for (;;) {
      const s = await queue.status(id);
      if (s?.state === 'failed') throw new Error(`job ${id} failed: ${s.failedReason}`);
      if (s?.state === 'completed') {
        done.push(s);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return done;
}

export async function benchProvingQueue(options: QueueBenchOptions = {}): Promise<QueueBenchRow[]> {
  const artifactsDir = options.artifactsDir ?? defaultArtifactsDir();
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const proofs = options.proofs ?? 12;
  const model = await buildModel(options.model ?? 'mlp', { artifactsDir });
  await storeModel(model, artifactsDir);
  const size = model.key.model.inputShape.reduce((a, b) => a * b, 1);
  const max = 2 ** model.key.model.inputBits;
  const input = (i: number) => Array.from({ length: size }, (_, j) => (i * 131 + j * 17) % max);
  const rows: QueueBenchRow[] = [];
  for (const n of options.workers ?? [1, 2]) {
    const prefix = `zkinfer-bench-${randomUUID().slice(0, 8)}`;
    const queue = new BullProveQueue({ redisUrl, queueName: 'bench', prefix });
    const workers = Array.from({ length: n }, () => startWorker(redisUrl, 'bench', prefix, artifactsDir));
    try {
      await Promise.all(workers.map((w) => w.ready));
      await drain(
        queue,
        model.modelId,
        Array.from({ length: n }, (_, i) => input(1000 + i)),
      ); // warm-up
      const t0 = performance.now();
      const done = await drain(
        queue,
        model.modelId,
        Array.from({ length: proofs }, (_, i) => input(i)),
      );
      const wallSeconds = (performance.now() - t0) / 1000;
      for (const s of done) {
        const r = await verify(s.bundle!, model.key);
        if (!r.valid) throw new Error(`job ${s.id}: bundle does not verify: ${r.reason}`);
      }
      const proofsPerMinute = (proofs / wallSeconds) * 60;
      rows.push({ workers: n, proofs, wallSeconds, proofsPerMinute, speedup: rows.length ? proofsPerMinute / rows[0].proofsPerMinute : 1 });
    } finally {
      for (const w of workers) w.child.kill('SIGKILL');
      await queue.queue.obliterate({ force: true });
      await queue.close();
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const loadBefore = os.loadavg()[0];
  const rows = await benchProvingQueue({
    model: arg('--model'),
    proofs: arg('--proofs') ? Number(arg('--proofs')) : undefined,
    workers: arg('--workers')?.split(',').map(Number),
    redisUrl: arg('--redis'),
  });
  process.stdout.write('| worker processes | proofs | wall s | proofs/min | speedup |\n|---:|---:|---:|---:|---:|\n');
  for (const r of rows) process.stdout.write(`| ${r.workers} | ${r.proofs} | ${r.wallSeconds.toFixed(1)} | ${r.proofsPerMinute.toFixed(1)} | ${r.speedup.toFixed(2)} |\n`);
  // Other processes on the machine share its cores: the 1-minute load average says how busy it was.
  process.stdout.write(`\n${os.cpus().length} cores; 1-min load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
