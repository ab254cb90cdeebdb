import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { buildBn128 } from 'ffjavascript';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../src/index.js';
import { storeModel } from '../src/prove/modelStore.js';
import type { JobStatus, ProveBackend } from '../src/queue/backend.js';
import { BullProveQueue, startProveWorker, type ProveWorker } from '../src/queue/bullmq.js';
import { LocalProveBackend } from '../src/queue/localBackend.js';
import { buildApp } from '../src/server/app.js';
import { loadKeyRegistry } from '../src/verify/registry.js';
import { randomInputs } from './helpers/models.js';
import { REDIS_URL } from './helpers/queueFixture.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';

/**
 * POST /v1/prove and GET /v1/jobs/:id, on both back ends: in-process prover threads (no Redis) and a
 * BullMQ queue with a worker. Each proves a real input and the bundle verifies through POST /v1/verify.
 */
let fx: VerifierFixture;
beforeAll(async () => {
  fx = await buildVerifierFixture();
  await storeModel(fx.model, fx.artifactsDir);
}, 120_000);
afterAll(async () => {
  await (await buildBn128()).terminate();
});

async function waitDone(app: FastifyInstance, id: string): Promise<JobStatus> {
  for (;;) {
    const res = await app.inject(`/v1/jobs/${id}`);
    expect(res.statusCode).toBe(200);
    const s = res.json() as JobStatus;
    if (s.state === 'completed' || s.state === 'failed') return s;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const backends: Array<[string, () => Promise<{ prover: ProveBackend; close: () => Promise<void> }>]> = [
  [
    'in-process threads (no Redis)',
    async () => {
      const prover = new LocalProveBackend({ concurrency: 1, artifactsDir: fx.artifactsDir });
      return { prover, close: () => prover.close() };
    },
  ],
  [
    'BullMQ on Redis',
    async () => {
      const queueName = `http-${randomUUID()}`;
      const prefix = `zkinfer-test-${randomUUID().slice(0, 8)}`;
      const prover = new BullProveQueue({ redisUrl: REDIS_URL, queueName, prefix });
      const worker: ProveWorker = await startProveWorker({ redisUrl: REDIS_URL, queueName, prefix, artifactsDir: fx.artifactsDir });
      return {
        prover,
        close: async () => {
          await worker.close();
          await prover.queue.obliterate({ force: true });
          await prover.close();
        },
      };
    },
  ],
];

describe.each(backends)('proving routes with %s', (_name, make) => {
  let app: FastifyInstance;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const b = await make();
    close = b.close;
    app = buildApp({ registry: await loadKeyRegistry(fx.keysDir), prover: b.prover });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await close?.();
  });

  it('POST /v1/prove queues a job (202); GET /v1/jobs/:id returns the bundle, which verifies', async () => {
    const input = randomInputs(1, 8, 8, 123)[0];
    const res = await app.inject({ method: 'POST', url: '/v1/prove', payload: { modelId: fx.model.modelId, input } });
    expect(res.statusCode).toBe(202);
    const { jobId, statusUrl } = res.json() as { jobId: string; statusUrl: string };
    expect(statusUrl).toBe(`/v1/jobs/${jobId}`);
    const s = await waitDone(app, jobId);
    expect(s.state, s.failedReason).toBe('completed');
    expect(s).toMatchObject({ id: jobId, modelId: fx.model.modelId, progress: { stage: 'done' }, attemptsMade: 1 });
    const verdict = await app.inject({ method: 'POST', url: '/v1/verify', payload: s.bundle });
    expect(verdict.json()).toMatchObject({ valid: true, modelId: fx.model.modelId });
    expect((await verify(s.bundle!, fx.model.key)).output!.input).toEqual(input);
  }, 60_000);

  it('without a jobId, the same request twice is one job proved once; resubmitting it later reports its real state', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok', models: 2, prover: 'ok' });
    const payload = { modelId: fx.model.modelId, input: randomInputs(1, 8, 8, 456)[0] };
    const first = await app.inject({ method: 'POST', url: '/v1/prove', payload });
    const again = await app.inject({ method: 'POST', url: '/v1/prove', payload }); // a client retrying after a timeout
    expect(first.statusCode).toBe(202);
    const { jobId } = first.json() as { jobId: string };
    expect((again.json() as { jobId: string }).jobId).toBe(jobId);
    const s = await waitDone(app, jobId);
    expect([s.state, s.attemptsMade], s.failedReason).toEqual(['completed', 1]);
    const late = await app.inject({ method: 'POST', url: '/v1/prove', payload });
    expect([late.statusCode, late.json()]).toEqual([200, { jobId, state: 'completed', statusUrl: `/v1/jobs/${jobId}` }]);
    expect(((await app.inject(`/v1/jobs/${jobId}`)).json() as JobStatus).attemptsMade).toBe(1);
    // Another input, or the same input for another model, is another job.
    const other = await app.inject({ method: 'POST', url: '/v1/prove', payload: { ...payload, input: randomInputs(1, 8, 8, 457)[0] } });
    expect((other.json() as { jobId: string }).jobId).not.toBe(jobId);
    await waitDone(app, (other.json() as { jobId: string }).jobId);
  }, 60_000);

  it('rejects bad requests before queueing anything: 400 with the reason, 404 for unknown ids', async () => {
    const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/prove', payload: payload as object });
    const short = await post({ modelId: fx.model.modelId, input: [1, 2] });
    expect([short.statusCode, short.json()]).toEqual([
      400,
      { error: 'BAD_INPUT', message: expect.stringMatching(/^input: the array has 2 values, expected 8 for input 'dense0_input'/) },
    ]);
    const range = await post({ modelId: fx.model.modelId, input: [0, 0, 0, 0, 0, 0, 0, -1] });
    expect([range.statusCode, range.json().message]).toEqual([400, expect.stringMatching(/^input 'dense0_input'\[7\] = -1 is outside the range \[0, 255\]/)]);
    expect((await post({ modelId: 'xyz', input: [] })).json().error).toBe('BAD_MODEL_ID');
    expect((await post([1, 2])).statusCode).toBe(400);
    const bad = await post({ modelId: fx.model.modelId, input: randomInputs(1, 8, 8, 1)[0], jobId: '12' });
    expect([bad.statusCode, bad.json().error]).toEqual([400, 'BAD_JOB_ID']);
    const unknown = await post({ modelId: 'cd'.repeat(32), input: [1] });
    expect([unknown.statusCode, unknown.json().error]).toEqual([404, 'UNKNOWN_MODEL']);
    const noJob = await app.inject('/v1/jobs/nosuchjob');
    expect([noJob.statusCode, noJob.json().error]).toEqual([404, 'UNKNOWN_JOB']);
    expect((await app.inject('/v1/jobs/a.b')).statusCode).toBe(400);
  });

  it('a model with a key but no stored model fails as a job with a reason (input failure, 1 attempt)', async () => {
    // fx.other has a key in keys/by-id (so the server accepts it) but was never filed with storeModel.
    const res = await app.inject({ method: 'POST', url: '/v1/prove', payload: { modelId: fx.other.modelId, input: randomInputs(1, 6, 8, 2)[0] } });
    expect(res.statusCode).toBe(202);
    const s = await waitDone(app, (res.json() as { jobId: string }).jobId);
    expect(s.state).toBe('failed');
    expect(s.failedReason).toMatch(/unknown model id .* no model manifest/);
    expect(s.attemptsMade).toBe(1);
  }, 60_000);
});

