// A small worker_threads pool running devPtauWorker jobs for generateDevPtau.
// (ffjavascript's own thread manager only runs fixed wasm call lists; the
// fixed-base method needs a JS loop per point next to the wasm memory.)

import type { Worker } from 'node:worker_threads';
import { endModuleWorker, startModuleWorker } from '../util/moduleWorker.js';
import type { DevPtauJob, WorkerInit, WorkerRequest, WorkerResponse } from './devPtauWorker.js';

const IN_FLIGHT_PER_WORKER = 2; // keeps a worker busy while the main thread writes

/** The pool's worker thread (src/util/moduleWorker.ts: the built .js, or the TypeScript source under tsx). */
function spawnWorker(): Worker {
  return startModuleWorker(new URL('./devPtauWorker.js', import.meta.url));
}

interface PoolWorker {
  worker: Worker;
  inFlight: number;
  onMessage: (msg: WorkerResponse) => void;
}

export class DevPtauPool {
  private failure: ((err: Error) => void) | undefined;
  private dead = false;

  private constructor(private readonly workers: PoolWorker[]) {}

  /**
   * Spawns `n` workers and sends each its own copy of the secrets (each copy is
   * transferred, so no copy stays behind in this thread); `secrets` itself is
   * left for the caller to zero.
   */
  static async start(n: number, init: Omit<WorkerInit, 'type' | 'secrets'>, secrets: Uint8Array): Promise<DevPtauPool> {
    const workers: PoolWorker[] = [];
    for (let i = 0; i < n; i++) {
      const pw: PoolWorker = { worker: spawnWorker(), inFlight: 0, onMessage: () => {} };
      pw.worker.on('message', (m: WorkerResponse) => pw.onMessage(m));
      workers.push(pw);
    }
    const pool = new DevPtauPool(workers);
    for (const pw of workers) {
      pw.worker.on('error', (e) => pool.fail(e instanceof Error ? e : new Error(String(e))));
      pw.worker.on('exit', (code) => {
        if (!pool.dead) pool.fail(new Error(`devPtau worker exited unexpectedly (code ${code})`));
      });
    }
    try {
      await pool.each((pw) => {
        const copy = secrets.slice();
        const msg: WorkerRequest = { type: 'init', ...init, secrets: copy };
        pw.worker.postMessage(msg, [copy.buffer as ArrayBuffer]);
      }, 'ready');
    } catch (e) {
      await pool.terminate();
      throw e;
    }
    return pool;
  }

  private fail(err: Error): void {
    const f = this.failure;
    this.failure = undefined;
    if (f) f(err);
  }

  /** Sends something to every worker and waits for a reply of type `expect` from each. */
  private each(send: (pw: PoolWorker) => void, expect: WorkerResponse['type']): Promise<void> {
    return new Promise((resolve, reject) => {
      let left = this.workers.length;
      this.failure = reject;
      for (const pw of this.workers) {
        pw.onMessage = (m) => {
          if (m.type === 'error') this.fail(new Error(`devPtau worker: ${m.message}`));
          else if (m.type === expect && --left === 0) {
            this.failure = undefined;
            resolve();
          }
        };
        send(pw);
      }
    });
  }

  /** Runs the jobs (in queue order, spread over the workers); awaits every onResult. */
  run(jobs: DevPtauJob[], onResult: (job: DevPtauJob, points: Uint8Array) => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      const byId = new Map(jobs.map((j) => [j.id, j]));
      let next = 0;
      let outstanding = jobs.length; // jobs not yet fully handled (computed + onResult done)
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        this.failure = undefined;
        reject(e instanceof Error ? e : new Error(String(e)));
      };
      this.failure = fail;
      const feed = (pw: PoolWorker) => {
        while (!failed && pw.inFlight < IN_FLIGHT_PER_WORKER && next < jobs.length) {
          const job = jobs[next++];
          pw.inFlight++;
          const msg: WorkerRequest = { type: 'job', job };
          pw.worker.postMessage(msg);
        }
      };
      for (const pw of this.workers) {
        pw.onMessage = (m) => {
          if (failed) return;
          if (m.type === 'error') return fail(new Error(`devPtau worker: ${m.message}`));
          if (m.type !== 'result') return;
          pw.inFlight--;
          feed(pw);
          const job = byId.get(m.id);
          if (!job) return fail(new Error(`devPtau: unknown job ${m.id}`));
          onResult(job, m.points).then(() => {
            if (--outstanding === 0 && !failed) {
              this.failure = undefined;
              resolve();
            }
          }, fail);
        };
      }
      if (jobs.length === 0) return resolve();
      for (const pw of this.workers) feed(pw);
    });
  }

  /**
   * Asks every worker to zero its wasm memory, then to end by itself (endModuleWorker: terminating a
   * thread holding a large wasm memory can crash the process). If the wipe fails they are terminated.
   */
  async close(): Promise<void> {
    try {
      await this.each((pw) => pw.worker.postMessage({ type: 'wipe' } satisfies WorkerRequest), 'wiped');
    } catch (e) {
      await this.terminate();
      throw e;
    }
    this.dead = true;
    this.failure = undefined;
    await Promise.all(this.workers.map((pw) => endModuleWorker(pw.worker)));
  }

  /** Stops the workers at once (their memory goes with the thread); for a pool that has failed. */
  async terminate(): Promise<void> {
    this.dead = true;
    this.failure = undefined;
    await Promise.all(this.workers.map((pw) => pw.worker.terminate()));
  }
}
