// Worker thread for generateDevPtau (see devPtau.ts).
//
// Because a development setup knows tau/alpha/beta, every point of the ptau file
// is k*G for a scalar k it can compute directly. Here we do that with a
// fixed-base windowed method on ffjavascript's bn128 wasm: for window width w we
// precompute T[j][d] = d * 2^(w*j) * G (affine), so k*G is ~254/w mixed
// additions instead of a ~254-doubling generic multiplication (and instead of
// the group FFTs that `snarkjs powersoftau prepare phase2` needs).
//
// We instantiate our own copy of the curve's wasm module (own memory) so we can
// call its exported functions directly with pointers. Toxic-derived data (tau,
// alpha, beta, per-point scalars) lives only in that memory: the init buffer is
// zeroed once loaded, each job's scratch is zeroed after the job, and the whole
// memory is zeroed on "wipe".
//
// This file deliberately does not import ffjavascript: its thread pool (the
// "web-worker" package) hijacks any worker_threads Worker that imports it. The
// main thread sends the compiled wasm module and the public constants instead.

import { parentPort } from 'node:worker_threads';

export type GroupName = 'G1' | 'G2';

/** A contiguous run of output points. */
export interface DevPtauJob {
  id: number;
  group: GroupName;
  /** "pow": mult * tau^(start+i); "lag": mult * L_i(tau) on the domain of size 2^p. */
  kind: 'pow' | 'lag';
  /** 0: 1, 1: alpha, 2: beta */
  mult: 0 | 1 | 2;
  p: number;
  /** snarkjs's extra domain 2^(power+1) is built from tau^0..tau^(M-2) only (tau^(M-1) set to 0). */
  trunc: boolean;
  start: number;
  count: number;
}

export interface WorkerInit {
  type: 'init';
  /** ffjavascript's compiled bn128 wasm (WebAssembly.Module is cloneable). */
  module: WebAssembly.Module;
  /** Addresses of the G1/G2 generators (Jacobian, Montgomery) in that module's data. */
  pG1gen: number;
  pG2gen: number;
  /** Fr.w[0..maxP], Montgomery form, 32 bytes each (ffjavascript's FFT roots). */
  roots: Uint8Array;
  /** tau | alpha | beta, 32-byte LE standard form each. Zeroed after loading. */
  secrets: Uint8Array;
  /** Points this worker will roughly compute per group (to size the tables). */
  expectedPoints: Record<GroupName, number>;
}

/** `close`: end the thread once the earlier messages are handled (src/util/moduleWorker.ts endModuleWorker). */
export type WorkerRequest = WorkerInit | { type: 'job'; job: DevPtauJob } | { type: 'wipe' } | { type: 'close' };

export type WorkerResponse = { type: 'ready' } | { type: 'result'; id: number; points: Uint8Array } | { type: 'wiped' } | { type: 'error'; message: string };

type WasmFn = (...args: number[]) => number;

const N8 = 32;
const SCALAR_BITS = 254; // bn128 r < 2^254

interface GroupInfo {
  prefix: 'g1m' | 'g2m';
  sA: number; // affine point size (LEM)
  sJ: number; // jacobian point size
  pGen: number;
  maxW: number; // caps table memory: G1 w=16 ~67 MB, G2 w=15 ~71 MB
}

interface Table {
  w: number;
  k: number; // number of windows
  perWin: number; // 2^w - 1 entries per window
  base: number; // pointer to the affine table
}

/** Window width minimising (table cost) + (per-point additions) for n points. */
export function chooseWindow(n: number, maxW: number): number {
  let best = 1;
  let bestCost = Infinity;
  for (let w = 1; w <= maxW; w++) {
    const k = Math.ceil(SCALAR_BITS / w);
    // table entry ~ 1 mixed add + ~0.5 for the batch affine conversion
    const cost = k * 2 ** w * 1.5 + n * (k - 1);
    if (cost < bestCost) {
      bestCost = cost;
      best = w;
    }
  }
  return best;
}

class DevPtauEngine {
  private memory: WebAssembly.Memory;
  private u8: Uint8Array;
  private u32: Uint32Array;
  private readonly ex: Record<string, WasmFn>;
  private readonly groups: Record<GroupName, GroupInfo>;
  private readonly tables: Partial<Record<GroupName, Table>> = {};
  private readonly pTau: number;
  private readonly pMult: [number, number, number];
  private highWater = 0;

  private readonly pRoots: number;
  private readonly expectedPoints: Record<GroupName, number>;

