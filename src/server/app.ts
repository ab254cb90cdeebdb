import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import { bundleClaims } from '../format/decode.js';
import type { ZkinferKey } from '../format/key.js';
import { ZkinferError } from '../util/errors.js';
import { verifyWithRegistry, type KeyRegistry } from '../verify/registry.js';
import type { ProveBackend } from '../queue/backend.js';
import { registerProveRoutes } from './proveRoutes.js';

/**
 * The zkinfer verification service: POST a proof bundle, get a verdict. Only verification keys are loaded
 * (never weights or proving keys). Every response is JSON; a client mistake is always a 4xx naming the
 * problem, and a 500 means a zkinfer bug (logged with its stack, never echoed to the client).
 */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/**
 * A request (headers and body) must arrive within this many milliseconds, or the server answers 408 and
 * closes the connection: a client that announces 1000 bytes and sends 5 cannot hold a socket for
 * Node's default of 5 minutes. Only receiving counts; a slow verification is not cut off.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface AppOptions {
  registry: KeyRegistry;
  /** Largest request body in bytes (default 1 MiB; an MNIST bundle is ~10 KiB). */
  bodyLimit?: number;
  /** fastify/pino logger settings; false (the default) logs nothing, as tests want. */
  logger?: FastifyServerOptions['logger'];
  /** A proving back end: adds POST /v1/prove and GET /v1/jobs/:id (src/server/proveRoutes.ts). */
  prover?: ProveBackend;
  /** Time allowed to receive a whole request, in ms (default DEFAULT_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
}

export interface ModelSummary {
  id: string;
  name: string;
  inputShape: number[];
  outputSize: number;
  constraints: number;
  publicSignals: number;
  /** Inferences per proof. */
  batch: number;
  visibility: ZkinferKey['publicSignals']['visibility'];
  setup: { kind: ZkinferKey['setup']['ptau']['kind']; insecure: boolean; power: number };
}

function summarize(modelId: string, key: ZkinferKey): ModelSummary {
  const { model, setup } = key;
  return {
    id: modelId,
    name: model.name,
    inputShape: model.inputShape,
    outputSize: model.outputSize,
    constraints: model.constraints,
    publicSignals: key.publicSignals.total,
    batch: key.publicSignals.batch,
    visibility: key.publicSignals.visibility,
    setup: { kind: setup.ptau.kind, insecure: setup.ptau.insecure, power: setup.ptau.power },
  };
}

/** fastify's own client-error codes, renamed to the service's vocabulary with a message that says what to do. */
function describeClientError(err: FastifyError, bodyLimit: number, contentType: string | undefined): { error: string; message: string } {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { error: 'BODY_TOO_LARGE', message: `request body exceeds the limit of ${bodyLimit} bytes` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { error: 'UNSUPPORTED_MEDIA_TYPE', message: `unsupported content type ${JSON.stringify(contentType ?? '(none)')}: send the bundle as application/json` };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { error: 'BAD_CONTENT_LENGTH', message: 'request body size does not match its Content-Length' };
    default:
      return { error: err.code ?? 'BAD_REQUEST', message: err.message };
  }
}

const MODEL_ID = /^[0-9a-f]{64}$/;

function clientError(code: string, message: string): FastifyError {
  return Object.assign(new Error(message), { code, statusCode: 400, name: 'ClientError' });
}

/**
 * Our JSON parser instead of fastify's, whose error hides where the JSON broke. Plain JSON.parse is safe
 * here: it never sets prototypes (a "__proto__" key becomes an ordinary own property, which the strict
 * bundle schema refuses as an unknown field), and nothing merges the body into other objects.
 */
