import { hostname } from 'node:os';
import { Job, Queue, UnrecoverableError, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { ProofBundle } from '../format/bundle.js';
import { checkJobId, DEFAULT_ATTEMPTS, type JobState, type JobStatus, type ProveBackend, type SubmitOptions } from './backend.js';
import { ProveFailure, ProverThreads } from './proverThreads.js';

/**
 * Prove jobs on a BullMQ queue in Redis. The job's data is { modelId, input }; its return value (kept in
 * Redis, the result store) is the proof bundle. BullMQ makes the job ids unless the caller passes an
 * idempotency key. Failures: an input failure (bad input, unknown model) throws UnrecoverableError, so
 * the job fails at once with the reason; any other failure is retried up to `attempts` times in all with
 * exponential backoff. A worker that dies mid-proof stops renewing its job lock; after `lockDuration`
 * another worker's stalled-job check moves the job back to wait and it is proved again. A job completes
 * only under a valid lock, so a late finisher cannot overwrite the result: one bundle per job.
 */
export const DEFAULT_QUEUE = 'zkinfer-prove';

export interface ProveJobData {
  modelId: string;
  input: unknown;
}

export interface QueueConnectionOptions {
  /** redis://[user:password@]host:port[/db] */
  redisUrl: string;
  queueName?: string;
  /** Redis key prefix of the queue (BullMQ's default is "bull"). */
  prefix?: string;
}

function connect(redisUrl: string): Redis {
  // maxRetriesPerRequest: null is what BullMQ workers require for their blocking commands.
  return new Redis(redisUrl, { maxRetriesPerRequest: null });
}

function mapState(state: string): JobState | null {
  switch (state) {
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    case 'active':
      return 'active';
    case 'waiting':
    case 'waiting-children':
    case 'delayed':
    case 'prioritized':
      return 'queued';
    default:
      return null; // 'unknown'
  }
}

export class BullProveQueue implements ProveBackend {
  readonly queue: Queue<ProveJobData, ProofBundle>;
  private readonly connection: Redis;

  constructor(
    options: QueueConnectionOptions & { attempts?: number; backoffMs?: number },
  ) {
    this.connection = connect(options.redisUrl);
    const defaultJobOptions: JobsOptions = {
      attempts: options.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      // Results stay for a day (clients poll for them), at most 10,000 of them.
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
    this.queue = new Queue<ProveJobData, ProofBundle>(options.queueName ?? DEFAULT_QUEUE, { connection: this.connection, prefix: options.prefix, defaultJobOptions });
  }

  async submit(modelId: string, input: unknown, options: SubmitOptions = {}): Promise<string> {
    checkJobId(options.jobId);
    const job = await this.queue.add('prove', { modelId, input }, options.jobId ? { jobId: options.jobId } : {});
    return job.id!;
  }

  async status(id: string): Promise<JobStatus | null> {
    // State first, then the job: a job read first could finish in between and show `failed` or
    // `completed` without its reason or bundle. Read in this order, a later state only adds fields.
    const state = mapState(await this.queue.getJobState(id));
    if (!state) return null;
    const job = await Job.fromId<ProveJobData, ProofBundle>(this.queue, id);
    if (!job) return null;
    const reported = job.progress as JobStatus['progress'] | number;
    const progress: JobStatus['progress'] =
      state === 'completed' || state === 'failed' ? { stage: 'done' } : state === 'queued' || typeof reported !== 'object' ? { stage: 'queued' } : reported;
    return {
      id,
      state,
      modelId: job.data.modelId,
      progress,
      ...(job.processedBy ? { worker: job.processedBy } : {}),
      attemptsMade: job.attemptsStarted ?? job.attemptsMade,
      ...(state === 'completed' ? { bundle: job.returnvalue } : {}),
      ...(job.failedReason ? { failedReason: job.failedReason } : {}),
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
    await this.connection.quit();
  }
}

export interface WorkerOptions extends QueueConnectionOptions {
  /** Concurrent proofs in this process, each in its own thread (default 1). */
  concurrency?: number;
  artifactsDir?: string;
  /** How long a job's lock lasts without renewal before the job counts as stalled (default 30 s). */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs (default 30 s). */
  stalledInterval?: number;
  /** Name shown in job progress (default host:pid). */
  name?: string;
}

export interface ProveWorker {
  worker: Worker<ProveJobData, ProofBundle>;
  name: string;
  close(): Promise<void>;
}

/** Start a BullMQ worker that proves jobs with `concurrency` prover threads. */
export async function startProveWorker(options: WorkerOptions): Promise<ProveWorker> {
  const concurrency = options.concurrency ?? 1;
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const threads = new ProverThreads(concurrency, options.artifactsDir);
  const connection = connect(options.redisUrl);
  const worker = new Worker<ProveJobData, ProofBundle>(
    options.queueName ?? DEFAULT_QUEUE,
    async (job) => {
      await job.updateProgress({ stage: 'proving', worker: name });
      const { modelId, input } = job.data ?? ({} as ProveJobData);
      if (typeof modelId !== 'string') throw new UnrecoverableError('job data has no modelId string');
      try {
        return await threads.prove(modelId, input);
      } catch (err) {
        if (err instanceof ProveFailure && err.kind === 'input') throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    {
      connection,
      prefix: options.prefix,
      concurrency,
      name,
      // Passing undefined would override BullMQ's defaults, so only set what was given.
      ...(options.lockDuration === undefined ? {} : { lockDuration: options.lockDuration }),
      ...(options.stalledInterval === undefined ? {} : { stalledInterval: options.stalledInterval }),
    },
  );
  await worker.waitUntilReady();
  return {
    worker,
    name,
    async close() {
      await worker.close();
      await threads.close();
      await connection.quit();
    },
  };
}
