/**
 * A pool of prover worker threads (bench/proverWorker.ts) for the throughput benchmark, started from the
 * TypeScript source by src/util/moduleWorker.ts like the library's own pools.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../src/util/moduleWorker.js';
import type { ProofBundle } from '../src/format/bundle.js';
import type { ProverRequest, ProverResponse } from './proverWorker.js';

function spawnProver(modelFile: string): Worker {
  return startModuleWorker(new URL('./proverWorker.js', import.meta.url), { modelFile });
}

interface Slot {
  worker: Worker;
  handler: (m: ProverResponse) => void;
}

export interface PoolResult {
  bundles: ProofBundle[];
  /** Wall time from the first job sent to the last proof received. */
  wallSeconds: number;
  /** Per-proof times inside the workers. */
  proofSeconds: number[];
}

export class ProverPool {
  private constructor(private readonly slots: Slot[]) {}

  static async start(n: number, modelFile: string): Promise<ProverPool> {
    const slots: Slot[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const slot: Slot = { worker: spawnProver(modelFile), handler: () => {} };
      ready.push(
        new Promise((resolve, reject) => {
          slot.handler = (m) => (m.type === 'ready' ? resolve() : m.type === 'error' ? reject(new Error(m.message)) : undefined);
          slot.worker.on('error', reject);
          slot.worker.on('exit', (code) => reject(new Error(`prover worker exited (code ${code}) before it was ready`)));
        }),
      );
      slot.worker.on('message', (m: ProverResponse) => slot.handler(m));
      slots.push(slot);
    }
    const pool = new ProverPool(slots);
    try {
      await Promise.all(ready);
    } catch (err) {
      await pool.terminate();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Proves every input, each idle worker taking the next one; `onDone` is called after each proof. */
  run(inputs: number[][], onDone?: (done: number) => void): Promise<PoolResult> {
    return new Promise((resolve, reject) => {
      const bundles: ProofBundle[] = new Array(inputs.length);
      const proofSeconds: number[] = [];
      let next = 0;
      let done = 0;
      let failed = false;
      const t0 = performance.now();
      const feed = (slot: Slot) => {
        if (next >= inputs.length) return;
        const id = next++;
        slot.worker.postMessage({ type: 'prove', id, input: inputs[id] } satisfies ProverRequest);
      };
      for (const slot of this.slots) {
        slot.handler = (m) => {
          if (failed) return;
          if (m.type === 'error') {
            failed = true;
            return reject(new Error(`prover worker: ${m.message}`));
          }
          if (m.type !== 'proved') return;
          bundles[m.id] = m.bundle;
          proofSeconds.push(m.seconds);
          done++; // not inside onDone?.(...): an absent callback would skip evaluating its argument
          onDone?.(done);
          if (done === inputs.length) resolve({ bundles, wallSeconds: (performance.now() - t0) / 1000, proofSeconds });
          else feed(slot);
        };
      }
      if (inputs.length === 0) return resolve({ bundles, wallSeconds: 0, proofSeconds });
      for (const slot of this.slots) feed(slot);
    });
  }

  async terminate(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
