import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The path of a file inside an installed dependency whose exports map hides it (snarkjs's Solidity
 * template, circomlibjs's Poseidon source): the package's root is the nearest folder above its
 * resolvable entry whose package.json has the package's name.
 */
export function hiddenPackageFile(pkg: string, ...rel: string[]): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve(pkg));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === pkg) return path.join(dir, ...rel);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`internal error: no package.json named ${pkg} above its entry`);
    dir = up;
  }
}
