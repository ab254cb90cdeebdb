/**
 * One prover thread of a ProverThreads pool. Loads each model from the model store once (then keeps it),
 * proves one job at a time, and classifies failures: `input` (the job can never succeed: bad input, unknown
 * model) or `internal` (worth retrying). Like bench/proverWorker.ts it proves on one single-threaded curve
 * built here and left where snarkjs looks for the default curve, because ffjavascript's own thread pool
 * cannot start inside a worker thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildBn128 } from 'ffjavascript';
import * as snarkjs from 'snarkjs';
import type { ProofBundle } from '../format/bundle.js';
import { loadStoredModel, type StoredModel } from '../prove/modelStore.js';
import { proveStored } from '../prove/stored.js';
import { ZkinferError } from '../util/errors.js';

/** 'prove': a stored model on an input; 'proveWitness': a zkey on a computed witness (a split model's chunk). */
export type ThreadRequest =
  | { type: 'prove'; id: number; modelId: string; input: unknown }
  | { type: 'proveWitness'; id: number; zkeyPath: string; wtns: Uint8Array }
  /** Finish the queued jobs, then let the thread end by itself (see ProverThreads.close). */
  | { type: 'close' };
export interface WitnessProof {
  proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] };
  publicSignals: string[];
}
export type FailureKind = 'input' | 'internal';
export type ThreadResponse =
  | { type: 'ready' }
  | { type: 'proved'; id: number; bundle: ProofBundle }
  | { type: 'provedWitness'; id: number; result: WitnessProof }
  | { type: 'failed'; id: number; kind: FailureKind; message: string }
  | { type: 'error'; message: string };

const post = (m: ThreadResponse) => parentPort!.postMessage(m);

/** A user's mistake never becomes right by retrying; everything else might (a file not yet copied, a bug). */
export function failureKind(err: unknown): FailureKind {
  return err instanceof ZkinferError && (err.code === 'BAD_INPUT' || err.code === 'NOT_FOUND') ? 'input' : 'internal';
}

async function main(): Promise<void> {
  const { artifactsDir } = workerData as { artifactsDir?: string };
  (globalThis as { curve_bn128?: unknown }).curve_bn128 = await buildBn128(true);
  const models = new Map<string, Promise<StoredModel>>();
  const load = (id: string) => {
    let m = models.get(id);
    if (!m) {
      m = loadStoredModel(id, artifactsDir);
      models.set(id, m);
      m.catch(() => models.delete(id)); // a missing model may be copied in later
    }
    return m;
  };
  let chain = Promise.resolve();
  parentPort!.on('message', (msg: ThreadRequest) => {
    if (msg.type === 'close') {
      void chain.then(() => parentPort!.close());
      return;
    }
    chain = chain.then(async () => {
      try {
        if (msg.type === 'proveWitness') {
          const { proof, publicSignals } = await snarkjs.groth16.prove(msg.zkeyPath, { type: 'mem', data: msg.wtns });
          return post({ type: 'provedWitness', id: msg.id, result: { proof, publicSignals } });
        }
        const bundle = await proveStored(await load(msg.modelId), msg.input);
        post({ type: 'proved', id: msg.id, bundle });
      } catch (err) {
        const kind = failureKind(err);
        post({ type: 'failed', id: msg.id, kind, message: kind === 'input' ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    });
  });
  post({ type: 'ready' });
}

if (parentPort) {
  main().catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
}
