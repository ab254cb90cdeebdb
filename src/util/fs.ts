import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZkinferError, type ZkinferErrorCode } from './errors.js';

/**
 * Root of the installed zkinfer package (src/util or dist/util, two levels down), where the read-only
 * assets it ships live: circuits/*.circom, models/, web/. Never written to: caches go to the artifacts dir.
 */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The artifacts (cache) directory when no `--artifacts`/`artifactsDir` is given: `$ZKINFER_ARTIFACTS`,
 * else `artifacts/` in the working directory. It belongs to the user, not to the installed package
 * (which may be read-only and is replaced on every upgrade).
 */
export function defaultArtifactsDir(): string {
  return path.resolve(process.env.ZKINFER_ARTIFACTS || 'artifacts');
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export { canonicalJson } from '../format/canonical.js';

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

function tempSibling(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Write a file so that readers see either the old content or the whole new content, never a prefix. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempSibling(file);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Build a directory in a temporary sibling and rename it into place: a cache directory that exists is
 * always complete, so a killed run never leaves a half-built entry that a later run would trust.
 */
export async function produceDirAtomic(dir: string, produce: (tmpDir: string) => Promise<void>): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  const tmp = tempSibling(dir);
  await mkdir(tmp, { recursive: true });
  try {
    await produce(tmp);
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another process finished the same content-addressed entry first: theirs is as good as ours.
      if (await exists(dir)) await rm(tmp, { recursive: true, force: true });
      else throw err;
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Read and parse a JSON file; a missing file or bad JSON becomes a ZkinferError naming the file. */
export async function readJsonFile(file: string, what: string, code: ZkinferErrorCode): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ZkinferError('NOT_FOUND', `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ZkinferError(code, `${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}
