// Browser build of the verifier core (src/verify/core.ts) for web/verify.html: one ES module,
// web/vendor/zkinfer-verify.js, with zod and noble-hashes bundled in. snarkjs is not bundled: the page
// loads snarkjs's own browser build (web/vendor/snarkjs.min.js, copied here) as a classic script, and
// the core's `import { groth16 } from 'snarkjs'` is pointed at that global. Part of `npm run build`.
// esbuild (already under tsx and vitest) is used because the core's dependencies are npm packages a
// page cannot import by name; it makes one file in ~0.1 s.
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_VENDOR = path.join(ROOT, 'web', 'vendor');
export const WEB_CORE = path.join(WEB_VENDOR, 'zkinfer-verify.js');

/**
 * Build web/vendor/zkinfer-verify.js from the sources and copy snarkjs's browser build next to it.
 * Returns the file and the source files bundled into it (relative to the repository).
 */
export async function buildWebVerifier({ outfile = WEB_CORE } = {}) {
  await mkdir(path.dirname(outfile), { recursive: true });
  const result = await build({
    entryPoints: [path.join(ROOT, 'src', 'verify', 'core.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    alias: { snarkjs: path.join(ROOT, 'scripts', 'snarkjs-global.js') },
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  // snarkjs's exports map hides its folder: resolve the CommonJS entry (build/main.cjs) and look beside it.
  const snarkjsBuild = path.join(path.dirname(createRequire(import.meta.url).resolve('snarkjs')), 'snarkjs.min.js');
  await copyFile(snarkjsBuild, path.join(path.dirname(outfile), 'snarkjs.min.js'));
  return { file: outfile, inputs: Object.keys(result.metafile.inputs) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { file } = await buildWebVerifier();
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
