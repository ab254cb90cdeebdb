// Fast local, single-party DEVELOPMENT powers-of-tau setup (issue 8).
//
// `snarkjs powersoftau prepare phase2` spends nearly all its time in group FFTs
// that turn tau^i*G into Lagrange-basis points L_i(tau)*G without knowing tau.
// A local development setup samples tau itself, so every point of the prepared
// file is just k*G for a scalar k we can compute (tau^i, alpha*tau^i,
// beta*tau^i, L_i(tau), ...). Workers (devPtauWorker.ts) compute these with a
// fixed-base windowed method on ffjavascript's bn128 wasm; this module plans the
// work, builds the contribution record (with real proofs of knowledge, so
// `snarkjs powersoftau verify` accepts the file) and writes the file atomically.
//
// INSECURE by construction: whoever runs this knew tau, alpha and beta. Use it
// for development and tests only, never for production proving keys.

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { blake2b } from '@noble/hashes/blake2b';
import { buildBn128, ChaCha } from 'ffjavascript';
import type { FfCurve } from 'ffjavascript';
import {
  SG1,
  SG2,
  contributionSection,
  contributionSectionSize,
  firstChallengeHash,
  getG2sp,
  hashPointSections,
  ptauLayout,
  pubKeyBytes,
  toPartialHash,
  writeSkeleton,
} from './devPtauFormat.js';
import type { PokKey, PtauLayout, PtauPubKey } from './devPtauFormat.js';
import { DevPtauPool } from './devPtauPool.js';
import { removeStaleTemps, tempSibling } from '../util/fs.js';
import type { DevPtauJob, GroupName } from './devPtauWorker.js';

export const DEV_PTAU_CONTRIBUTION_NAME = 'zkinfer local development setup - INSECURE, not for production';
export const DEV_PTAU_MIN_POWER = 1;
/** Tested up to 18; larger powers only cost time, memory and disk (2^22 is ~5 GB). */
export const DEV_PTAU_MAX_POWER = 22;

export interface DevPtauOptions {
  /** Called as work proceeds; stages: "points" (points computed) then "hash". Throwing aborts. */
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Worker threads to use (default: available cores; 1 for tiny powers). */
  workers?: number;
}

/** Points per job: large enough to amortise messaging, small enough to balance the workers. */
function chunkSize(group: GroupName, power: number): number {
  return Math.max(64, Math.min(group === 'G1' ? 8192 : 4096, 2 ** (power - 3)));
}
const G2_COST = 3.6; // a G2 mixed addition costs ~3.6 G1 ones

interface PlannedJob {
  job: DevPtauJob;
  section: number;
  offset: number; // file offset of the job's first point
}

/** Every point of the file, as jobs in file order (sections 2..6 first, so their hashing can follow). */
function planJobs(layout: PtauLayout): PlannedJob[] {
  const power = layout.power;
  const N = 2 ** power;
  const out: PlannedJob[] = [];
  const add = (section: number, firstIndex: number, group: GroupName, spec: Omit<DevPtauJob, 'id' | 'group' | 'start' | 'count'>, count: number) => {
    const sG = group === 'G1' ? SG1 : SG2;
    const base = layout.sections.get(section)!.offset + firstIndex * sG;
    const chunk = chunkSize(group, power);
    for (let start = 0; start < count; start += chunk) {
      const job: DevPtauJob = { id: out.length, group, ...spec, start, count: Math.min(chunk, count - start) };
      out.push({ job, section, offset: base + start * sG });
    }
  };
  const pow = (mult: 0 | 1 | 2) => ({ kind: 'pow' as const, mult, p: 0, trunc: false });
  add(2, 0, 'G1', pow(0), 2 * N - 1);
  add(3, 0, 'G2', pow(0), N);
  add(4, 0, 'G1', pow(1), N);
  add(5, 0, 'G1', pow(2), N);
  add(6, 0, 'G2', pow(2), 1);
  // Lagrange sections: domain 2^p occupies points [2^p - 1, 2^(p+1) - 1).
  const lag = (section: number, group: GroupName, mult: 0 | 1 | 2, maxP: number) => {
    for (let p = 0; p <= maxP; p++) {
      add(section, 2 ** p - 1, group, { kind: 'lag', mult, p, trunc: p === power + 1 }, 2 ** p);
    }
  };
  lag(12, 'G1', 0, power + 1);
  lag(13, 'G2', 0, power);
  lag(14, 'G1', 1, power);
  lag(15, 'G1', 2, power);
  return out;
}