function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw clientError('EMPTY_BODY', 'request body is empty: send a zkinfer proof bundle as JSON');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw clientError('INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function buildApp(options: AppOptions): FastifyInstance {
  const { registry } = options;
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isInteger(bodyLimit) || bodyLimit <= 0)
    throw new ZkinferError('BAD_INPUT', `body limit must be a positive integer number of bytes, got ${JSON.stringify(bodyLimit)}`);
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isInteger(requestTimeout) || requestTimeout <= 0)
    throw new ZkinferError('BAD_INPUT', `request timeout must be a positive integer number of ms, got ${JSON.stringify(requestTimeout)}`);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    // Node enforces requestTimeout only when it is given to the http.Server constructor (setting it later,
    // as fastify's own option does, is ignored), and checks it every connectionsCheckingInterval (30 s by
    // default): check often enough that the cut comes within about a second of the limit.
    requestTimeout,
    http: { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.min(1000, requestTimeout) },
    // Routing-level client errors (bad URL encoding, over-long ids) in the same JSON shape as the rest.
    frameworkErrors: (err, _request, reply) => {
      void (reply as FastifyReply).code(err.statusCode ?? 400).send({ error: err.code, message: err.message });
    },
  });
  // JSON only: a text/plain body would reach the handler as a string and be reported as a bad bundle.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, async (_request: unknown, body: string | Buffer) => parseJsonBody(body.toString()));

  // fastify never decompresses: a gzip body would reach the JSON parser as binary and be reported as bad JSON.
  app.addHook('onRequest', async (request, reply) => {
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      return reply.code(415).send({ error: 'UNSUPPORTED_CONTENT_ENCODING', message: `unsupported Content-Encoding ${JSON.stringify(encoding)}: send the body uncompressed` });
    }
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(describeClientError(err, bodyLimit, request.headers['content-type']));
    }
    request.log.error({ err }, 'internal error');
    return reply.code(500).send({ error: 'INTERNAL', message: 'internal error (logged on the server)' });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url}; see GET /v1/models and POST /v1/verify` }),
  );

  // With a proving back end, /healthz says whether it can be reached: 503 while Redis is down.
  app.get('/healthz', async (_request, reply) => {
    if (!options.prover) return { status: 'ok', models: registry.keys.size };
    const prover = await options.prover.health();
    return reply.code(prover.ok ? 200 : 503).send({ status: prover.ok ? 'ok' : 'unavailable', models: registry.keys.size, prover: prover.detail });
  });

  app.get('/v1/models', async () => ({
    models: [...registry.keys.values()].map((e) => summarize(e.modelId, e.key)),
  }));

  app.get<{ Params: { id: string } }>('/v1/models/:id', async (request, reply) => {
    const { id } = request.params;
    if (!MODEL_ID.test(id)) return reply.code(400).send({ error: 'BAD_MODEL_ID', message: `model id must be 64 lowercase hex digits, got ${JSON.stringify(id.slice(0, 80))}` });
    const entry = registry.keys.get(id);
    if (!entry) return reply.code(404).send({ error: 'UNKNOWN_MODEL', modelId: id, message: `unknown model id ${id}` });
    return entry.key;
  });

  app.post('/v1/verify', async (request, reply) => {
    const verdict = await verifyWithRegistry(request.body, registry);
    if (verdict.failure === 'malformed') {
      return reply.code(400).send({ error: 'MALFORMED_BUNDLE', path: verdict.path, message: verdict.reason });
    }
    if (verdict.failure === 'unknown-model') {
      return reply.code(404).send({ error: 'UNKNOWN_MODEL', modelId: verdict.modelId, message: verdict.reason });
    }
    if (!verdict.valid) return { valid: false, modelId: verdict.modelId, reason: verdict.reason };
    // The key it was checked with: for private weights the model id is the weights commitment, not a key id.
    const key = registry.keys.get(verdict.keyId!)!.key;
    // What the proof establishes (decoded from the proved signals), never the bundle's own claims.
    return { valid: true, modelId: verdict.modelId, keyId: verdict.keyId, ...bundleClaims(verdict.output!), insecureSetup: key.setup.ptau.insecure };
  });

  if (options.prover) registerProveRoutes(app, options.prover, registry);

  return app;
}
