import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as snarkjs from 'snarkjs';
import { buildWebVerifier } from '../../scripts/build-web.mjs';
import type { VerifyResult } from '../../src/verify/core.js';

/**
 * The page's verifier (the browser build of src/verify/core.ts, as scripts/build-web.mjs makes it for
 * web/), built into a temp folder and loaded in Node. The build reads snarkjs from `globalThis.snarkjs`
 * as the page does (there: snarkjs's browser build), here set to Node's snarkjs.
 */
export interface WebCore {
  verifyBundle(key: unknown, bundle: unknown): Promise<VerifyResult>;
  /** The source files esbuild bundled (repository-relative paths, node_modules/... for dependencies). */
  inputs: string[];
}

export async function loadWebCore(): Promise<WebCore> {
  (globalThis as { snarkjs?: unknown }).snarkjs ??= snarkjs;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-webcore-'));
  const { file, inputs } = await buildWebVerifier({ outfile: path.join(dir, 'zkinfer-verify.js') });
  const mod = (await import(pathToFileURL(file).href)) as Pick<WebCore, 'verifyBundle'>;
  return { verifyBundle: mod.verifyBundle, inputs };
}
