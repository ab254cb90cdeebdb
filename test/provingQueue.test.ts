import { randomUUID } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { buildBn128 } from 'ffjavascript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../src/index.js';
import { storeModel } from '../src/prove/modelStore.js';
import { LocalProveBackend } from '../src/queue/localBackend.js';
import { BullProveQueue, startProveWorker, type ProveWorker } from '../src/queue/bullmq.js';
import { randomInputs } from './helpers/models.js';
import { finished, REDIS_URL, spawnWorker, waitForJob, type WorkerProcess } from './helpers/queueFixture.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';

/**
 * Scale-out proving against a real Redis (REDIS_URL, default redis://127.0.0.1:6379): worker processes of
 * the real CLI drain a queue of real prove jobs, a worker killed mid-proof loses no job, and bad jobs fail
 * at once with their reason while internal failures are retried a bounded number of times.
 */
const prefix = `zkinfer-test-${randomUUID().slice(0, 8)}`;
let fx: VerifierFixture;
const queues: BullProveQueue[] = [];
const workers: WorkerProcess[] = [];

function openQueue(name: string, backoffMs = 20): BullProveQueue {
  const q = new BullProveQueue({ redisUrl: REDIS_URL, queueName: name, prefix, backoffMs });
  queues.push(q);
  return q;
}

function startWorker(queue: string, extra: { concurrency?: number; lockDurationMs?: number } = {}): WorkerProcess {
  const w = spawnWorker({ queue, prefix, artifactsDir: fx.artifactsDir, ...extra });
  workers.push(w);
  return w;
}

beforeAll(async () => {
  fx = await buildVerifierFixture();
  await storeModel(fx.model, fx.artifactsDir);
  await storeModel(fx.other, fx.artifactsDir);
}, 120_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  for (const q of queues) {
    await q.queue.obliterate({ force: true });
    await q.close();
  }
  await (await buildBn128()).terminate();
});

describe('BullMQ proving with worker processes', () => {
  it('two worker processes drain a queue of real prove jobs; every bundle verifies and names its input', async () => {
    const queue = openQueue(`drain-${randomUUID()}`);
    const a = startWorker(queue.queue.name);
    const b = startWorker(queue.queue.name, { concurrency: 2 });
    await Promise.all([a.ready, b.ready]);
    const inputs = randomInputs(8, 8, 8, 77);
    const ids = await Promise.all(inputs.map((x) => queue.submit(fx.model.modelId, x)));
    expect(new Set(ids).size).toBe(inputs.length);
    const done = await Promise.all(ids.map((id) => waitForJob(queue, id, finished)));
    for (const [i, s] of done.entries()) {
      expect(s.state, s.failedReason).toBe('completed');
      const result = await verify(s.bundle!, fx.model.key);
      expect(result.valid, result.reason).toBe(true);
      expect(result.output!.input).toEqual(inputs[i]);
    }
    // Both processes proved some of the jobs (each was ready before the jobs were queued).
    expect(new Set(done.map((s) => s.worker))).toEqual(new Set([a.name, b.name]));
    const counts = await queue.queue.getJobCounts('completed', 'failed', 'active', 'wait');
    expect(counts).toEqual({ completed: inputs.length, failed: 0, active: 0, wait: 0 });
    // SIGTERM: each worker closes (no job left active) and exits 0.
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
  }, 120_000);

  it('a worker killed mid-proof leaves its job to another worker (stalled-job recovery); one result', async () => {
    const queue = openQueue(`kill-${randomUUID()}`);
    const a = startWorker(queue.queue.name, { lockDurationMs: 2000 });
    await a.ready;
    const input = randomInputs(1, 8, 8, 99)[0];
    const id = await queue.submit(fx.model.modelId, input);
    // The job is active and held by A (its progress names A) before A's proof (seconds, first in a fresh
    // thread) can finish: kill A there, with SIGKILL so it cannot release the job.
    const held = await waitForJob(queue, id, (s) => (s.state === 'active' && s.progress.worker !== undefined) || finished(s), 10);
    expect(held.state).toBe('active');
    expect(held.progress.worker).toBe(a.name);
    await a.stop('SIGKILL');
    expect((await queue.status(id))!.state).toBe('active'); // still locked by the dead worker

    const b = startWorker(queue.queue.name, { lockDurationMs: 2000 });
    const done = await waitForJob(queue, id, finished);
    expect(done.state, done.failedReason).toBe('completed');
    expect(done.worker).toBe(b.name);
    expect(done.attemptsMade).toBeGreaterThanOrEqual(2);
    const result = await verify(done.bundle!, fx.model.key);
    expect(result.valid, result.reason).toBe(true);
    expect(result.output!.input).toEqual(input);
    expect(await queue.queue.getJobCounts('completed', 'failed')).toEqual({ completed: 1, failed: 0 });
  }, 120_000);
});