  private constructor(instance: WebAssembly.Instance, memory: WebAssembly.Memory, init: WorkerInit) {
    const secrets = init.secrets;
    this.expectedPoints = init.expectedPoints;
    this.memory = memory;
    this.u8 = new Uint8Array(memory.buffer);
    this.u32 = new Uint32Array(memory.buffer);
    this.ex = instance.exports as unknown as Record<string, WasmFn>;
    this.groups = {
      G1: { prefix: 'g1m', sA: 2 * N8, sJ: 3 * N8, pGen: init.pG1gen, maxW: 16 },
      G2: { prefix: 'g2m', sA: 4 * N8, sJ: 6 * N8, pGen: init.pG2gen, maxW: 15 },
    };
    // secrets = tau | alpha | beta, 32-byte LE standard form -> Montgomery in wasm.
    const p = this.alloc(4 * N8);
    this.u8.set(secrets.subarray(0, 3 * N8), p);
    secrets.fill(0);
    for (let i = 0; i < 3; i++) this.ex.frm_toMontgomery(p + i * N8, p + i * N8);
    this.ex.frm_one(p + 3 * N8);
    this.pTau = p;
    this.pMult = [p + 3 * N8, p + N8, p + 2 * N8];
    this.pRoots = this.alloc(init.roots.length);
    this.u8.set(init.roots, this.pRoots);
  }

  static async create(init: WorkerInit): Promise<DevPtauEngine> {
    // A fresh memory: the module's data segments put the constants (generators,
    // field moduli, free pointer at address 0) in place.
    const memory = new WebAssembly.Memory({ initial: 512 });
    const instance = await WebAssembly.instantiate(init.module, { env: { memory } });
    return new DevPtauEngine(instance, memory, init);
  }

  /** Bump allocator on the wasm free pointer (address 0), as ffjavascript does. */
  private alloc(n: number): number {
    while (this.u32[0] & 3) this.u32[0]++;
    const res = this.u32[0];
    this.u32[0] = res + n;
    this.ensure(res + n);
    return res;
  }

