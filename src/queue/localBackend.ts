import { randomUUID } from 'node:crypto';
import { checkJobId, DEFAULT_ATTEMPTS, type BackendHealth, type JobStatus, type ProveBackend, type SubmitOptions } from './backend.js';
import { ProveFailure, ProverThreads } from './proverThreads.js';

/**
 * Proving without Redis: jobs live in this process's memory and run on its prover threads, with the same
 * failure rules as the BullMQ back end (input failures final, internal failures retried up to `attempts`
 * times). Jobs are lost if the process stops; finished jobs are kept up to `keep` (oldest dropped first).
 */
export interface LocalBackendOptions {
  /** Concurrent proofs (threads), default 1. */
  concurrency?: number;
  artifactsDir?: string;
  attempts?: number;
  keep?: number;
}

export class LocalProveBackend implements ProveBackend {
  private readonly jobs = new Map<string, JobStatus>();
  private readonly threads: ProverThreads;
  private readonly attempts: number;
  private readonly keep: number;
  private readonly running = new Set<Promise<void>>();

  constructor(options: LocalBackendOptions = {}) {
    this.threads = new ProverThreads(options.concurrency ?? 1, options.artifactsDir);
    this.attempts = options.attempts ?? DEFAULT_ATTEMPTS;
    this.keep = options.keep ?? 10_000;
  }

  async submit(modelId: string, input: unknown, options: SubmitOptions = {}): Promise<string> {
    checkJobId(options.jobId);
    if (options.jobId && this.jobs.has(options.jobId)) return options.jobId;
    const id = options.jobId ?? randomUUID();
    const job: JobStatus = { id, state: 'queued', modelId, progress: { stage: 'queued' }, attemptsMade: 0 };
    this.jobs.set(id, job);
    this.prune();
    const run = this.run(job, input).finally(() => this.running.delete(run));
    this.running.add(run);
    return id;
  }

  private async run(job: JobStatus, input: unknown): Promise<void> {
    for (;;) {
      job.attemptsMade++;
      job.state = 'active';
      job.progress = { stage: 'proving', worker: 'local' };
      job.worker = 'local';
      try {
        job.bundle = await this.threads.prove(job.modelId, input);
        job.state = 'completed';
        job.progress = { stage: 'done' };
        delete job.failedReason;
        return;
      } catch (err) {
        job.failedReason = err instanceof Error ? err.message : String(err);
        const final = (err instanceof ProveFailure && err.kind === 'input') || job.attemptsMade >= this.attempts;
        job.state = final ? 'failed' : 'queued';
        job.progress = { stage: final ? 'done' : 'queued' };
        if (final) return;
      }
    }
  }

  private prune(): void {
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= this.keep) break;
      if (job.state === 'completed' || job.state === 'failed') this.jobs.delete(id);
    }
  }

  async status(id: string): Promise<JobStatus | null> {
    const job = this.jobs.get(id);
    return job ? structuredClone(job) : null;
  }

  /** In-process: nothing to reach, always available. */
  async health(): Promise<BackendHealth> {
    return { ok: true, detail: 'ok' };
  }

  async close(): Promise<void> {
    await this.threads.close();
    await Promise.allSettled([...this.running]);
  }
}