/** A TCP port on which nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('proving routes with Redis unreachable', () => {
  let app: FastifyInstance;
  let prover: BullProveQueue;
  beforeAll(async () => {
    prover = new BullProveQueue({ redisUrl: `redis://127.0.0.1:${await closedPort()}`, queueName: `down-${randomUUID()}` });
    app = buildApp({ registry: await loadKeyRegistry(fx.keysDir), prover });
  });
  afterAll(async () => {
    await app?.close();
    await prover?.close();
  });

  it('POST /v1/prove and GET /v1/jobs/:id answer 503 (not a hang) and /healthz reports it', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/prove', payload: { modelId: fx.model.modelId, input: randomInputs(1, 8, 8, 9)[0] } });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toMatchObject({
      error: 'QUEUE_UNAVAILABLE',
      message: expect.stringMatching(/cannot queue the job: Redis 127\.0\.0\.1:\d+ is not connected \(ECONNREFUSED\)/),
    });
    const job = await app.inject('/v1/jobs/abc');
    expect([job.statusCode, job.json().error]).toEqual([503, 'QUEUE_UNAVAILABLE']);
    const health = await app.inject('/healthz');
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: 'unavailable', prover: expect.stringMatching(/not connected/) });
    // Verification does not need Redis.
    expect((await app.inject({ method: 'POST', url: '/v1/verify', payload: fx.bundle })).json().valid).toBe(true);
  });

  it('close() while a reconnect attempt is in flight leaves no unhandled rejection', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      for (let i = 0; i < 3; i++) {
        const queue = new BullProveQueue({ redisUrl: `redis://127.0.0.1:${await closedPort()}`, queueName: `down-${randomUUID()}` });
        const connection = (queue as unknown as { connection: { status: string; once(e: string, f: () => void): void } }).connection;
        await new Promise<void>((resolve) => connection.once('error', resolve));
        // ioredis retries after ~50 ms; catch it mid-attempt (before, closing here was an
        // ECONNREFUSED unhandled rejection every time: BullMQ re-emitted it after its listeners were gone).
        const deadline = Date.now() + 5000;
        while (connection.status !== 'connecting' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
        expect(connection.status).toBe('connecting');
        await queue.close();
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(rejections.map(String)).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('zkinfer serve-prover (CLI, no Redis)', () => {
  it('proves a POSTed input in its own threads, serves the job, and exits 0 on SIGTERM', async () => {
    const bin = path.resolve(import.meta.dirname, '..', 'bin', 'zkinfer.js');
    const child = spawn(process.execPath, [bin, 'serve-prover', '--artifacts', fx.artifactsDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as { msg: string; url?: string };
        if (entry.msg === 'zkinfer verification server ready') resolve(entry.url!);
      });
      void exit.then((code) => reject(new Error(`serve-prover exited early with ${code}`)));
    });
    const input = randomInputs(1, 8, 8, 321)[0];
    const res = await fetch(`${url}/v1/prove`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ modelId: fx.model.modelId, input }) });
    expect(res.status).toBe(202);
    const { statusUrl } = (await res.json()) as { statusUrl: string };
    let s: JobStatus;
    for (;;) {
      s = (await (await fetch(`${url}${statusUrl}`)).json()) as JobStatus;
      if (s.state === 'completed' || s.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(s.state, s.failedReason).toBe('completed');
    expect(s.worker).toBe('local');
    const result = await verify(s.bundle!, fx.model.key);
    expect(result.valid, result.reason).toBe(true);
    expect(result.output!.input).toEqual(input);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  }, 60_000);
});
