import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as snarkjs from 'snarkjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { modelIdOf, verify } from '../src/index.js';
import { FIELD_P } from '../src/circuit/witness.js';
import { startWebServer, type WebServer } from '../scripts/serve-web.js';
// @ts-expect-error plain JS module shared with the page (web/verifyCore.js), no type declarations
import { verifyBundle } from '../web/verifyCore.js';
import { buildVerifierFixture, type VerifierFixture } from './helpers/verifierFixture.js';

/**
 * web/verify.html verifies a bundle in the browser. The page's checks live in web/verifyCore.js, so they are
 * compared with src/verify in Node first (no browser needed), then the page itself is driven in headless
 * Debian Chromium (playwright-core) and its verdict read from #verdict.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = `SKIPPED: no Chromium at ${CHROMIUM}; install it with \`apt-get update && apt-get install -y chromium\` (what .ci/run does) or set CHROMIUM_PATH`;
if (!HAVE_CHROMIUM) console.warn(`test/browser.test.ts: the in-browser verifier tests are ${SKIP_REASON}`);

let fx: VerifierFixture;
type Bundle = VerifierFixture['bundle'];
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The bundle with one public signal replaced. */
function withSignal(bundle: Bundle, i: number, value: bigint): Bundle {
  const b = clone(bundle);
  b.publicSignals[i] = value.toString();
  return b;
}

beforeAll(async () => {
  fx = await buildVerifierFixture();
});
afterAll(async () => {
  if (fx) await rm(fx.artifactsDir, { recursive: true, force: true });
});

describe('web/verifyCore.js (the page\'s checks) agrees with src/verify', () => {
  const cases: Array<[string, () => [unknown, unknown], RegExp | null]> = [
    ['the real bundle', () => [fx.bundle, fx.model.key], null],
    ['a tampered public signal', () => [withSignal(fx.bundle, 0, (BigInt(fx.bundle.publicSignals[0]) + 1n) % FIELD_P), fx.model.key], /does not verify/],
    ['a non-canonical public signal (x + p)', () => [withSignal(fx.bundle, 0, BigInt(fx.bundle.publicSignals[0]) + FIELD_P), fx.model.key], /not a canonical field element/],
    ['another model\'s key', () => [fx.bundle, fx.other.key], /bundle is for model/],
    ['a wrong prediction field', () => { const b = clone(fx.bundle); b.prediction.class = (b.prediction.class! + 1) % 3; return [b, fx.model.key]; }, /differs from the proved output/],
    ['a tampered proof', () => { const b = clone(fx.bundle); [b.proof.pi_a, b.proof.pi_c] = [b.proof.pi_c, b.proof.pi_a]; return [b, fx.model.key]; }, /does not verify|malformed proof/],
    ['a malformed bundle', () => { const b = clone(fx.bundle) as unknown as { proof: { pi_a: unknown[] } }; b.proof.pi_a[1] = 7; return [b, fx.model.key]; }, /proof\.pi_a\[1\]/],
  ];
  for (const [name, make, reason] of cases) {
    it(name, async () => {
      const [bundle, key] = make();
      const node = await verify(bundle, key);
      const web = await verifyBundle(key, bundle, { groth16Verify: snarkjs.groth16.verify });
      expect(web.valid).toBe(reason === null);
      expect(web.valid).toBe(node.valid);
      if (reason) {
        expect(web.reason).toMatch(reason);
        expect(node.reason).toMatch(reason);
      } else {
        expect(web.modelId).toBe(modelIdOf(fx.model.key));
        expect(web.output.prediction.class).toBe(node.output!.prediction.class);
        expect(web.output.prediction.logits).toEqual(node.output!.prediction.logits);
        expect(web.output.prediction.scores).toEqual(node.output!.prediction.scores);
      }
    });
  }
});

