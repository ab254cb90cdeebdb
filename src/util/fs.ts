import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
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

/**
 * mkdir -p, with the usual user mistakes (a path component that is a regular file, no permission, a
 * read-only disk) as one-line errors naming the folder instead of a stack trace.
 */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST') throw new ZkinferError('BAD_INPUT', `cannot create folder ${dir}: a part of that path is a regular file, not a folder`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC') throw new ZkinferError('BAD_INPUT', `cannot create folder ${dir}: ${code}`);
    throw err;
  }
}

/** An artifacts folder given by the user (--artifacts, $ZKINFER_ARTIFACTS) must be a folder if it exists. */
export async function checkArtifactsDir(dir: string, source: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // created on first use
    if (code !== 'ENOTDIR') throw err;
    throw new ZkinferError('BAD_INPUT', `${source} ${dir} is not a folder: a part of that path is a regular file`);
  }
  throw new ZkinferError('BAD_INPUT', `${source} ${dir} is not a folder: it is a regular file`);
}

// Temp siblings are named .<target>.tmp-<host>-<pid>-<random>: the host and pid say whose they are, so a
// later run can tell a killed run's leftovers (same host, process gone) from another live writer's, also
// on another machine sharing the artifacts folder.
const HOST = hostname().replace(/[^A-Za-z0-9.]/g, '_');

/** A fresh temporary path next to `target` (same folder, so rename is atomic). */
export function tempSibling(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Remove the temp siblings of `target` left by runs on this host that were killed (their process is
 * gone): a killed compile or setup otherwise leaves its half-built folder or 67 MB ptau forever.
 */
export async function removeStaleTemps(target: string): Promise<void> {
  const prefix = `.${path.basename(target)}.tmp-${HOST}-`;
  let names: string[];
  try {
    names = await readdir(path.dirname(target));
  } catch {
    return; // no folder yet: nothing left behind
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]{8}$/.exec(name.slice(prefix.length));
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    await rm(path.join(path.dirname(target), name), { recursive: true, force: true });
  }
}

/** Write a file so that readers see either the old content or the whole new content, never a prefix. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await ensureDir(path.dirname(file));
  await removeStaleTemps(file);
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
  await ensureDir(path.dirname(dir));
  await removeStaleTemps(dir);
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
