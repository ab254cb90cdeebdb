import type { ProofBundle } from '../format/bundle.js';
import { ZkinferError } from '../util/errors.js';
import { canonicalJson, sha256Hex } from '../util/fs.js';

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

export interface BackendHealth {
  ok: boolean;
  /** What is wrong (e.g. "Redis 127.0.0.1:6379 is not connected: ECONNREFUSED"), or "ok". */
  detail: string;
}

export interface ProveBackend {
  /** Enqueue a prove job and return its id at once. */
  submit(modelId: string, input: unknown, options?: SubmitOptions): Promise<string>;
  /** The job's status, or null for an unknown (or expired) id. */
  status(id: string): Promise<JobStatus | null>;
  /** Whether jobs can be submitted and read now (the HTTP server's /healthz reports it). */
  health(): Promise<BackendHealth>;
  close(): Promise<void>;
}

/**
 * The back end cannot be reached right now (Redis down or not answering): the request may be retried.
 * The HTTP server answers 503 with it, so a client learns in a second instead of hanging on a reconnect.
 */
export class BackendUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

/**
 * The job id of a submission that names none: a hash of (model id, input), so a client that timed out
 * and sends the same request again gets the same job instead of a second proof. 'i' + 63 hex digits
 * (252 bits of SHA-256) fits JOB_ID.
 */
export function idempotencyKey(modelId: string, input: unknown): string {
  return `i${sha256Hex(canonicalJson({ modelId, input })).slice(0, 63)}`;
}

/** Internal failures are retried this many times in all before a job fails. */
export const DEFAULT_ATTEMPTS = 3;
export const JOB_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function checkJobId(jobId: string | undefined): void {
  if (jobId !== undefined && !JOB_ID.test(jobId)) {
    throw new ZkinferError('BAD_INPUT', `jobId must be a letter followed by up to 63 letters, digits, '_' or '-', got ${JSON.stringify(String(jobId).slice(0, 80))}`);
  }
}