describe.skipIf(!HAVE_CHROMIUM)(`web/verify.html in headless Chromium${HAVE_CHROMIUM ? '' : ` (${SKIP_REASON})`}`, () => {
  let server: WebServer;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
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

  /** Load the page, give it the key and the bundle as picked files, press Verify, read #verdict. */
  async function verdictFor(key: unknown, bundle: unknown): Promise<{ page: Page; valid: string | null; text: string; reason: string | null }> {
    const page = await context.newPage();
    const offsite: string[] = [];
    // snarkjs's field arithmetic runs in web workers made from blob: URLs of this origin: local too.
    page.on('request', (r) => { if (!r.url().startsWith(server.url) && !r.url().startsWith(`blob:${server.url}`)) offsite.push(r.url()); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}verify.html`);
    await page.waitForSelector('#verdict[data-state="ready"]', { timeout: 30_000 });
    for (const [which, value] of [['key', key], ['bundle', bundle]] as const) {
      const text = JSON.stringify(value);
      await page.setInputFiles(`#${which}-file`, { name: `${which}.json`, mimeType: 'application/json', buffer: Buffer.from(text) });
      await page.waitForFunction(([id, n]) => (document.getElementById(id) as HTMLTextAreaElement).value.length === n, [`${which}-json`, text.length] as const);
    }
    await page.click('#verify');
    await page.waitForSelector('#verdict[data-state="done"]', { timeout: 60_000 });
    const v = page.locator('#verdict');
    const out = { page, valid: await v.getAttribute('data-valid'), text: (await v.textContent()) ?? '', reason: await v.getAttribute('data-reason') };
    expect(errors).toEqual([]);
    expect(offsite).toEqual([]); // works offline: nothing but the local server
    return out;
  }

  it('shows VALID with the proved class, logits and model id for the real bundle', async () => {
    const { page, valid, text } = await verdictFor(fx.model.key, fx.bundle);
    expect(valid).toBe('true');
    expect(text).toBe(`VALID: class ${fx.bundle.prediction.class}`);
    expect(await page.locator('#verdict').getAttribute('data-class')).toBe(String(fx.bundle.prediction.class));
    const details = (await page.locator('#details').textContent()) ?? '';
    expect(details).toContain(modelIdOf(fx.model.key)); // WebCrypto SHA-256 of the canonical key = Node's model id
    expect(details).toContain(fx.bundle.prediction.logits.join(', '));
    expect(details).toContain('INSECURE');
    await page.close();
  });

  it('shows INVALID for a tampered public signal', async () => {
    const tampered = withSignal(fx.bundle, 0, (BigInt(fx.bundle.publicSignals[0]) + 1n) % FIELD_P);
    const { page, valid, text, reason } = await verdictFor(fx.model.key, tampered);
    expect(valid).toBe('false');
    expect(text).toMatch(/^INVALID: /);
    expect(reason).toMatch(/Groth16 proof does not verify/);
    await page.close();
  });

  it('shows INVALID for a non-canonical public signal (x + p), which would verify as its residue', async () => {
    const { page, valid, reason } = await verdictFor(fx.model.key, withSignal(fx.bundle, 0, BigInt(fx.bundle.publicSignals[0]) + FIELD_P));
    expect(valid).toBe('false');
    expect(reason).toMatch(/publicSignals\[0\] is not a canonical field element/);
    await page.close();
  });

  it("shows INVALID for another model's key", async () => {
    const { page, valid, reason } = await verdictFor(fx.other.key, fx.bundle);
    expect(valid).toBe('false');
    expect(reason).toMatch(/bundle is for model .*the key is for model/);
    await page.close();
  });

  it('shows a key error (never VALID) for a malformed key', async () => {
    const key = clone(fx.model.key) as unknown as { publicSignals: { total: number } };
    key.publicSignals.total += 1;
    const { page, valid, text } = await verdictFor(key, fx.bundle);
    expect(valid).toBe('false');
    expect(text).toMatch(/^KEY ERROR: .*vkey\.nPublic/);
    await page.close();
  });
});
