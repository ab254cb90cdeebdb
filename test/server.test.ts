import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { buildBn128 } from 'ffjavascript';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel, quantizeModel, setupModel } from '../src/index.js';
import { proveBatch } from '../src/prove/index.js';
import { buildApp, DEFAULT_REQUEST_TIMEOUT_MS } from '../src/server/app.js';
import { startServer } from '../src/server/serve.js';
import { createKeyRegistry, loadKeyRegistry, type KeyRegistry } from '../src/verify/registry.js';
import { randomFloatModel, randomInputs } from './helpers/models.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';

/** The HTTP verification service: routes, status codes for every kind of bad request, graceful shutdown. */
const root = path.resolve(import.meta.dirname, '..');
let fx: VerifierFixture;
let registry: KeyRegistry;
let app: FastifyInstance;

beforeAll(async () => {
  fx = await buildVerifierFixture();
  registry = await loadKeyRegistry(fx.keysDir);
  app = buildApp({ registry, bodyLimit: 64 * 1024 });
});

afterAll(async () => {
  await app.close();
  await (await buildBn128()).terminate();
});

const postJson = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  app.inject({ method: 'POST', url: '/v1/verify', payload: body, headers });
const post = (value: unknown) => postJson(JSON.stringify(value));

describe('routes', () => {
  it('GET /healthz and GET /v1/models list the loaded keys', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok', models: 2 });
    const { models } = (await app.inject('/v1/models')).json() as { models: Array<Record<string, unknown>> };
    expect(models).toHaveLength(2);
    expect(models.find((m) => m.id === fx.model.modelId)).toEqual({
      id: fx.model.modelId,
      name: fx.model.key.model.name,
      inputShape: [8],
      outputSize: 3,
      constraints: fx.model.key.model.constraints,
      publicSignals: fx.model.key.publicSignals.total,
      batch: 1,
      visibility: { input: 'public', output: 'logits' },
      setup: { kind: 'local-development', insecure: true, power: fx.model.key.setup.ptau.power },
    });
  });

  it('GET /v1/models/:id returns the full key; unknown id 404, malformed id 400', async () => {
    const res = await app.inject(`/v1/models/${fx.other.modelId}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(fx.other.key);
    const unknown = await app.inject(`/v1/models/${'0'.repeat(64)}`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'UNKNOWN_MODEL', modelId: '0'.repeat(64) });
    const bad = await app.inject('/v1/models/NOT-AN-ID');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/64 lowercase hex/);
  });

  it('POST /v1/verify: 200 valid with the proved prediction', async () => {
    const res = await post(fx.bundle);
    expect(res.statusCode).toBe(200);
    expect(fx.bundle.outputs).toHaveLength(1);
    expect(res.json()).toEqual({
      valid: true,
      modelId: fx.model.modelId,
      keyId: fx.model.modelId,
      prediction: fx.bundle.prediction,
      outputs: fx.bundle.outputs,
      insecureSetup: true,
    });
  });

  it('POST /v1/verify: 200 valid:false with a reason for a tampered proof or signal', async () => {
    const proof = structuredClone(fx.bundle);
    proof.proof.pi_c[1] = (BigInt(proof.proof.pi_c[1]) + 1n).toString();
    const signal = structuredClone(fx.bundle);
    signal.publicSignals[fx.model.layout.inputOffset + 3] = String((Number(signal.publicSignals[fx.model.layout.inputOffset + 3]) + 1) % 256);
    for (const bad of [proof, signal]) {
      const res = await post(bad);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ valid: false, modelId: fx.model.modelId, reason: expect.stringMatching(/proof/) });
    }
  });

  it('POST /v1/verify: 404 naming an unknown model id', async () => {
    const res = await post({ ...fx.bundle, modelId: 'ab'.repeat(32) });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: 'UNKNOWN_MODEL', modelId: 'ab'.repeat(32), message: expect.stringContaining('ab'.repeat(32)) });
  });
});

describe('batch proofs', () => {
  it('answer with every proved item, decoded from the signals', async () => {
    const q = quantizeModel(randomFloatModel([5, 3, 3], 41), randomInputs(20, 5, 8, 42), { inputBits: 8, inputScale: 1 / 255 });
    const artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-batch-')); // keep fx.keysDir at two keys
    const model = await setupModel(await compileModel(q, { artifactsDir, batch: 2 }), { artifactsDir });
    const bundle = await proveBatch(model, randomInputs(2, 5, 8, 43));
    const batchApp = buildApp({ registry: createKeyRegistry([{ key: model.key }]) });
    try {
      const res = await batchApp.inject({ method: 'POST', url: '/v1/verify', payload: bundle });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ valid: true, modelId: model.modelId, keyId: model.modelId, prediction: bundle.prediction, items: bundle.items, insecureSetup: true });
      const models = (await batchApp.inject('/v1/models')).json() as { models: Array<{ batch: number }> };
      expect(models.models[0].batch).toBe(2);
      const swapped = { ...structuredClone(bundle), items: [bundle.items![1], bundle.items![0]] };
      const bad = await batchApp.inject({ method: 'POST', url: '/v1/verify', payload: swapped });
      expect(bundle.items![0].logits).not.toEqual(bundle.items![1].logits); // so the swap is a real change
      expect(bad.json()).toMatchObject({ valid: false, reason: expect.stringMatching(/differs from the proved output/) });
    } finally {
      await batchApp.close();
    }
  });
});

describe('bad requests are 4xx naming the problem, never 500', () => {
  const big = JSON.stringify({ pad: 'x'.repeat(100 * 1024) });
  const cases: Array<{ name: string; send: () => ReturnType<typeof postJson>; status: number; error: string; path?: string }> = [
    { name: 'invalid JSON', send: () => postJson('{"format": "zkinfer-proof",'), status: 400, error: 'INVALID_JSON' },
    { name: 'empty body', send: () => postJson(''), status: 400, error: 'EMPTY_BODY' },
    { name: 'no body at all', send: () => app.inject({ method: 'POST', url: '/v1/verify' }), status: 400, error: 'MALFORMED_BUNDLE', path: '(root)' },
    { name: 'text/plain', send: () => postJson('{}', { 'content-type': 'text/plain' }), status: 415, error: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'form encoded', send: () => postJson('a=1', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, error: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'body over the limit', send: () => postJson(big), status: 413, error: 'BODY_TOO_LARGE' },
    { name: 'JSON null', send: () => postJson('null'), status: 400, error: 'MALFORMED_BUNDLE', path: '(root)' },
    { name: 'JSON array', send: () => postJson('[1,2]'), status: 400, error: 'MALFORMED_BUNDLE', path: '(root)' },
    { name: 'deeply nested JSON', send: () => postJson(`${'['.repeat(20000)}${']'.repeat(20000)}`), status: 400, error: 'MALFORMED_BUNDLE', path: '(root)' },
    {
      name: 'wrong type: number signal',
      send: () => post({ ...fx.bundle, publicSignals: [1, ...fx.bundle.publicSignals.slice(1)] }),
      status: 400,
      error: 'MALFORMED_BUNDLE',
      path: 'publicSignals[0]',
    },
    { name: 'wrong type: numeric model id', send: () => post({ ...fx.bundle, modelId: 12345 }), status: 400, error: 'MALFORMED_BUNDLE', path: 'modelId' },
    { name: 'wrong type: proof as string', send: () => post({ ...fx.bundle, proof: 'deadbeef' }), status: 400, error: 'MALFORMED_BUNDLE', path: 'proof' },
    { name: 'missing field', send: () => post({ ...fx.bundle, prediction: undefined }), status: 400, error: 'MALFORMED_BUNDLE', path: 'prediction' },
    {
      name: 'hex where decimal',
      send: () => post({ ...fx.bundle, proof: { ...fx.bundle.proof, pi_a: ['0x1', '2', '1'] } }),
      status: 400,
      error: 'MALFORMED_BUNDLE',
      path: 'proof.pi_a[0]',
    },
    { name: 'unsupported version', send: () => post({ ...fx.bundle, version: 9 }), status: 400, error: 'MALFORMED_BUNDLE', path: 'version' },
    {
      name: 'gzip body',
      send: () =>
        app.inject({
          method: 'POST',
          url: '/v1/verify',
          payload: gzipSync(JSON.stringify(fx.bundle)),
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        }),
      status: 415,
      error: 'UNSUPPORTED_CONTENT_ENCODING',
    },
    { name: 'unknown route', send: () => app.inject({ method: 'GET', url: '/v1/verify' }), status: 404, error: 'NOT_FOUND' },
    { name: 'bad URL encoding', send: () => app.inject('/v1/models/%E0%A4%A'), status: 400, error: 'FST_ERR_BAD_URL' },
    { name: 'over-long model id', send: () => app.inject(`/v1/models/${'a'.repeat(500)}`), status: 414, error: 'FST_ERR_MAX_PARAM_LENGTH' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const res = await c.send();
      expect(res.statusCode).toBe(c.status);
      const body = res.json() as { error: string; message: string; path?: string };
      expect(body.error).toBe(c.error);
      expect(body.message.length).toBeGreaterThan(5);
      if (c.path) expect(body.path).toBe(c.path);
    });
  }

  it('a "__proto__" key pollutes nothing and is refused like any unknown field (400)', async () => {
    const res = await postJson(JSON.stringify(fx.bundle).replace(/^\{/, '{"__proto__": {"valid": false, "polluted": 1},'));
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json())).toMatch(/Unrecognized key.*__proto__/);
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });

  it('every field replaced by a value of the wrong kind gives 200, 400 or 404, never 500', async () => {
    const values: unknown[] = [null, 0, -1, 1.5, 1e308, '', 'x', '-1', '9'.repeat(200), [], {}, [null], true];
    const paths: Array<Array<string | number>> = [
      ['format'],
      ['version'],
      ['protocol'],
      ['curve'],
      ['modelId'],
      ['publicSignals'],
      ['publicSignals', 0],
      ['publicSignals', fx.model.layout.total - 1],
      ['proof'],
      ['proof', 'pi_a'],
      ['proof', 'pi_a', 2],
      ['proof', 'pi_b', 0],
      ['proof', 'pi_b', 2, 1],
      ['proof', 'pi_c', 0],
      ['proof', 'protocol'],
      ['prediction'],
      ['prediction', 'class'],
      ['prediction', 'label'],
      ['prediction', 'logits'],
      ['prediction', 'logits', 0],
      ['prediction', 'scores', 1],
      ['prediction', 'note'],
    ];
    const statuses = new Map<number, number>();
    for (const p of paths) {
      for (const v of values) {
        const bad = structuredClone(fx.bundle) as unknown as Record<string | number, unknown>;
        let target = bad;
        for (const k of p.slice(0, -1)) target = target[k] as Record<string | number, unknown>;
        if (JSON.stringify(target[p[p.length - 1]]) === JSON.stringify(v)) continue; // not a change
        target[p[p.length - 1]] = v;
        const res = await post(bad);
        expect([200, 400, 404], `${p.join('.')} = ${JSON.stringify(v)}: ${res.body}`).toContain(res.statusCode);
        // Only the display-only fields (label, scores, note) may change and still verify, and then the
        // service answers with the proved prediction, not the bundle's.
        if (res.statusCode === 200 && res.json().valid) {
          expect(['prediction,label', 'prediction,scores,1', 'prediction,note'], `${p.join('.')} = ${JSON.stringify(v)}`).toContain(p.join());
          expect(res.json().prediction).toEqual(fx.bundle.prediction);
        }
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      }
    }
    expect(statuses.get(400)).toBeGreaterThan(100);
    expect(statuses.get(200)).toBeGreaterThan(0); // e.g. a signal of 9...9 (non-canonical): a verdict, not a 400
  });
});

/** POST a body in two halves with a pause between, so the request is in flight for as long as we like. */
function slowPost(url: string, body: string, pause: Promise<void>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.write(body.slice(0, 100));
    void pause.then(() => req.end(body.slice(100)));
  });
}

/** Send raw bytes on a TCP socket and collect what comes back until the server closes it. */
function rawRequest(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    socket.on('error', reject).on('close', () => resolve(text));
  });
}

describe('over a real socket', () => {
  it('cuts off a client whose body never arrives: 408 and the connection closed', async () => {
    const defaults = buildApp({ registry });
    expect(defaults.server.requestTimeout).toBe(DEFAULT_REQUEST_TIMEOUT_MS);
    await defaults.close();
    const server = await startServer({ keysDir: fx.keysDir, port: 0, signals: [], requestTimeoutMs: 500 });
    try {
      // Content-Length 1000, 5 bytes sent, then silence: before, nothing answered for Node's 5 minutes.
      const reply = await rawRequest(server.url, 'POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":');
      expect(reply).toMatch(/^HTTP\/1\.1 408 /);
      // A whole request on a fresh connection is still served.
      const ok = await fetch(`${server.url}/healthz`);
      expect(ok.status).toBe(200);
    } finally {
      await server.close();
    }
  }, 10_000);

  it('refuses a gzip-encoded body with 415 over the wire', async () => {
    const server = await startServer({ keysDir: fx.keysDir, port: 0, signals: [] });
    try {
      const res = await fetch(`${server.url}/v1/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify(fx.bundle)),
      });
      expect(res.status).toBe(415);
      expect(((await res.json()) as { error: string }).error).toBe('UNSUPPORTED_CONTENT_ENCODING');
      const identity = await fetch(`${server.url}/v1/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
        body: JSON.stringify(fx.bundle),
      });
      expect(((await identity.json()) as { valid: boolean }).valid).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('listens on 127.0.0.1:0, verifies, and answers 413 to a chunked body over the limit', async () => {
    const server = await startServer({ keysDir: fx.keysDir, port: 0, bodyLimit: 32 * 1024, signals: [] });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const ok = await fetch(`${server.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fx.bundle) });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { valid: boolean }).valid).toBe(true);
      // No Content-Length: the limit is enforced while streaming, not only from the header.
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 64) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
          else controller.close();
        },
      });
      const tooBig = await fetch(`${server.url}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
      expect(tooBig.status).toBe(413);
      expect(((await tooBig.json()) as { error: string }).error).toBe('BODY_TOO_LARGE');
    } finally {
      await server.close();
    }
  });

  it('on a shutdown signal, stops accepting connections and finishes the request in flight', async () => {
    const server = await startServer({ keysDir: fx.keysDir, port: 0, signals: ['SIGUSR2'] });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inFlight = slowPost(`${server.url}/v1/verify`, JSON.stringify(fx.bundle), gate);
    await new Promise((r) => setTimeout(r, 100)); // the first half of the body has reached the server
    process.kill(process.pid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow(); // no new connections while closing
    let closed = false;
    void server.closed.then(() => (closed = true));
    expect(closed).toBe(false); // still waiting for the in-flight request
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).valid).toBe(true);
    // The answer closed its connection, so the close does not wait for the client's keep-alive (~5 s).
    const t = Date.now();
    await server.closed;
    expect(Date.now() - t).toBeLessThan(2000);
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });
});

describe('zkinfer serve (CLI)', () => {
  const cli = (...args: string[]) => spawn(process.execPath, [path.join(root, 'bin', 'zkinfer.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });

  it('logs where it listens, serves, and exits 0 on SIGTERM', async () => {
    const child = cli('serve', '--keys', fx.keysDir, '--port', '0');
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const logs: Array<{ msg: string; url?: string }> = [];
    const ready = new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as { msg: string; url?: string };
        logs.push(entry);
        if (entry.msg === 'zkinfer verification server ready') resolve(entry.url!);
      });
      void exit.then((code) => reject(new Error(`serve exited early with ${code}`)));
    });
    const url = await ready;
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok', models: 2 });
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs.map((l) => l.msg)).toContain('zkinfer verification server closed');
  });

  it('refuses a bad port, a taken port or a bad key directory with exit code 2 and a reason', async () => {
    const taken = await startServer({ keysDir: fx.keysDir, port: 0, signals: [] });
    const takenPort = new URL(taken.url).port;
    for (const [args, pattern] of [
      [['--port', takenPort], new RegExp(`cannot listen on 127\\.0\\.0\\.1:${takenPort}: EADDRINUSE`)],
      [['--port', 'http'], /port must be an integer from 0 to 65535, got "http"/],
      [['--keys', path.join(fx.artifactsDir, 'nope')], /cannot read key directory .*nope: ENOENT/],
      [['--body-limit', '-5'], /--body-limit must be a positive integer/],
    ] as Array<[string[], RegExp]>) {
      const child = cli('serve', '--keys', fx.keysDir, '--port', '0', ...args);
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      expect(code, stderr).toBe(2);
      expect(stderr).toMatch(pattern);
    }
    await taken.close();
  });
});
