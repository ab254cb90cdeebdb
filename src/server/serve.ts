import type { FastifyInstance } from 'fastify';
import { ZkinferError } from '../util/errors.js';
import { loadKeyRegistry } from '../verify/registry.js';
import { buildApp, type AppOptions } from './app.js';
import type { ProveBackend } from '../queue/backend.js';

/**
 * Run the verification service: load the keys once, listen, and on SIGINT/SIGTERM stop accepting
 * connections while in-flight verifications finish (fastify's close waits for them and drops idle
 * keep-alive sockets). Connections still open after `shutdownTimeoutMs` are cut so a stuck client cannot
 * hold the process forever.
 */
export interface ServeOptions {
  keysDir: string;
  /** A number, or a CLI string of digits (anything else is a BAD_INPUT error). */
  port: number | string;
  host?: string;
  bodyLimit?: number;
  /** Time allowed to receive a whole request (see DEFAULT_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  logger?: AppOptions['logger'];
  /** Signals that trigger a graceful shutdown; [] installs no handlers (the caller closes). */
  signals?: NodeJS.Signals[];
  shutdownTimeoutMs?: number;
  /** A proving back end (adds POST /v1/prove, GET /v1/jobs/:id); the caller closes it after the server. */
  prover?: ProveBackend;
}

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:43125 */
  url: string;
  /** Resolves once the server has closed (after a signal or `close()`). */
  closed: Promise<void>;
  close(): Promise<void>;
}

export function parsePort(value: string | number): number {
  const port = typeof value === 'number' ? value : /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ZkinferError('BAD_INPUT', `port must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  return port;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const port = parsePort(options.port);
  const registry = await loadKeyRegistry(options.keysDir);
  const app = buildApp({ registry, bodyLimit: options.bodyLimit, requestTimeoutMs: options.requestTimeoutMs, logger: options.logger, prover: options.prover });
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let shuttingDown = false;
  // Hooks must be added before listen. A response sent while shutting down closes its connection;
  // otherwise the client's keep-alive socket would hold the close open until Node's keep-alive timeout.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (shuttingDown) reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onClose', async () => {
    app.log.info('zkinfer verification server closed');
    resolveClosed();
  });
  const host = options.host ?? '127.0.0.1';
  let url: string;
  try {
    url = await app.listen({ port, host });
  } catch (err) {
    // A taken port or an address this machine does not have is the operator's input, not a zkinfer bug.
    await app.close();
    throw new ZkinferError('BAD_INPUT', `cannot listen on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  app.log.info({ models: registry.keys.size, keysDir: options.keysDir, url }, 'zkinfer verification server ready');

  let closing: Promise<void> | undefined;
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      for (const s of signals) process.removeListener(s, onSignal);
      const timer = setTimeout(() => app.server.closeAllConnections(), options.shutdownTimeoutMs ?? 10_000);
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
      }
    })();
    return closing;
  };
  function onSignal(signal: NodeJS.Signals): void {
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    close().catch((err: unknown) => app.log.error({ err }, 'error while closing'));
  }
  // once: a second Ctrl-C gets Node's default handling and ends the process at once.
  for (const s of signals) process.once(s, onSignal);
  return { app, url, closed, close };
}
