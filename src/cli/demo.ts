/** The end of `zkinfer demo`, whichever pipeline proved: write the bundle and key, verify, report. */
import path from 'node:path';
import type { ProofBundle } from '../format/bundle.js';
import type { ZkinferKey } from '../format/key.js';
import { defaultArtifactsDir, writeFileAtomic } from '../util/fs.js';
import { verify } from '../verify/index.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Exit code: 0 when the proof verifies, 1 when it does not. */
export async function finishDemo(bundle: ProofBundle, key: ZkinferKey, proveSeconds: number, artifactsDir?: string): Promise<number> {
  const dir = path.join(artifactsDir ?? defaultArtifactsDir(), 'demo');
  await writeFileAtomic(path.join(dir, 'proof.json'), JSON.stringify(bundle, null, 2));
  await writeFileAtomic(path.join(dir, 'verification_key.json'), JSON.stringify(key, null, 2));
  const t = Date.now();
  const result = await verify(bundle, key);
  const verifyMs = Date.now() - t;
  out(`proved     class ${bundle.prediction.class} in ${proveSeconds.toFixed(2)} s -> ${path.join(dir, 'proof.json')}`);
  out(`verified   ${result.valid ? 'VALID' : `INVALID: ${result.reason}`} in ${verifyMs} ms (key: ${path.join(dir, 'verification_key.json')})`);
  return result.valid ? 0 : 1;
}
