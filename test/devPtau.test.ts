import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as snarkjs from 'snarkjs';
import { buildBn128 } from 'ffjavascript';
import type { FfCurve, FfElement } from 'ffjavascript';
import { DEV_PTAU_CONTRIBUTION_NAME, generateDevPtau } from '../src/setup/devPtau.js';

const POWER = 7;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
let dir: string;
let ptau: string;
let curve: FfCurve;

/** Sections of a binfile ("ptau"/"zkey" container): id -> content bytes. */
function readSections(file: string): Map<number, Buffer> {
  const b = readFileSync(file);
  expect(b.subarray(0, 4).toString('latin1')).toBe('ptau');
  const out = new Map<number, Buffer>();
  let pos = 12;
  for (let i = 0; i < b.readUInt32LE(8); i++) {
    const size = Number(b.readBigUInt64LE(pos + 4));
    out.set(b.readUInt32LE(pos), b.subarray(pos + 12, pos + 12 + size));
    pos += 12 + size;
  }
  expect(pos).toBe(b.length);
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zkinfer-devptau-'));
  ptau = join(dir, `dev${POWER}.ptau`);
  const stages = new Set<string>();
  // Two workers and (at this power) several jobs per section: exercises job
  // boundaries and the multi-worker path that large powers use.
  const res = await generateDevPtau(POWER, ptau, { workers: 2, onProgress: (s) => stages.add(s) });
  expect(res.power).toBe(POWER);
  expect(res.seconds).toBeGreaterThan(0);
  expect([...stages]).toEqual(['points', 'hash']);
  curve = await buildBn128(true);
}, 60_000);