function checkPower(power: number): void {
  if (!Number.isInteger(power) || power < DEV_PTAU_MIN_POWER || power > DEV_PTAU_MAX_POWER) {
    throw new Error(`generateDevPtau: invalid power ${String(power)}: must be an integer from ${DEV_PTAU_MIN_POWER} to ${DEV_PTAU_MAX_POWER}`);
  }
}

/**
 * A uniformly random non-zero field element, 32-byte LE standard form, by
 * rejection sampling of crypto.randomBytes (keeps it in a byte array: no bigint).
 */
function sampleScalar(rLE: Uint8Array): Uint8Array {
  for (;;) {
    const b = randomBytes(32);
    b[31] &= 0x3f; // r < 2^254
    let lt = false;
    for (let i = 31; i >= 0; i--) {
      if (b[i] !== rLE[i]) {
        lt = b[i] < rLE[i];
        break;
      }
    }
    const ok = lt && b.some((x) => x !== 0);
    const out = new Uint8Array(32);
    if (ok) out.set(b);
    b.fill(0);
    if (ok) return out;
  }
}

/** tau | alpha | beta. tau must not be a 2^(power+1)-th root of unity (L_i(tau) would divide by 0). */
function sampleToxic(curve: FfCurve, power: number): Uint8Array {
  const rLE = new Uint8Array(32);
  let r = curve.r;
  for (let i = 0; i < 32; i++, r >>= 8n) rLE[i] = Number(r & 0xffn);
  const Fr = curve.Fr;
  for (;;) {
    const secrets = new Uint8Array(96);
    for (let i = 0; i < 3; i++) {
      const s = sampleScalar(rLE);
      secrets.set(s, 32 * i);
      s.fill(0);
    }
    let x = Fr.fromRprLE(secrets, 0);
    for (let i = 0; i <= power; i++) {
      const y = Fr.square(x);
      x.fill(0);
      x = y;
    }
    const bad = Fr.eq(x, Fr.one);
    x.fill(0);
    if (!bad) return secrets;
    secrets.fill(0);
  }
}

/** Proofs of knowledge of tau, alpha, beta bound to the challenge (snarkjs keypair.createPTauKey). */
function makePubKey(curve: FfCurve, challenge: Uint8Array, secrets: Uint8Array): PtauPubKey {
  const seedBytes = randomBytes(32);
  const seed: number[] = [];
  for (let i = 0; i < 8; i++) seed.push(seedBytes.readUInt32BE(4 * i));
  const rng = new ChaCha(seed);
  const key = (i: number): PokKey => {
    const x = secrets.subarray(32 * i, 32 * i + 32);
    const g1_s = curve.G1.toAffine(curve.G1.fromRng(rng));
    const g1_sx = curve.G1.toAffine(curve.G1.timesScalar(g1_s, x));
    const g2_sp = curve.G2.toAffine(getG2sp(curve, i, challenge, g1_s, g1_sx));
    const g2_spx = curve.G2.toAffine(curve.G2.timesScalar(g2_sp, x));
    return { g1_s, g1_sx, g2_sp, g2_spx };
  };
  return { tau: key(0), alpha: key(1), beta: key(2) };
}

/**
 * Writes a prepared (phase-2 ready) bn128 powers-of-tau file of size 2^power to
 * outFile, with one contribution named DEV_PTAU_CONTRIBUTION_NAME. The file is
 * written to a temporary file next to outFile and renamed into place; on any
 * failure the temporary file is removed and outFile is left untouched, and the
 * temporary file of an earlier run that was killed is removed on the next run.
 */
