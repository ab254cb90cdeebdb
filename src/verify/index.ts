import { verifyBundle, type VerifyResult } from './core.js';

/**
 * Verify a proof bundle with a zkinfer key (bundle first, the order the CLI and older callers use): the
 * verifier core's verifyBundle(key, bundle), which the HTTP server and the browser page run too.
 */
export function verify(bundleValue: unknown, keyValue: unknown): Promise<VerifyResult> {
  return verifyBundle(keyValue, bundleValue);
}

export { verifyBundle, verifyChain, type VerifyResult, type VerifyOptions, type ChainVerifyResult } from './core.js';