  /** Grow memory so that [0, end + slack) is valid; wasm batch ops use scratch past the free pointer. */
  private ensure(end: number, slack = 1 << 20): void {
    const need = end + slack;
    this.highWater = Math.max(this.highWater, need);
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      this.memory.grow(Math.ceil((need - have) / 65536));
      this.u8 = new Uint8Array(this.memory.buffer);
      this.u32 = new Uint32Array(this.memory.buffer);
    }
  }

  private fn(g: GroupInfo, name: string): WasmFn {
    return this.ex[`${g.prefix}_${name}`];
  }

  private table(group: GroupName): Table {
    const cached = this.tables[group];
    if (cached) return cached;
    const g = this.groups[group];
    const w = chooseWindow(this.expectedPoints[group], g.maxW);
    const k = Math.ceil(SCALAR_BITS / w);
    const perWin = 2 ** w - 1;
    const base = this.alloc(k * perWin * g.sA);
    const pB = this.alloc(g.sA); // current window base 2^(w*j) G, affine
    const mark = this.u32[0];
    const jac = this.alloc(perWin * g.sJ);
    const tmp = this.alloc(g.sJ);
    this.ensure(this.u32[0], perWin * g.sJ + (1 << 20));
    const addMixed = this.fn(g, 'addMixed');
    this.fn(g, 'toAffine')(g.pGen, pB);
    for (let j = 0; j < k; j++) {
      this.fn(g, 'toJacobian')(pB, jac);
      for (let d = 1; d < perWin; d++) addMixed(jac + (d - 1) * g.sJ, pB, jac + d * g.sJ);
      this.fn(g, 'batchToAffine')(jac, perWin, base + j * perWin * g.sA);
      addMixed(jac + (perWin - 1) * g.sJ, pB, tmp); // 2^w * B
      this.fn(g, 'toAffine')(tmp, pB);
    }
    this.u32[0] = mark;
    const t: Table = { w, k, perWin, base };
    this.tables[group] = t;
    return t;
  }

  /** Montgomery-form scalars of a job into pS (count * 32 bytes). */
  private scalars(job: DevPtauJob, pS: number): void {
    const ex = this.ex;
    const n = job.count;
    const pTau = this.pTau;
    const pM = this.pMult[job.mult];
    const pE = this.alloc(N8); // small integers (exponents, M), LE
    const pTmp = this.alloc(4 * N8);
    const setExp = (e: number) => {
      this.u8.fill(0, pE, pE + N8);
      new DataView(this.memory.buffer).setUint32(pE, e, true);
    };
    if (job.kind === 'pow') {
      setExp(job.start);
      ex.frm_exp(pTau, pE, 4, pTmp); // tau^start
      ex.frm_mul(pTmp, pM, pS);
      for (let i = 1; i < n; i++) ex.frm_mul(pS + (i - 1) * N8, pTau, pS + i * N8);
      return;
    }
    // L_i(tau) = (tau^M - 1)/M * w^i / (tau - w^i) on the domain {w^i} of size M = 2^p,
    // with w = Fr.w[p], the root ffjavascript's (i)fft uses.
    const M = 2 ** job.p;
    const pW = this.pRoots + job.p * N8;
    const pOm = pTmp,
      pC = pTmp + N8,
      pX = pTmp + 2 * N8,
      pInvM = pTmp + 3 * N8;
    setExp(job.start);
    ex.frm_exp(pW, pE, 4, pOm); // w^start
    setExp(M);
    ex.frm_toMontgomery(pE, pX);
    ex.frm_inverse(pX, pInvM); // 1/M
    ex.frm_exp(pTau, pE, 4, pC);
    ex.frm_sub(pC, this.pMult[0], pC);
    ex.frm_mul(pC, pInvM, pC);
    ex.frm_mul(pC, pM, pC); // c = mult * (tau^M - 1) / M
    const pD = this.alloc(n * N8);
    const pO = this.alloc(n * N8);
    for (let i = 0; i < n; i++) {
      ex.frm_copy(pOm, pO + i * N8);
      ex.frm_sub(pTau, pOm, pD + i * N8);
      ex.frm_mul(pOm, pW, pOm);
    }
    this.ensure(this.u32[0], 2 * n * N8 + (1 << 20));
    ex.frm_batchInverse(pD, N8, n, pS, N8);
    for (let i = 0; i < n; i++) {
      ex.frm_mul(pS + i * N8, pO + i * N8, pS + i * N8);
      ex.frm_mul(pS + i * N8, pC, pS + i * N8);
    }
    if (job.trunc) {
      // ifft of (tau^0..tau^(M-2), 0): subtract mult * w^(-i(M-1)) tau^(M-1) / M = mult * w^i tau^(M-1) / M
      setExp(M - 1);
      ex.frm_exp(pTau, pE, 4, pX);
      ex.frm_mul(pX, pInvM, pX);
      ex.frm_mul(pX, pM, pX);
      for (let i = 0; i < n; i++) {
        ex.frm_mul(pO + i * N8, pX, pD + i * N8);
        ex.frm_sub(pS + i * N8, pD + i * N8, pS + i * N8);
      }
    }
  }

  /** Returns the job's points as affine LEM bytes (the ptau on-disk format). */
  run(job: DevPtauJob): Uint8Array {
    const g = this.groups[job.group];
    const t = this.table(job.group);
    const mark = this.u32[0];
    const n = job.count;
    const pS = this.alloc(n * N8);
    this.scalars(job, pS);
    this.ex.frm_batchFromMontgomery(pS, n, pS); // digits need the standard form
    const pJ = this.alloc(n * g.sJ);
    const pOut = this.alloc(n * g.sA);
    this.ensure(this.u32[0], n * g.sJ + (1 << 20));
    const u8 = this.u8;
    const addMixed = this.fn(g, 'addMixed');
    const toJacobian = this.fn(g, 'toJacobian');
    const zero = this.fn(g, 'zero');
    const { w, k, perWin, base } = t;
    const mask = perWin;
    const sA = g.sA;
    for (let i = 0; i < n; i++) {
      const s = pS + i * N8;
      const acc = pJ + i * g.sJ;
      let started = false;
      for (let j = 0, bit = 0; j < k; j++, bit += w) {
        const byte = bit >>> 3;
        let v = u8[s + byte];
        if (byte + 1 < N8) v |= u8[s + byte + 1] << 8;
        if (byte + 2 < N8) v |= u8[s + byte + 2] << 16;
        const d = (v >>> (bit & 7)) & mask;
        if (d === 0) continue;
        const pt = base + (j * perWin + d - 1) * sA;
        if (started) addMixed(acc, pt, acc);
        else {
          toJacobian(pt, acc);
          started = true;
        }
      }
      if (!started) zero(acc);
    }
    this.fn(g, 'batchToAffine')(pJ, n, pOut);
    const out = this.u8.slice(pOut, pOut + n * sA);
    // Wipe this job's scratch (scalars are toxic-derived) and release it.
    this.u8.fill(0, mark, Math.min(this.highWater, this.u8.length));
    this.u32[0] = mark;
    return out;
  }

  /** Zero the whole wasm memory (secrets, scalars, tables). */
  wipe(): void {
    this.u8.fill(0);
  }
}

let engine: DevPtauEngine | undefined;

function post(msg: WorkerResponse, transfer?: ArrayBuffer[]): void {
  parentPort!.postMessage(msg, transfer);
}

async function onMessage(msg: WorkerRequest): Promise<void> {
  try {
    if (msg.type === 'init') {
      engine = await DevPtauEngine.create(msg);
      post({ type: 'ready' });
    } else if (msg.type === 'job') {
      if (!engine) throw new Error('devPtau worker: job before init');
      const points = engine.run(msg.job);
      post({ type: 'result', id: msg.job.id, points }, [points.buffer as ArrayBuffer]);
    } else if (msg.type === 'wipe') {
      engine?.wipe();
      engine = undefined;
      post({ type: 'wiped' });
    }
  } catch (err) {
    post({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

if (parentPort) {
  // Messages are handled one at a time, in order.
  let chain: Promise<void> = Promise.resolve();
  parentPort.on('message', (msg: WorkerRequest) => {
    if (msg.type === 'close') {
      void chain.then(() => parentPort!.close());
      return;
    }
    chain = chain.then(() => onMessage(msg));
  });
}