export async function generateDevPtau(power: number, outFile: string, opts: DevPtauOptions = {}): Promise<{ power: number; seconds: number }> {
  checkPower(power);
  if (opts.workers !== undefined && (!Number.isInteger(opts.workers) || opts.workers < 1 || opts.workers > 64)) {
    throw new Error(`generateDevPtau: invalid workers ${String(opts.workers)}: must be an integer from 1 to 64`);
  }
  const t0 = performance.now();
  const target = resolve(outFile);
  // A killed earlier run left its temp ptau (tens of MB) behind: remove it before writing another.
  await removeStaleTemps(target);
  const tmp = tempSibling(target);
  const progress = opts.onProgress ?? (() => {});

  // Single-threaded ffjavascript curve: small main-thread work only (keys,
  // hashing); the bulk runs in our own workers. Its terminate() is a no-op.
  const curve = await buildBn128(true);
  let secrets: Uint8Array | undefined;
  let fh: FileHandle | undefined;
  let pool: DevPtauPool | undefined;
  try {
    const layout = ptauLayout(power, contributionSectionSize(DEV_PTAU_CONTRIBUTION_NAME));
    const plan = planJobs(layout);
    const challenge = firstChallengeHash(curve, power);

    // ---- toxic waste: lives in `secrets` (zeroed below) and in the workers' wasm
    // memory (zeroed by pool.close()). Not zeroable: copies ffjavascript makes
    // inside its own wasm memory and JS heap (Fr.fromRprLE/timesScalar temporaries),
    // the structured-clone buffers of postMessage, and the OS RNG/Buffer internals.
    secrets = sampleToxic(curve, power);
    const key = makePubKey(curve, challenge, secrets);

    fh = await open(tmp, 'wx+'); // read back for hashing
    await writeSkeleton(fh, layout, curve);

    const totals: Record<GroupName, number> = { G1: 0, G2: 0 };
    for (const { job } of plan) totals[job.group] += job.count;
    const weighted = totals.G1 + G2_COST * totals.G2;
    const cores = Math.max(1, Math.min(16, availableParallelism()));
    const nWorkers = opts.workers ?? (weighted < 20000 ? 1 : cores);
    const module = await WebAssembly.compile(curve.tm.code);
    const roots = new Uint8Array((power + 2) * 32);
    for (let p = 0; p <= power + 1; p++) roots.set(curve.Fr.w[p], 32 * p);
    pool = await DevPtauPool.start(
      nWorkers,
      {
        module,
        pG1gen: curve.tm.pG1gen,
        pG2gen: curve.tm.pG2gen,
        roots,
        expectedPoints: { G1: Math.ceil(totals.G1 / nWorkers), G2: Math.ceil(totals.G2 / nWorkers) },
      },
      secrets,
    );
    secrets.fill(0);
    secrets = undefined;

    // ---- all points
    const special = new Map<string, Uint8Array>(); // points the contribution record repeats
    const offsets = new Map(plan.map((p) => [p.job.id, p]));
    const totalPoints = totals.G1 + totals.G2;
    let donePoints = 0;
    const file = fh;
    await pool.run(
      plan.map((p) => p.job),
      async (job, points) => {
        const { offset, section } = offsets.get(job.id)!;
        await file.write(points, 0, points.length, offset);
        if (job.kind === 'pow' && job.start === 0) {
          const sG = job.group === 'G1' ? SG1 : SG2;
          special.set(`${section}:0`, points.slice(0, sG));
          if (job.count > 1) special.set(`${section}:1`, points.slice(sG, 2 * sG));
        }
        donePoints += job.count;
        progress('points', donePoints, totalPoints);
      },
    );
    await pool.close();
    pool = undefined;

    // ---- contribution record: response hash over compressed points, then the
    // next-challenge hash over uncompressed points (snarkjs contribute/verify).
    const hashTotal = 2 * 5 * 2 ** power; // sections 2..6 hold 5N points, hashed twice
    let hashed = 0;
    const onChunk = (n: number) => progress('hash', (hashed += n), hashTotal);
    const response = blake2b.create({ dkLen: 64 });
    response.update(challenge);
    await hashPointSections(fh, layout, curve, response, 'compressed', onChunk);
    const partialHash = toPartialHash(response);
    response.update(pubKeyBytes(curve, key, false));
    const next = blake2b.create({ dkLen: 64 });
    next.update(response.digest());
    await hashPointSections(fh, layout, curve, next, 'uncompressed', onChunk);

    const section7 = contributionSection(curve, {
      tauG1: special.get('2:1')!,
      tauG2: special.get('3:1')!,
      alphaG1: special.get('4:0')!,
      betaG1: special.get('5:0')!,
      betaG2: special.get('6:0')!,
      key,
      partialHash,
      nextChallenge: next.digest(),
      name: DEV_PTAU_CONTRIBUTION_NAME,
    });
    await fh.write(section7, 0, section7.length, layout.sections.get(7)!.offset);
    const { size } = await fh.stat();
    if (size !== layout.fileSize) throw new Error(`internal: wrote ${size} bytes, expected ${layout.fileSize}`);
    await fh.datasync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
    return { power, seconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    await pool?.terminate().catch(() => {});
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  } finally {
    secrets?.fill(0);
    await curve.terminate();
  }
}