describe('failures (in-process worker)', () => {
  let worker: ProveWorker;
  let queue: BullProveQueue;

  beforeAll(async () => {
    queue = openQueue(`fail-${randomUUID()}`);
    worker = await startProveWorker({ redisUrl: REDIS_URL, queueName: queue.queue.name, prefix, artifactsDir: fx.artifactsDir, concurrency: 1 });
  }, 60_000);
  afterAll(async () => worker?.close());

  it('an invalid job fails at once with its reason and is not retried (UnrecoverableError)', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      [fx.model.modelId, [1, 2, 3], /input: the array has 3 values, expected 8/],
      [fx.model.modelId, [0, 0, 0, 0, 0, 0, 0, 256], /input 'dense0_input'\[7\] = 256 is outside the range \[0, 255\]/],
      [fx.model.modelId, 'pixels', /input: the file holds "pixels", expected an array of values/],
      ['ab'.repeat(32), [1, 2, 3, 4, 5, 6, 7, 8], /unknown model id abab/],
      ['not-a-model-id', [1], /model id must be 64 lowercase hex digits/],
    ];
    const ids = await Promise.all(cases.map(([m, x]) => queue.submit(m, x)));
    for (const [i, id] of ids.entries()) {
      const s = await waitForJob(queue, id, finished);
      expect(s.state).toBe('failed');
      expect(s.failedReason ?? `case ${i}: no reason (${JSON.stringify(s)})`).toMatch(cases[i][2]);
      expect(s.attemptsMade).toBe(1);
    }
  }, 60_000);

  it('an internal failure (a stored model missing its proving key) is retried 3 times in all, then fails', async () => {
    await rename(fx.other.zkeyPath, `${fx.other.zkeyPath}.moved`);
    try {
      const id = await queue.submit(fx.other.modelId, randomInputs(1, 6, 8, 3)[0]);
      const s = await waitForJob(queue, id, finished);
      expect(s.state).toBe('failed');
      expect(s.failedReason).toMatch(/missing .*model\.zkey/);
      expect(s.attemptsMade).toBe(3);
      // The in-process back end (no Redis) follows the same rule.
      const local = new LocalProveBackend({ artifactsDir: fx.artifactsDir });
      try {
        const localId = await local.submit(fx.other.modelId, randomInputs(1, 6, 8, 3)[0]);
        const l = await waitForJob(local, localId, finished);
        expect([l.state, l.attemptsMade]).toEqual(['failed', 3]);
        expect(l.failedReason).toMatch(/missing .*model\.zkey/);
      } finally {
        await local.close();
      }
    } finally {
      await rename(`${fx.other.zkeyPath}.moved`, fx.other.zkeyPath);
    }
  }, 60_000);

  it('a job id given as an idempotency key is queued and proved once', async () => {
    const input = randomInputs(1, 8, 8, 5)[0];
    const key = `k${randomUUID()}`;
    const [id1, id2] = [await queue.submit(fx.model.modelId, input, { jobId: key }), await queue.submit(fx.model.modelId, input, { jobId: key })];
    expect([id1, id2]).toEqual([key, key]);
    const s = await waitForJob(queue, key, finished);
    expect(s.state, s.failedReason).toBe('completed');
    expect(s.attemptsMade).toBe(1);
    expect((await verify(s.bundle!, fx.model.key)).valid).toBe(true);
    await expect(queue.submit(fx.model.modelId, input, { jobId: '42' })).rejects.toThrow(/jobId must be a letter/);
  }, 60_000);
});
