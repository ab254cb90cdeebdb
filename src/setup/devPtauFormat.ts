// Binary layout and hashes of a snarkjs "prepared" powers-of-tau file, mirroring
// node_modules/snarkjs/src/powersoftau_{new,contribute,utils,preparephase2}.js
// and @iden3/binfileutils, so that snarkjs reads (and verifies) what we write.
//
// File:    "ptau" | u32 version=1 | u32 nSections | sections...
// Section: u32 id | u64 byteLength | content
// Points are affine, x|y each 32-byte little-endian Montgomery ("LEM").

import type { FileHandle } from 'node:fs/promises';
import { blake2b } from '@noble/hashes/blake2b';
import { ChaCha } from 'ffjavascript';
import type { FfCurve, FfElement } from 'ffjavascript';

export const SG1 = 64; // affine G1, LEM
export const SG2 = 128; // affine G2, LEM
const N8 = 32;
const PUBKEY_BYTES = 6 * SG1 + 3 * SG2;
const PARTIAL_HASH_BYTES = 216;

export interface SectionSpec {
  id: number;
  offset: number; // of the content (after the 12-byte section header)
  size: number;
}

export interface PtauLayout {
  power: number;
  /** By section id. */
  sections: Map<number, SectionSpec>;
  fileSize: number;
}

/** Section order and sizes exactly as `snarkjs powersoftau prepare phase2` writes them. */
export function ptauLayout(power: number, contributionSize: number): PtauLayout {
  const N = 2 ** power;
  const sizes: Array<[number, number]> = [
    [1, 4 + N8 + 4 + 4], // n8, q, power, ceremonyPower
    [2, (2 * N - 1) * SG1], // tau^i G1, i < 2N-1
    [3, N * SG2], // tau^i G2
    [4, N * SG1], // alpha tau^i G1
    [5, N * SG1], // beta tau^i G1
    [6, SG2], // beta G2
    [7, contributionSize],
    [12, (4 * N - 1) * SG1], // Lagrange tau G1 for domains 2^0..2^(power+1)
    [13, (2 * N - 1) * SG2], // Lagrange tau G2 for domains 2^0..2^power
    [14, (2 * N - 1) * SG1], // Lagrange alpha tau G1
    [15, (2 * N - 1) * SG1], // Lagrange beta tau G1
  ];
  const sections = new Map<number, SectionSpec>();
  let pos = 12; // magic + version + nSections
  for (const [id, size] of sizes) {
    sections.set(id, { id, offset: pos + 12, size });
    pos += 12 + size;
  }
  return { power, sections, fileSize: pos };
}

/** Writes the file header, every section header, and the header section (1). */
export async function writeSkeleton(fh: FileHandle, layout: PtauLayout, curve: FfCurve): Promise<void> {
  const head = Buffer.alloc(12);
  head.write('ptau', 0, 'latin1');
  head.writeUInt32LE(1, 4);
  head.writeUInt32LE(layout.sections.size, 8);
  await fh.write(head, 0, 12, 0);
  for (const s of layout.sections.values()) {
    const h = Buffer.alloc(12);
    h.writeUInt32LE(s.id, 0);
    h.writeBigUInt64LE(BigInt(s.size), 4);
    await fh.write(h, 0, 12, s.offset - 12);
  }
  const h1 = Buffer.alloc(layout.sections.get(1)!.size);
  h1.writeUInt32LE(N8, 0);
  let q = curve.q;
  for (let i = 0; i < N8; i++, q >>= 8n) h1[4 + i] = Number(q & 0xffn);
  h1.writeUInt32LE(layout.power, 4 + N8);
  h1.writeUInt32LE(layout.power, 8 + N8); // ceremonyPower == power (not a reduced file)
  await fh.write(h1, 0, h1.length, layout.sections.get(1)!.offset);
}

export type Blake2b = ReturnType<typeof blake2b.create>;

function blake(): Blake2b {
  return blake2b.create({ dkLen: 64 });
}

/** snarkjs calculateFirstChallengeHash: the hash of a fresh accumulator (all generators). */
export function firstChallengeHash(curve: FfCurve, power: number): Uint8Array {
  const N = 2 ** power;
  const h = blake();
  h.update(blake().digest());
  const hashRepeated = (G: FfCurve['G1'], n: number) => {
    const one = new Uint8Array(G.F.n8 * 2);
    G.toRprUncompressed(one, 0, G.g);
    const rep = Math.min(n, 4096);
    const block = new Uint8Array(rep * one.length);
    for (let i = 0; i < rep; i++) block.set(one, i * one.length);
    for (let done = 0; done < n; done += rep) {
      const k = Math.min(rep, n - done);
      h.update(k === rep ? block : block.subarray(0, k * one.length));
    }
  };
  hashRepeated(curve.G1, 2 * N - 1);
  hashRepeated(curve.G2, N);
  hashRepeated(curve.G1, N);
  hashRepeated(curve.G1, N);
  hashRepeated(curve.G2, 1);
  return h.digest();
}

/** snarkjs misc.toPartialHash: blake2b internal state (noble-hashes internals, as snarkjs does). */
export function toPartialHash(hash: Blake2b): Uint8Array {
  const st = hash as unknown as Record<string, number> & { buffer: Uint8Array };
  const res = new Uint8Array(PARTIAL_HASH_BYTES);
  const res32 = new Uint32Array(res.buffer, 128, 22);
  res.set(st.buffer);
  const names = ['v0l', 'v0h', 'v1l', 'v1h', 'v2l', 'v2h', 'v3l', 'v3h', 'v4l', 'v4h', 'v5l', 'v5h', 'v6l', 'v6h', 'v7l', 'v7h'];
  names.forEach((n, i) => (res32[i] = st[n]));
  res32[18] = st.pos;
  res32[16] = st.length - st.pos;
  return res;
}