afterAll(async () => {
  await curve?.terminate();
  // snarkjs caches a multi-threaded bn128 curve; stop its workers.
  await (await buildBn128()).terminate();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('generateDevPtau', () => {
  it('produces a file that snarkjs powersoftau verify accepts, with the dev contribution name', async () => {
    const info: string[] = [];
    const ok = await snarkjs.powersOfTau.verify(ptau, { ...silent, info: (m: string) => info.push(m) });
    expect(ok).toBe(true);
    expect(info).toContain(`Contribution #1: ${DEV_PTAU_CONTRIBUTION_NAME}`);
  }, 30_000);

  it('works for the smallest power (1)', async () => {
    const f = join(dir, 'dev1.ptau');
    await generateDevPtau(1, f);
    expect(await snarkjs.powersOfTau.verify(f, silent)).toBe(true);
  }, 30_000);

  it('snarkjs verify rejects the file once a point is tampered with (the check can fail)', async () => {
    const b = readFileSync(ptau);
    const s = readSections(ptau);
    const tauG1 = s.get(2)!;
    // Replace tau^3*G1 by tau^2*G1 (still a valid curve point).
    const off = tauG1.byteOffset + 3 * 64;
    const bad = Buffer.from(b);
    bad.set(tauG1.subarray(2 * 64, 3 * 64), off);
    const f = join(dir, 'tampered.ptau');
    writeFileSync(f, bad);
    expect(await snarkjs.powersOfTau.verify(f, silent)).toBe(false);
  }, 30_000);

  it('Lagrange sections are byte-identical to snarkjs preparePhase2 of the same accumulator', async () => {
    // Keep sections 1..7 (the phase-1 accumulator) and let snarkjs prepare it.
    const b = readFileSync(ptau);
    const parts: Buffer[] = [];
    let pos = 12;
    for (let i = 0; i < 7; i++) {
      const size = Number(b.readBigUInt64LE(pos + 4));
      parts.push(b.subarray(pos, pos + 12 + size));
      pos += 12 + size;
    }
    const head = Buffer.alloc(12);
    head.write('ptau', 'latin1');
    head.writeUInt32LE(1, 4);
    head.writeUInt32LE(7, 8);
    const phase1 = join(dir, 'phase1.ptau');
    const reprepared = join(dir, 'reprepared.ptau');
    writeFileSync(phase1, Buffer.concat([head, ...parts]));
    await snarkjs.powersOfTau.preparePhase2(phase1, reprepared, silent);
    const ours = readSections(ptau);
    const theirs = readSections(reprepared);
    for (const id of [12, 13, 14, 15]) {
      expect(ours.get(id)!.length).toBeGreaterThan(0);
      expect(ours.get(id)!.equals(theirs.get(id)!), `section ${id}`).toBe(true);
    }
    expect(readFileSync(reprepared).equals(b)).toBe(true);
  }, 30_000);

  it('satisfies the pairing relations between sections', async () => {
    const s = readSections(ptau);
    const G1 = curve.G1;
    const G2 = curve.G2;
    const g1 = (sec: number, i: number) => G1.fromRprLEM(s.get(sec)!, 64 * i);
    const g2 = (sec: number, i: number) => G2.fromRprLEM(s.get(sec)!, 128 * i);
    // As snarkjs misc.sameRatio: g1sx/g1s == g2sx/g2s, i.e. e(g1s, g2sx) == e(g1sx, g2s).
    const sameRatio = (g1s: FfElement, g1sx: FfElement, g2s: FfElement, g2sx: FfElement) => curve.pairingEq(g1s, g2sx, G1.neg(g1sx), g2s);
    const tauG2 = g2(3, 1);
    const N = 2 ** POWER;
    expect(G1.eq(g1(2, 0), G1.g)).toBe(true);
    expect(G2.eq(g2(3, 0), G2.g)).toBe(true);
    for (const i of [1, 2, 5, N - 1, 2 * N - 2]) {
      // e(tau^i G1, G2) == e(tau^(i-1) G1, tau G2)
      expect(await sameRatio(g1(2, i - 1), g1(2, i), G2.g, tauG2)).toBe(true);
    }
    for (const i of [1, 3, N - 1]) {
      expect(await sameRatio(g1(4, i - 1), g1(4, i), G2.g, tauG2)).toBe(true); // alpha tau^i
      expect(await sameRatio(g1(5, i - 1), g1(5, i), G2.g, tauG2)).toBe(true); // beta tau^i
      expect(await sameRatio(G1.g, g1(2, i), G2.g, g2(3, i))).toBe(true); // tau^i G1 vs tau^i G2
    }
    expect(await sameRatio(G1.g, g1(5, 0), G2.g, g2(6, 0))).toBe(true); // beta G1 vs beta G2
    // Negative control: a wrong index must break the relation.
    expect(await sameRatio(g1(2, 3), g1(2, 5), G2.g, tauG2)).toBe(false);
    expect(await sameRatio(g1(4, 0), g1(5, 0), G2.g, tauG2)).toBe(false);

    // Lagrange polynomials of a domain sum to 1: sum_i L_i(tau)*P == P.
    const sumSection = (sec: number, p: number, G: typeof G1, sG: number) => {
      let acc = G.zero;
      for (let i = 2 ** p - 1; i < 2 ** (p + 1) - 1; i++) acc = G.add(acc, G.fromRprLEM(s.get(sec)!, sG * i));
      return acc;
    };
    for (const p of [0, 1, 4, POWER]) {
      expect(G1.eq(sumSection(12, p, G1, 64), G1.g)).toBe(true);
      expect(G2.eq(sumSection(13, p, G2, 128), G2.g)).toBe(true);
      expect(G1.eq(sumSection(14, p, G1, 64), g1(4, 0))).toBe(true); // alpha G1
      expect(G1.eq(sumSection(15, p, G1, 64), g1(5, 0))).toBe(true); // beta G1
    }
    expect(G1.eq(sumSection(12, POWER + 1, G1, 64), G1.g)).toBe(true);
    expect(G1.eq(sumSection(12, 3, G1, 64), g1(2, 1))).toBe(false); // negative control
    // L_0 on the domain of size 2: (1 + tau)/2, so 2*L_0 - G1 == tau G1.
    const l0 = G1.fromRprLEM(s.get(12)!, 64 * 1);
    expect(G1.eq(G1.add(G1.add(l0, l0), G1.neg(G1.g)), g1(2, 1))).toBe(true);
  }, 30_000);

  it('supports a Groth16 round trip with a circom circuit', async () => {
    const cdir = join(dir, 'circuit');
    mkdirSync(cdir, { recursive: true });
    const src = join(cdir, 'mult.circom');
    writeFileSync(
      src,
      `pragma circom 2.0.0;
template Multiplier() {
  signal input a;
  signal input b;
  signal output c;
  c <== a * b;
}
component main {public [a]} = Multiplier();
`,
    );
    const root = fileURLToPath(new URL('..', import.meta.url));
    execFileSync(process.execPath, [join(root, 'node_modules/circom2/cli.js'), src, '--r1cs', '--wasm', '--sym', '-o', cdir, '-l', join(root, 'node_modules')], { stdio: 'pipe' });
    // The circuit's domain is 2^2: with the power-7 file snarkjs reads a full
    // Lagrange domain; with a power-2 file (domain == power) it reads the extra
    // 2^(power+1) domain for the H query.
    const ptau2 = join(dir, 'dev2.ptau');
    await generateDevPtau(2, ptau2);
    for (const [label, file] of [
      ['power 7', ptau],
      ['power 2', ptau2],
    ]) {
      const zkey0 = join(cdir, 'mult_0.zkey');
      const zkey1 = join(cdir, 'mult_1.zkey');
      const r = await snarkjs.zKey.newZKey(join(cdir, 'mult.r1cs'), file, zkey0, silent);
      expect(r, `${label}: newZKey`).toBeInstanceOf(Uint8Array); // -1 on error
      await snarkjs.zKey.contribute(zkey0, zkey1, 'test', 'some entropy', silent);
      const vkey = await snarkjs.zKey.exportVerificationKey(zkey1, silent);
      const { proof, publicSignals } = await snarkjs.groth16.fullProve({ a: 3, b: 11 }, join(cdir, 'mult_js', 'mult.wasm'), zkey1, silent);
      expect(publicSignals).toEqual(['33', '3']);
      expect(await snarkjs.groth16.verify(vkey, publicSignals, proof, silent), label).toBe(true);
      expect(await snarkjs.groth16.verify(vkey, ['34', '3'], proof, silent), label).toBe(false);
      expect(await snarkjs.groth16.verify(vkey, ['33', '4'], proof, silent), label).toBe(false);
    }
  }, 60_000);

  it('rejects bad powers with an error naming the value, creating nothing', async () => {
    const f = join(dir, 'bad.ptau');
    for (const p of [0, -3, 1.5, 23, Number.NaN]) {
      await expect(generateDevPtau(p, f)).rejects.toThrow(`invalid power ${String(p)}`);
    }
    expect(existsSync(f)).toBe(false);
  });

  it('leaves no file (and no temp file) at outFile when aborted', async () => {
    const adir = mkdtempSync(join(dir, 'abort-'));
    const f = join(adir, 'aborted.ptau');
    for (const stage of ['points', 'hash']) {
      const err = new Error(`abort during ${stage}`);
      let seen = 0;
      const onProgress = (s: string) => {
        if (s === stage && ++seen === 2) throw err;
      };
      await expect(generateDevPtau(6, f, { onProgress })).rejects.toBe(err);
      expect(seen).toBe(2);
      expect(readdirSync(adir)).toEqual([]);
    }
    // An existing file is left untouched by a failed run.
    writeFileSync(f, 'previous');
    const onProgress = () => {
      throw new Error('stop');
    };
    await expect(generateDevPtau(6, f, { onProgress })).rejects.toThrow('stop');
    expect(readFileSync(f, 'utf8')).toBe('previous');
    expect(readdirSync(adir)).toEqual(['aborted.ptau']);
    // Unwritable destination directory.
    await expect(generateDevPtau(6, join(adir, 'missing', 'x.ptau'))).rejects.toThrow();
    expect(readdirSync(adir)).toEqual(['aborted.ptau']);
  }, 30_000);
});
