/**
 * A pool of prover threads (src/queue/proverThread.ts) so one process runs N proofs at once. Threads are
 * started by src/util/moduleWorker.ts (the built .js in the package, the TypeScript source under tsx in
 * development), as src/setup/devPtauPool.ts does. A thread that dies fails its job as `internal` (retryable) and
 * is replaced.
 */
import type { Worker } from 'node:worker_threads';
import { endModuleWorker, startModuleWorker } from '../util/moduleWorker.js';
import type { ProofBundle } from '../format/bundle.js';
import type { FailureKind, ThreadRequest, ThreadResponse, WitnessProof } from './proverThread.js';

/** A failed proof: `input` failures are final, `internal` ones may be retried. */
export class ProveFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'ProveFailure';
  }
}

function spawnThread(artifactsDir: string | undefined): Worker {
  return startModuleWorker(new URL('./proverThread.js', import.meta.url), { artifactsDir });
}

type Job = { type: 'prove'; modelId: string; input: unknown } | { type: 'proveWitness'; zkeyPath: string; wtns: Uint8Array };

interface Task {
  id: number;
  job: Job;
  resolve: (result: ProofBundle | WitnessProof) => void;
  reject: (e: Error) => void;
}

interface Thread {
  worker: Worker;
  ready: boolean;
  task?: Task;
}

export class ProverThreads {
  private readonly threads: Thread[] = [];
  private readonly pending: Task[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly artifactsDir?: string,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`thread count must be a positive integer, got ${size}`);
    for (let i = 0; i < size; i++) this.threads.push(this.start());
  }

  private start(): Thread {
    const thread: Thread = { worker: spawnThread(this.artifactsDir), ready: false };
    thread.worker.on('message', (m: ThreadResponse) => {
      if (m.type === 'ready') {
        thread.ready = true;
        return this.feed(thread);
      }
      if (m.type === 'error') return this.replace(thread, `prover thread failed: ${m.message}`);
      const task = thread.task;
      if (!task || task.id !== m.id) return;
      thread.task = undefined;
      if (m.type === 'proved') task.resolve(m.bundle);
      else if (m.type === 'provedWitness') task.resolve(m.result);
      else task.reject(new ProveFailure(m.kind, m.message));
      this.feed(thread);
    });
    thread.worker.on('error', (err) => this.replace(thread, `prover thread crashed: ${err.stack ?? err.message}`));
    thread.worker.on('exit', (code) => this.replace(thread, `prover thread exited (code ${code})`));
    return thread;
  }

  /** Fail the thread's job (retryable) and start a fresh thread in its place. */
  private replace(thread: Thread, reason: string): void {
    const i = this.threads.indexOf(thread);
    if (i < 0) return;
    this.threads.splice(i, 1);
    thread.worker.removeAllListeners();
    void thread.worker.terminate();
    thread.task?.reject(new ProveFailure('internal', reason));
    // A thread that never started (a broken install) is not restarted: that would loop forever.
    if (!this.closed && thread.ready) this.threads.push(this.start());
    if (this.threads.length === 0) {
      for (const task of this.pending.splice(0)) task.reject(new ProveFailure('internal', `no prover thread left: ${reason}`));
    }
  }

  private feed(thread: Thread): void {
    if (!thread.ready || thread.task || this.closed) return;
    const task = this.pending.shift();
    if (!task) return;
    thread.task = task;
    thread.worker.postMessage({ ...task.job, id: task.id } satisfies ThreadRequest);
  }

  /** Prove `input` (one input, or k inputs for a batch-k model) for the stored model `modelId`. */
  prove(modelId: string, input: unknown): Promise<ProofBundle> {
    return this.run({ type: 'prove', modelId, input }) as Promise<ProofBundle>;
  }

  /** A Groth16 proof of a witness computed elsewhere (the chunks of a split model, src/graph/splitPipeline.ts). */
  proveWitness(zkeyPath: string, wtns: Uint8Array): Promise<WitnessProof> {
    return this.run({ type: 'proveWitness', zkeyPath, wtns }) as Promise<WitnessProof>;
  }

  private run(job: Job): Promise<ProofBundle | WitnessProof> {
    if (this.threads.length === 0 && !this.closed) return Promise.reject(new ProveFailure('internal', 'no prover thread could start'));
    if (this.closed) return Promise.reject(new ProveFailure('internal', 'prover threads are closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ id: this.nextId++, job, resolve, reject });
      for (const t of this.threads) this.feed(t);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.pending.splice(0)) task.reject(new ProveFailure('internal', 'prover threads are closed'));
    const threads = this.threads.splice(0);
    for (const t of threads) {
      t.worker.removeAllListeners();
      t.task?.reject(new ProveFailure('internal', 'prover threads are closed'));
    }
    await Promise.all(threads.map((t) => endModuleWorker(t.worker)));
  }
}