/** Per key (tau, alpha, beta): proof of knowledge of the secret x. */
export interface PokKey {
  g1_s: FfElement;
  g1_sx: FfElement;
  g2_sp: FfElement;
  g2_spx: FfElement;
}
export interface PtauPubKey {
  tau: PokKey;
  alpha: PokKey;
  beta: PokKey;
}

/** snarkjs toPtauPubKeyRpr: uncompressed (hashing) or LEM (file) encoding. */
export function pubKeyBytes(curve: FfCurve, key: PtauPubKey, montgomery: boolean): Uint8Array {
  const out = new Uint8Array(PUBKEY_BYTES);
  let pos = 0;
  const put = (G: FfCurve['G1'], p: FfElement, size: number) => {
    if (montgomery) G.toRprLEM(out, pos, p);
    else G.toRprUncompressed(out, pos, p);
    pos += size;
  };
  for (const k of [key.tau, key.alpha, key.beta]) {
    put(curve.G1, k.g1_s, SG1);
    put(curve.G1, k.g1_sx, SG1);
  }
  for (const k of [key.tau, key.alpha, key.beta]) put(curve.G2, k.g2_spx, SG2);
  return out;
}

/** snarkjs keypair.getG2sp: the G2 point the proof of knowledge is bound to. */
export function getG2sp(curve: FfCurve, personalization: number, challenge: Uint8Array, g1s: FfElement, g1sx: FfElement): FfElement {
  const h = blake();
  h.update(new Uint8Array([personalization]));
  h.update(challenge);
  h.update(curve.G1.toUncompressed(g1s));
  h.update(curve.G1.toUncompressed(g1sx));
  const hash = h.digest();
  const v = new DataView(hash.buffer, hash.byteOffset, hash.byteLength);
  const seed: number[] = [];
  for (let i = 0; i < 8; i++) seed.push(v.getUint32(i * 4)); // big-endian, as snarkjs
  return curve.G2.fromRng(new ChaCha(seed));
}

export interface ContributionRecord {
  /** LEM bytes of tau*G1, tau*G2, alpha*G1, beta*G1, beta*G2 */
  tauG1: Uint8Array;
  tauG2: Uint8Array;
  alphaG1: Uint8Array;
  betaG1: Uint8Array;
  betaG2: Uint8Array;
  key: PtauPubKey;
  partialHash: Uint8Array;
  nextChallenge: Uint8Array;
  name: string;
}

export function contributionSectionSize(name: string): number {
  const nameLen = new TextEncoder().encode(name).length;
  if (nameLen > 64) throw new Error('contribution name longer than 64 bytes (snarkjs truncates it)');
  return 4 + 3 * SG1 + 2 * SG2 + PUBKEY_BYTES + PARTIAL_HASH_BYTES + 64 + 4 + 4 + 2 + nameLen;
}

/** Section 7 content with one contribution (snarkjs writeContributions / writeContribution). */
export function contributionSection(curve: FfCurve, c: ContributionRecord): Uint8Array {
  const name = new TextEncoder().encode(c.name);
  const out = Buffer.alloc(contributionSectionSize(c.name));
  let pos = 0;
  const put = (b: Uint8Array) => {
    out.set(b, pos);
    pos += b.length;
  };
  pos = out.writeUInt32LE(1, pos); // one contribution
  for (const b of [c.tauG1, c.tauG2, c.alphaG1, c.betaG1, c.betaG2]) put(b);
  put(pubKeyBytes(curve, c.key, true));
  put(c.partialHash);
  put(c.nextChallenge);
  pos = out.writeUInt32LE(0, pos); // type 0: ordinary contribution (not a beacon)
  pos = out.writeUInt32LE(2 + name.length, pos); // params length
  put(new Uint8Array([1, name.length])); // param 1: name
  put(name);
  if (pos !== out.length) throw new Error('internal: contribution section size mismatch');
  return out;
}

/**
 * Feeds sections 2..6 (in file order) to `hasher`, converted like snarkjs does:
 * compressed for the response hash, uncompressed for the next challenge hash.
 */
export async function hashPointSections(
  fh: FileHandle,
  layout: PtauLayout,
  curve: FfCurve,
  hasher: Blake2b,
  form: 'compressed' | 'uncompressed',
  onChunk?: (points: number) => void,
): Promise<void> {
  const CHUNK = 1 << 15;
  for (const id of [2, 3, 4, 5, 6]) {
    const s = layout.sections.get(id)!;
    const G = id === 3 || id === 6 ? curve.G2 : curve.G1;
    const sG = id === 3 || id === 6 ? SG2 : SG1;
    const n = s.size / sG;
    for (let i = 0; i < n; i += CHUNK) {
      const k = Math.min(CHUNK, n - i);
      const buf = new Uint8Array(k * sG);
      const { bytesRead } = await fh.read(buf, 0, buf.length, s.offset + i * sG);
      if (bytesRead !== buf.length) throw new Error(`short read in section ${id}`);
      hasher.update(form === 'compressed' ? await G.batchLEMtoC(buf) : await G.batchLEMtoU(buf));
      onChunk?.(k);
    }
  }
}
