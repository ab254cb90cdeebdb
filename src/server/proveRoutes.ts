import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZkinferKey } from '../format/key.js';
import { graphInputProblem } from '../prove/stored.js';
import { BackendUnavailableError, idempotencyKey, JOB_ID, type ProveBackend } from '../queue/backend.js';
import { ZkinferError } from '../util/errors.js';
import type { KeyRegistry } from '../verify/registry.js';

/**
 * Proving routes, registered when the server has a prove back end:
 *   POST /v1/prove {modelId, input, jobId?} -> 202 {jobId, state, statusUrl} (200 if that job already finished)
 *   GET  /v1/jobs/:id -> {id, state, modelId, progress, attemptsMade, bundle?, failedReason?}
 * The input is checked against the model's key (shape, bit width, batch) before anything is queued, so a
 * bad input is a 400 naming the bad value, never a job that fails later. Without a jobId the job id is
 * derived from (model id, input), so a client retrying after a timeout never gets a second proof. Both
 * routes answer 503 at once when the back end cannot be reached (Redis down).
 */
const MODEL_ID = /^[0-9a-f]{64}$/;

/** Why `input` cannot be proved with `key`'s model, or null if it can. */
export function inputProblem(key: ZkinferKey, input: unknown): string | null {
  if (key.model.inputs) return graphInputProblem(key, input);
  const size = key.model.inputShape.reduce((a, b) => a * b, 1);
  const max = 2 ** key.model.inputBits - 1;
  const k = key.publicSignals.batch;
  const one = (x: unknown, where: string): string | null => {
    if (!Array.isArray(x)) return `${where} must be an array of ${size} integers`;
    if (x.length !== size) return `${where} has ${x.length} values, the model expects ${size} (shape ${key.model.inputShape.join('x')})`;
    for (let i = 0; i < x.length; i++) {
      const v: unknown = x[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) return `${where}[${i}] = ${JSON.stringify(v)} is not an integer in [0, ${max}]`;
    }
    return null;
  };
  if (k === 1) return one(input, 'input');
  if (!Array.isArray(input) || input.length !== k) return `this model proves batches of ${k}: input must be an array of ${k} inputs`;
  for (let b = 0; b < k; b++) {
    const p = one(input[b], `input[${b}]`);
    if (p) return p;
  }
  return null;
}

/** 503 for an unreachable back end (the client may retry), anything else to the error handler. */
function unavailable(reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof BackendUnavailableError)) throw err;
  return reply.code(503).header('retry-after', '5').send({ error: 'QUEUE_UNAVAILABLE', message: err.message });
}

export function registerProveRoutes(app: FastifyInstance, prover: ProveBackend, registry: KeyRegistry): void {
  app.post('/v1/prove', async (request, reply) => {
    const body = request.body as { modelId?: unknown; input?: unknown; jobId?: unknown } | null;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return reply.code(400).send({ error: 'BAD_REQUEST', message: 'send {"modelId": "<64 hex digits>", "input": [...]} as JSON' });
    }
    const { modelId, input, jobId } = body;
    if (typeof modelId !== 'string' || !MODEL_ID.test(modelId)) {
      return reply.code(400).send({ error: 'BAD_MODEL_ID', message: `modelId must be 64 lowercase hex digits, got ${JSON.stringify(modelId)?.slice(0, 80)}` });
    }
    const entry = registry.keys.get(modelId);
    if (!entry) return reply.code(404).send({ error: 'UNKNOWN_MODEL', modelId, message: `unknown model id ${modelId}` });
    if (jobId !== undefined && (typeof jobId !== 'string' || !JOB_ID.test(jobId))) {
      return reply.code(400).send({ error: 'BAD_JOB_ID', message: "jobId must be a letter followed by up to 63 letters, digits, '_' or '-'" });
    }
    const problem = inputProblem(entry.key, input);
    if (problem) return reply.code(400).send({ error: 'BAD_INPUT', message: problem });
    try {
      const id = await prover.submit(modelId, input, { jobId: (jobId as string | undefined) ?? idempotencyKey(modelId, input) });
      // The job may be one submitted before (same id): report its real state, not "queued".
      const state = (await prover.status(id))?.state ?? 'queued';
      const finished = state === 'completed' || state === 'failed';
      return reply.code(finished ? 200 : 202).send({ jobId: id, state, statusUrl: `/v1/jobs/${encodeURIComponent(id)}` });
    } catch (err) {
      if (err instanceof ZkinferError) return reply.code(400).send({ error: err.code, message: err.message });
      return unavailable(reply, err);
    }
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (request, reply) => {
    const { id } = request.params;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return reply.code(400).send({ error: 'BAD_JOB_ID', message: `malformed job id ${JSON.stringify(id.slice(0, 80))}` });
    let status;
    try {
      status = await prover.status(id);
    } catch (err) {
      return unavailable(reply, err);
    }
    if (!status) return reply.code(404).send({ error: 'UNKNOWN_JOB', jobId: id, message: `no job ${id} (unknown, or its result has expired)` });
    return status;
  });
}
