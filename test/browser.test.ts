import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as snarkjs from 'snarkjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { modelIdOf, verify, ZkinferError } from '../src/index.js';
import { BASE_Q, type VerifyResult } from '../src/verify/core.js';
import { buildWebVerifier } from '../scripts/build-web.mjs';
import { startWebServer, type WebServer } from '../scripts/serve-web.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';
import { jacobianRescale, verifierCases, type Expectation, type VerifierCase } from './helpers/verifierCases.js';
import { loadWebCore, type WebCore } from './helpers/webCore.js';

/**
 * web/verify.html verifies a bundle in the browser with the browser build of the verifier core
 * (src/verify/core.ts, built by scripts/build-web.mjs). On the shared set of good and bad bundles
 * (test/helpers/verifierCases.ts), the library, that build loaded in Node, and the page in headless Debian
 * Chromium (playwright-core, verdict read from #verdict) must all give the expected verdict and reason.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = `SKIPPED: no Chromium at ${CHROMIUM}; install it with \`apt-get update && apt-get install -y chromium\` (what .ci/run does) or set CHROMIUM_PATH`;
if (!HAVE_CHROMIUM) console.warn(`test/browser.test.ts: the in-browser verifier tests are ${SKIP_REASON}`);

let fx: VerifierFixture;
let cases: VerifierCase[];
let web: WebCore;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

beforeAll(async () => {
  fx = await buildVerifierFixture();
  cases = verifierCases(fx.model.key, fx.bundle, fx.other.key);
  web = await loadWebCore();
});
afterAll(async () => {
  if (fx) await rm(fx.artifactsDir, { recursive: true, force: true });
});

/** A verdict in one comparable form: 'valid', 'invalid: <reason>' or 'key error: <message>'. */
async function verdictOf(run: () => Promise<VerifyResult>): Promise<string> {
  try {
    const r = await run();
    return r.valid ? 'valid' : `invalid: ${r.reason}`;
  } catch (err) {
    if (err instanceof Error && (err as ZkinferError).code === 'BAD_KEY') return `key error: ${err.message}`;
    throw err;
  }
}

function expectVerdict(verdict: string, expected: Expectation, name: string): void {
  if (expected === 'valid') expect(verdict, name).toBe('valid');
  else if ('reason' in expected) expect(verdict, name).toMatch(new RegExp(`^invalid: .*${expected.reason.source}`));
  else expect(verdict, name).toMatch(new RegExp(`^key error: .*${expected.keyError.source}`));
}

describe('the shared verifier cases', () => {
  it('has at least 20 cases, good and bad', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(cases.filter((c) => c.expect === 'valid').length).toBeGreaterThanOrEqual(2);
  });

  it('the core is light: its bundle holds no Node built-ins, no circom or Poseidon code, only zod and noble-hashes', () => {
    const packages = new Set(web.inputs.filter((f) => f.includes('node_modules/')).map((f) => /node_modules\/((@[^/]+\/)?[^/]+)/.exec(f)![1]));
    expect([...packages].sort()).toEqual(['@noble/hashes', 'zod']);
    expect(web.inputs.filter((f) => f.startsWith('node:') || /circomlibjs|circom_runtime|ffjavascript/.test(f))).toEqual([]);
    const sources = web.inputs.filter((f) => f.startsWith('src/'));
    expect(
      sources.every((f) => /^src\/(format|verify|util\/errors)/.test(f)),
      sources.join(' '),
    ).toBe(true);
  });

  it('the non-canonical proofs are real attacks: snarkjs alone accepts a coordinate + q and a Jacobian pi_a', async () => {
    const { vkey } = fx.model.key;
    const plusQ = clone(fx.bundle.proof);
    plusQ.pi_a[0] = String(BigInt(plusQ.pi_a[0]) + BASE_Q);
    expect(await snarkjs.groth16.verify(vkey, fx.bundle.publicSignals, plusQ)).toBe(true);
    expect(await snarkjs.groth16.verify(vkey, fx.bundle.publicSignals, jacobianRescale(fx.bundle.proof))).toBe(true);
  });

  it('the library and the browser build of the core (in Node) give the expected verdict on every case', async () => {
    for (const c of cases) {
      const lib = await verdictOf(() => verify(c.bundle, c.key));
      const page = await verdictOf(() => web.verifyBundle(c.key, c.bundle));
      expectVerdict(lib, c.expect, c.name);
      expect(page, c.name).toBe(lib);
    }
  });

  it('a valid verdict names the model and the decoded output identically in both', async () => {
    const lib = await verify(fx.bundle, fx.model.key);
    const page = await web.verifyBundle(fx.model.key, fx.bundle);
    expect(page).toEqual(lib);
    expect(page.modelId).toBe(modelIdOf(fx.model.key));
  });
});

