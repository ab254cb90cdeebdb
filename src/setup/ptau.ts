import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as snarkjs from 'snarkjs';
import { ZkinferError } from '../util/errors.js';
import { defaultArtifactsDir, exists, sha256File, writeFileAtomic } from '../util/fs.js';
import { generateDevPtau } from './devPtau.js';

/**
 * Powers of tau for the Groth16 setup: either a local single-party development file (generated here,
 * INSECURE: whoever ran it could forge proofs) or a ceremony file the user brings, verified once.
 */
export interface PtauChoice {
  path: string;
  kind: 'local-development' | 'ceremony';
  insecure: boolean;
  power: number;
  sha256: string;
}

/** snarkjs needs 2^power > constraints + public inputs + outputs (zkey_new.js: cirPower). */
export function requiredPower(constraints: number, publicInputs: number, outputs: number): number {
  const n = constraints + publicInputs + outputs;
  return Math.max(1, Math.floor(Math.log2(Math.max(1, n))) + 1);
}

/** Power and phase-2 readiness from a ptau file's header, without loading its points. */
export async function readPtauHeader(file: string): Promise<{ power: number; prepared: boolean }> {
  const fh = await open(file, 'r').catch(() => {
    throw new ZkinferError('NOT_FOUND', `ptau file ${file} not found`);
  });
  try {
    const head = Buffer.alloc(12);
    await fh.read(head, 0, 12, 0);
    if (head.toString('latin1', 0, 4) !== 'ptau') throw new ZkinferError('BAD_PTAU', `${file} is not a powers-of-tau file (bad magic)`);
    const nSections = head.readUInt32LE(8);
    const { size } = await fh.stat();
    let pos = 12;
    let power = -1;
    const types = new Set<number>();
    for (let i = 0; i < nSections; i++) {
      const sh = Buffer.alloc(12);
      if ((await fh.read(sh, 0, 12, pos)).bytesRead < 12) throw new ZkinferError('BAD_PTAU', `${file} is truncated`);
      const type = sh.readUInt32LE(0);
      const len = Number(sh.readBigUInt64LE(4));
      types.add(type);
      if (type === 1) {
        const hb = Buffer.alloc(4);
        await fh.read(hb, 0, 4, pos + 12);
        const n8 = hb.readUInt32LE(0);
        const pb = Buffer.alloc(4);
        await fh.read(pb, 0, 4, pos + 12 + 4 + n8);
        power = pb.readUInt32LE(0);
      }
      pos += 12 + len;
      if (pos > size) throw new ZkinferError('BAD_PTAU', `${file} is truncated`);
    }
    if (power < 0) throw new ZkinferError('BAD_PTAU', `${file} has no header section`);
    return { power, prepared: [12, 13, 14, 15].every((t) => types.has(t)) };
  } finally {
    await fh.close();
  }
}

/** Local development ptau of exactly `power`, generated once and cached under artifacts/ptau/. */
export async function localDevPtau(power: number, opts: { artifactsDir?: string; onProgress?: (stage: string, done: number, total: number) => void } = {}): Promise<PtauChoice> {
  const file = path.join(opts.artifactsDir ?? defaultArtifactsDir(), 'ptau', `local-dev-insecure-pow${power}.ptau`);
  const hashFile = `${file}.sha256`;
  // The hash sidecar is written after the (atomically renamed) ptau, so its presence marks a finished file.
  if (!(await exists(hashFile))) {
    await mkdir(path.dirname(file), { recursive: true });
    await generateDevPtau(power, file, { onProgress: (stage, done, total) => opts.onProgress?.(stage, done, total) });
    await writeFileAtomic(hashFile, await sha256File(file));
  }
  return { path: file, kind: 'local-development', insecure: true, power, sha256: (await readFile(hashFile, 'utf8')).trim() };
}

/**
 * A ceremony ptau brought by the user: it must be prepared for phase 2, large enough, and pass
 * snarkjs's `powersoftau verify`. The verdict is cached by the file's SHA-256, so it runs once per file.
 */
export async function ceremonyPtau(file: string, minPower: number, opts: { artifactsDir?: string } = {}): Promise<PtauChoice> {
  const { power, prepared } = await readPtauHeader(file);
  if (!prepared) throw new ZkinferError('BAD_PTAU', `${file} is not prepared for phase 2 (run: snarkjs powersoftau prepare phase2)`);
  if (power < minPower) throw new ZkinferError('BAD_PTAU', `${file} has power ${power}; this circuit needs at least ${minPower}`);
  const sha256 = await sha256File(file);
  const verdict = path.join(opts.artifactsDir ?? defaultArtifactsDir(), 'ptau', 'verified', `${sha256}.json`);
  if (!(await exists(verdict))) {
    let ok: boolean;
    try {
      ok = await snarkjs.powersOfTau.verify(file);
    } catch (err) {
      throw new ZkinferError('BAD_PTAU', `${file} could not be verified: ${(err as Error).message}`);
    }
    if (!ok) throw new ZkinferError('BAD_PTAU', `${file} failed powers-of-tau verification`);
    await writeFileAtomic(verdict, JSON.stringify({ file: path.resolve(file), power, verifiedAt: new Date().toISOString() }, null, 2));
  }
  return { path: path.resolve(file), kind: 'ceremony', insecure: false, power, sha256 };
}
