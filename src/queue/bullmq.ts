import { once } from 'node:events';
import { hostname } from 'node:os';
import { Job, Queue, UnrecoverableError, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { ProofBundle } from '../format/bundle.js';
import { BackendUnavailableError, checkJobId, DEFAULT_ATTEMPTS, type BackendHealth, type JobState, type JobStatus, type ProveBackend, type SubmitOptions } from './backend.js';
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
/**
 * How long a submit or status read may wait for Redis before failing with BackendUnavailableError. ioredis
 * queues commands while it reconnects (forever, as BullMQ needs), so without a deadline a request made
 * while Redis is down would hang until Redis came back.
 */
export const DEFAULT_REDIS_TIMEOUT_MS = 750;

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
  private readonly timeoutMs: number;
  private readonly where: string;
  /** The last connection error (ECONNREFUSED, ...), for /healthz and 503 messages. */
  private lastError: string | undefined;

  constructor(options: QueueConnectionOptions & { attempts?: number; backoffMs?: number; timeoutMs?: number }) {
    this.connection = connect(options.redisUrl);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_REDIS_TIMEOUT_MS;
    this.where = `Redis ${this.connection.options.host}:${this.connection.options.port}`;
    this.connection.on('error', (err: NodeJS.ErrnoException) => (this.lastError = err.code ?? err.message));
    this.connection.on('ready', () => (this.lastError = undefined));
    const defaultJobOptions: JobsOptions = {
      attempts: options.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      // Results stay for a day (clients poll for them), at most 10,000 of them.
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
    this.queue = new Queue<ProveJobData, ProofBundle>(options.queueName ?? DEFAULT_QUEUE, { connection: this.connection, prefix: options.prefix, defaultJobOptions });
    // Without a listener an 'error' event (Redis refusing connections) would crash the process.
    this.queue.on('error', (err: NodeJS.ErrnoException) => (this.lastError = err.code ?? err.message));
  }

  private unavailable(what: string): BackendUnavailableError {
    const why = this.connection.status === 'ready' ? `no answer within ${this.timeoutMs} ms` : `not connected (${this.lastError ?? this.connection.status})`;
    return new BackendUnavailableError(`cannot ${what}: ${this.where} is ${why}; retry later`);
  }

  /**
   * Run `op` against Redis within the deadline. The connection must be ready (or become ready within the
   * deadline, as at start-up): a command issued while ioredis reconnects would wait in its offline queue.
   * An operation that times out may still happen later; job ids are idempotency keys, so a retry of a
   * submit finds the same job.
   */
  private async withRedis<T>(what: string, op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.unavailable(what)), this.timeoutMs);
    });
    try {
      if (this.connection.status !== 'ready') {
        if (this.connection.status !== 'connecting' && this.connection.status !== 'wait') throw this.unavailable(what);
        await Promise.race([new Promise((resolve) => this.connection.once('ready', resolve)), deadline]);
      }
      return await Promise.race([op(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async submit(modelId: string, input: unknown, options: SubmitOptions = {}): Promise<string> {
    checkJobId(options.jobId);
    const job = await this.withRedis('queue the job', () => this.queue.add('prove', { modelId, input }, options.jobId ? { jobId: options.jobId } : {}));
    return job.id!;
  }

  async health(): Promise<BackendHealth> {
    try {
      await this.withRedis('reach the queue', () => this.connection.ping());
      return { ok: true, detail: 'ok' };
    } catch (err) {
      if (err instanceof BackendUnavailableError) return { ok: false, detail: err.message };
      return { ok: false, detail: `${this.where}: ${(err as Error).message}` };
    }
  }

  status(id: string): Promise<JobStatus | null> {
    return this.withRedis('read the job', () => this.readStatus(id));
  }

  private async readStatus(id: string): Promise<JobStatus | null> {
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
    if (this.connection.status === 'ready') {
      await this.queue.close();
      await this.connection.quit();
      return;
    }
    // Not connected. quit() is a command: it would wait in the offline queue forever, so disconnect, and
    // do it before the queue closes. If a connection attempt is in flight, disconnecting ends it with
    // 'end', which makes BullMQ's wait for 'ready' reject with the last error (ECONNREFUSED); BullMQ
    // re-emits that as 'error', which the queue's listener takes only until queue.close() removes it,
    // after which it was an unhandled rejection. So wait for that 'end' and let the re-emit run first.
    const ended = this.connection.status === 'connecting' || this.connection.status === 'connect' ? once(this.connection, 'end') : undefined;
    this.connection.disconnect();
    if (ended) {
      await ended;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.queue.close();
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