describe.skipIf(!HAVE_CHROMIUM)(`web/verify.html in headless Chromium${HAVE_CHROMIUM ? '' : ` (${SKIP_REASON})`}`, () => {
  let server: WebServer;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    await buildWebVerifier(); // web/vendor/: the page runs the current sources
    server = await startWebServer();
    profile = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  /** Load the page and wait until it is ready, failing on page errors or requests leaving the local server. */
  async function openPage(): Promise<{ page: Page; done: () => void }> {
    const page = await context.newPage();
    const offsite: string[] = [];
    // snarkjs's field arithmetic runs in web workers made from blob: URLs of this origin: local too.
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith(`blob:${server.url}`)) offsite.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}verify.html`);
    await page.waitForSelector('#verdict[data-state="ready"]', { timeout: 30_000 });
    return {
      page,
      done: () => {
        expect(errors).toEqual([]);
        expect(offsite).toEqual([]);
      },
    };
  }

  /** Load the page, give it the key and the bundle as picked files, press Verify, read #verdict. */
  async function verdictFor(key: unknown, bundle: unknown): Promise<{ page: Page; valid: string | null; text: string; reason: string | null }> {
    const { page, done } = await openPage();
    for (const [which, value] of [
      ['key', key],
      ['bundle', bundle],
    ] as const) {
      const text = JSON.stringify(value);
      await page.setInputFiles(`#${which}-file`, { name: `${which}.json`, mimeType: 'application/json', buffer: Buffer.from(text) });
      await page.waitForFunction(([id, n]) => (document.getElementById(id) as HTMLTextAreaElement).value.length === n, [`${which}-json`, text.length] as const);
    }
    await page.click('#verify');
    await page.waitForSelector('#verdict[data-state="done"]', { timeout: 60_000 });
    const v = page.locator('#verdict');
    const out = { page, valid: await v.getAttribute('data-valid'), text: (await v.textContent()) ?? '', reason: await v.getAttribute('data-reason') };
    done(); // no page errors, and offline: nothing but the local server
    return out;
  }

  it('shows VALID with the proved class, logits and model id for the real bundle', async () => {
    const { page, valid, text } = await verdictFor(fx.model.key, fx.bundle);
    expect(valid).toBe('true');
    expect(text).toBe(`VALID: class ${fx.bundle.prediction.class}`);
    expect(await page.locator('#verdict').getAttribute('data-class')).toBe(String(fx.bundle.prediction.class));
    const details = (await page.locator('#details').textContent()) ?? '';
    expect(details).toContain(modelIdOf(fx.model.key)); // the core's SHA-256 of the canonical key, in the page = Node's model id
    expect(details).toContain(fx.bundle.prediction.logits.join(', '));
    expect(details).toContain('INSECURE');
    await page.close();
  });

  it("gives the expected verdict, with the library's reason, on every shared case", async () => {
    const { page, done } = await openPage();
    for (const c of cases) {
      await page.evaluate(
        ([key, bundle]) => {
          (document.getElementById('key-json') as HTMLTextAreaElement).value = key;
          (document.getElementById('bundle-json') as HTMLTextAreaElement).value = bundle;
          document.getElementById('verdict')!.dataset.state = 'ready';
        },
        [JSON.stringify(c.key), JSON.stringify(c.bundle)] as const,
      );
      await page.click('#verify');
      await page.waitForSelector('#verdict[data-state="done"]', { timeout: 60_000 });
      const v = page.locator('#verdict');
      const [valid, text, reason] = [await v.getAttribute('data-valid'), (await v.textContent()) ?? '', (await v.getAttribute('data-reason')) ?? ''];
      const pageVerdict =
        valid === 'true' ? 'valid' : text.startsWith('KEY ERROR: ') ? `key error: ${reason}` : text.startsWith('INVALID: ') ? `invalid: ${reason}` : `page error: ${text}`;
      const lib = await verdictOf(() => verify(c.bundle, c.key));
      expectVerdict(pageVerdict, c.expect, c.name);
      expect(pageVerdict, c.name).toBe(lib);
    }
    done();
    await page.close();
  });
});
