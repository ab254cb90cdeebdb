import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { BullProveQueue } from '../../src/queue/bullmq.js';
import type { JobStatus } from '../../src/queue/backend.js';

/** Helpers for the proving-queue tests: worker processes of the real CLI, and waiting on job states. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BIN = path.resolve(import.meta.dirname, '..', '..', 'bin', 'zkinfer.js');

export interface WorkerProcess {
  child: ChildProcess;
  /** The BullMQ worker name it uses (host:pid), as jobs report it. */
  name: string;
  /** Resolves once it printed "ready". */
  ready: Promise<void>;
  /** Signal it (SIGTERM by default) and resolve with its exit code (null if a signal ended it). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnWorker(args: { queue: string; prefix: string; artifactsDir: string; concurrency?: number; lockDurationMs?: number }): WorkerProcess {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'worker',
      '--redis',
      REDIS_URL,
      '--queue',
      args.queue,
      '--prefix',
      args.prefix,
      '--artifacts',
      args.artifactsDir,
      '--concurrency',
      String(args.concurrency ?? 1),
      ...(args.lockDurationMs ? ['--lock-duration', String(args.lockDurationMs)] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes(' ready: queue ')) resolve();
    });
    child.on('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before ready: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    name: `${os.hostname()}:${child.pid}`,
    ready,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Poll a job until `done(status)` holds (tests bound the total time with vitest's timeout). */
export async function waitForJob(queue: Pick<BullProveQueue, 'status'>, id: string, done: (s: JobStatus) => boolean, pollMs = 25): Promise<JobStatus> {
  for (;;) {
    const s = await queue.status(id);
    if (s && done(s)) return s;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export const finished = (s: JobStatus) => s.state === 'completed' || s.state === 'failed';
