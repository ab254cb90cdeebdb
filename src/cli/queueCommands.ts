import { storeModel } from '../prove/modelStore.js';
import { BullProveQueue, DEFAULT_QUEUE, startProveWorker } from '../queue/bullmq.js';
import { LocalProveBackend } from '../queue/localBackend.js';
import type { ProveBackend } from '../queue/backend.js';
import { startServer } from '../server/serve.js';
import { DEFAULT_BODY_LIMIT } from '../server/app.js';
import { keyRegistryDir } from '../setup/index.js';
import { ZkinferError } from '../util/errors.js';
import { buildFromFlags, type GraphFlags } from './graphCommands.js';

/** CLI commands of scale-out proving: `store-model`, `worker`, `serve-prover`. */

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new ZkinferError('BAD_INPUT', `${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

const out = (line: string) => process.stdout.write(`${line}\n`);

/** `zkinfer store-model`: build (cached) and file the model so workers sharing the artifacts dir can prove it. */
export async function storeModelCommand(flags: GraphFlags & { batch?: string }): Promise<void> {
  if (flags.weights === 'private') throw new ZkinferError('BAD_INPUT', 'store-model and queued proving do not support --weights private (prove it with zkinfer prove)');
  const { model } = await buildFromFlags({ ...flags, batchSize: flags.batch === undefined ? undefined : positiveInt(flags.batch, '--batch') });
  const file = await storeModel(model, flags.artifacts);
  out(`model id   ${model.modelId}`);
  out(`manifest   ${file}`);
}

function onStop(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const s of signals) process.once(s, () => resolve(s));
  });
}

/** `zkinfer worker`: pull prove jobs from Redis until SIGINT/SIGTERM, then finish the active ones. */
export async function workerCommand(flags: {
  redis: string;
  concurrency: string;
  queue: string;
  prefix?: string;
  artifacts?: string;
  lockDuration?: string;
  quiet?: boolean;
}): Promise<void> {
  const worker = await startProveWorker({
    redisUrl: flags.redis,
    queueName: flags.queue,
    prefix: flags.prefix,
    concurrency: positiveInt(flags.concurrency, '--concurrency'),
    artifactsDir: flags.artifacts,
    lockDuration: flags.lockDuration === undefined ? undefined : positiveInt(flags.lockDuration, '--lock-duration'),
    stalledInterval: flags.lockDuration === undefined ? undefined : Math.max(500, Math.floor(positiveInt(flags.lockDuration, '--lock-duration') / 2)),
  });
  // Redis connection trouble: BullMQ reconnects by itself; say so instead of crashing on an unhandled 'error'.
  worker.worker.on('error', (err) => process.stderr.write(`worker error: ${err.message}\n`));
  worker.worker.on('failed', (job, err) => process.stderr.write(`job ${job?.id} failed (attempt ${job?.attemptsMade}): ${err.message.split('\n')[0]}\n`));
  if (!flags.quiet) worker.worker.on('completed', (job) => out(`job ${job.id} proved`));
  out(`worker ${worker.name} ready: queue ${flags.queue}, concurrency ${flags.concurrency}`);
  const signal = await onStop();
  out(`${signal}: finishing active jobs`);
  await worker.close();
}

/** `zkinfer serve-prover`: the verification server plus POST /v1/prove and GET /v1/jobs/:id. */
export async function serveProverCommand(flags: {
  keys?: string;
  artifacts?: string;
  port: string;
  host: string;
  redis?: string;
  queue: string;
  prefix?: string;
  concurrency: string;
  quiet?: boolean;
}): Promise<void> {
  let prover: ProveBackend;
  if (flags.redis) {
    const queue = new BullProveQueue({ redisUrl: flags.redis, queueName: flags.queue, prefix: flags.prefix });
    queue.queue.on('error', (err) => process.stderr.write(`queue error: ${err.message}\n`));
    prover = queue;
  } else {
    prover = new LocalProveBackend({ concurrency: positiveInt(flags.concurrency, '--concurrency'), artifactsDir: flags.artifacts });
  }
  try {
    const running = await startServer({
      keysDir: flags.keys ?? keyRegistryDir(flags.artifacts),
      port: flags.port,
      host: flags.host,
      bodyLimit: DEFAULT_BODY_LIMIT,
      logger: { level: flags.quiet ? 'warn' : 'info' },
      prover,
    });
    await running.closed;
  } finally {
    await prover.close();
  }
}

export { DEFAULT_QUEUE };
