import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The published package, as an app installs it: `npm pack` (which builds dist/ through `prepare`), then in
 * a new folder outside the repo `npm init -y && npm install <tarball>`, with no tsx anywhere, and plain
 * Node: `npx zkinfer --help`, `npx zkinfer demo`, and an app.mjs that verifies the demo's bundle with
 * `import { verifyBundle } from 'zkinfer/verify'`. Needs the npm registry (or npm's cache) for the
 * package's dependencies. The install takes about a minute, the demo one to several (setup included).
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
let dir: string;
let app: string;
const timing: Record<string, number> = {};

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await f();
  } finally {
    timing[what] = (Date.now() - t) / 1000;
  }
}

/** Run in the app folder with a PATH that has node and npm but nothing of the repo. */
const inApp = (cmd: string, args: string[], timeout = 600_000) =>
  run(cmd, args, { cwd: app, timeout, maxBuffer: 64 << 20, env: { ...process.env, ZKINFER_ARTIFACTS: '', NODE_OPTIONS: '' } });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-package-'));
  app = path.join(dir, 'app');
  await timed('npm pack (with build)', () => run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: root, timeout: 600_000, maxBuffer: 64 << 20 }));
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!;
  await run('mkdir', [app]);
  await inApp('npm', ['init', '-y']);
  await timed('npm install', () => inApp('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, tarball)]));
  console.log(
    `test/package.test.ts: ${Object.entries(timing)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ')}`,
  );
}, 1_200_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('ships dist/, the circuits, the bundled models and the built web page, and no sources, tests or tsx', () => {
    const pkg = path.join(app, 'node_modules', 'zkinfer');
    for (const f of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/verify/core.js',
      'dist/verify/core.d.ts',
      'dist/cli/main.js',
      'circuits/commit.circom',
      'models/mnist-mlp/model.json',
      'web/verify.html',
      'web/vendor/zkinfer-verify.js',
      'web/vendor/snarkjs.min.js',
    ]) {
      expect(existsSync(path.join(pkg, f)), f).toBe(true);
    }
    for (const f of ['src', 'test', 'bench', 'scripts', 'web/verifyCore.js']) expect(existsSync(path.join(pkg, f)), f).toBe(false);
    expect(existsSync(path.join(app, 'node_modules', 'tsx')), 'tsx is a dev dependency only').toBe(false);
  });

  it('npx zkinfer --help runs the built CLI', async () => {
    const { stdout } = await inApp('npx', ['--no-install', 'zkinfer', '--help']);
    expect(stdout).toMatch(/^Usage: zkinfer/);
    expect(stdout).toMatch(/demo\s/);
  });

  it('npx zkinfer demo proves and verifies a digit, with its artifacts in the working directory', async () => {
    const { stdout } = await timed('npx zkinfer demo', () => inApp('npx', ['--no-install', 'zkinfer', 'demo', '-q'], 1_200_000));
    console.log(`test/package.test.ts: npx zkinfer demo ${timing['npx zkinfer demo'].toFixed(1)} s`);
    expect(stdout).toMatch(/verified\s+VALID/);
    expect(existsSync(path.join(app, 'artifacts', 'demo', 'proof.json'))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules', 'zkinfer', 'artifacts')), 'nothing written into the installed package').toBe(false);
  }, 1_200_000);

  it("a plain node app.mjs verifies the demo bundle with import { verifyBundle } from 'zkinfer/verify'", async () => {
    await writeFile(
      path.join(app, 'app.mjs'),
      `import { readFileSync } from 'node:fs';
import { verifyBundle } from 'zkinfer/verify';
const key = JSON.parse(readFileSync('artifacts/demo/verification_key.json', 'utf8'));
const bundle = JSON.parse(readFileSync('artifacts/demo/proof.json', 'utf8'));
const good = await verifyBundle(key, bundle);
const lying = await verifyBundle(key, { ...bundle, prediction: { ...bundle.prediction, label: 'not what was proved' } });
console.log(JSON.stringify({ valid: good.valid, modelId: good.modelId, claimed: bundle.modelId, cls: good.output?.prediction.class, lying: lying.valid, reason: lying.reason }));
process.exit(0); // snarkjs keeps curve worker threads alive
`,
    );
    const { stdout } = await inApp(process.execPath, ['app.mjs']);
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ valid: true, lying: false });
    expect(out.modelId).toBe(out.claimed);
    expect(typeof out.cls).toBe('number');
    expect(out.reason).toMatch(/prediction\.label differs/);
  }, 120_000);

  it('every public entry point loads in plain Node', async () => {
    await writeFile(
      path.join(app, 'entries.mjs'),
      `const names = {};
for (const spec of ['zkinfer', 'zkinfer/verify', 'zkinfer/server', 'zkinfer/queue', 'zkinfer/graph']) names[spec] = Object.keys(await import(spec)).length;
console.log(JSON.stringify({ names, root: typeof (await import('zkinfer')).buildModel, server: typeof (await import('zkinfer/server')).buildApp, queue: typeof (await import('zkinfer/queue')).BullProveQueue }));
process.exit(0);
`,
    );
    const { stdout } = await inApp(process.execPath, ['entries.mjs']);
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ root: 'function', server: 'function', queue: 'function' });
    for (const n of Object.values(out.names)) expect(n).toBeGreaterThan(0);
  }, 120_000);
});
