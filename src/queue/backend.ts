import type { ProofBundle } from '../format/bundle.js';
import { ZkinferError } from '../util/errors.js';

/**
 * What the HTTP server (and a library caller) needs from a proving back end: submit a prove job, read its
 * status. Two implementations: BullMQ on Redis (src/queue/bullmq.ts, many worker machines) and an
 * in-process pool of prover threads (src/queue/localBackend.ts, one machine, no Redis).
 */
export type JobState = 'queued' | 'active' | 'completed' | 'failed';

export interface JobStatus {
  id: string;
  state: JobState;
  modelId: string;
  /** `queued` (also between retries) / `proving` (with the worker that holds it) / `done` (completed or failed). */
  progress: { stage: 'queued' | 'proving' | 'done'; worker?: string };
  /** The worker that last took the job (BullMQ worker name, host:pid by default; `local` in-process). */
  worker?: string;
  /** Attempts started so far (a retried or recovered job has more than 1). */
  attemptsMade: number;
  bundle?: ProofBundle;
  /** Why the job failed (for `failed`), or why the last attempt failed (a `queued` job waiting for a retry). */
  failedReason?: string;
}

export interface SubmitOptions {
  /**
   * An idempotency key: submitting the same jobId twice returns the first job, proved once. Without it the
   * back end makes a fresh id per submission.
   */
  jobId?: string;
}

export interface ProveBackend {
  /** Enqueue a prove job and return its id at once. */
  submit(modelId: string, input: unknown, options?: SubmitOptions): Promise<string>;
  /** The job's status, or null for an unknown (or expired) id. */
  status(id: string): Promise<JobStatus | null>;
  close(): Promise<void>;
}

/** Internal failures are retried this many times in all before a job fails. */
export const DEFAULT_ATTEMPTS = 3;
export const JOB_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function checkJobId(jobId: string | undefined): void {
  if (jobId !== undefined && !JOB_ID.test(jobId)) {
    throw new ZkinferError('BAD_INPUT', `jobId must be a letter followed by up to 63 letters, digits, '_' or '-', got ${JSON.stringify(String(jobId).slice(0, 80))}`);
  }
}
