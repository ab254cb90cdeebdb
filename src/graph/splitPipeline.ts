/**
 * Split models end to end: lower the whole graph and cut it (split.ts), compile and set up each chunk as
 * its own circuit (chunks but the last commit their outputs; chunks but the first take a committed,
 * private input), and prove the chunks, in parallel on the prover threads when a pool is given. The
 * chain key and chain bundle are src/format/chain.ts; verify/core.ts's verifyChain checks them.
 */
import * as snarkjs from 'snarkjs';
import { snarkjsProgressLogger } from '../util/snarkjsProgress.js';
import { computeWitnessBin, FIELD_P } from '../circuit/witness.js';
import { CHAIN_BUNDLE_FORMAT, CHAIN_KEY_FORMAT, CHAIN_VERSION, chainIdOf, type ChainBundle, type ChainKey } from '../format/chain.js';
import { inputCommitment, randomSalt } from '../format/commitment.js';
import type { ProofBundle } from '../format/bundle.js';
import type { ProverThreads } from '../queue/proverThreads.js';
import type { SetupOptions } from '../setup/index.js';
import { ZkinferError } from '../util/errors.js';
import type { Visibility } from '../circuit/emit.js';
import type { Graph } from './ir.js';
import { linkedWitness } from './link/index.js';
import { commitmentValues, compileGraphProgram, graphBundle, setupGraphCircuit, type GraphCircuit, type GraphCompileOptions, type GraphModel } from './pipeline.js';
import type { Sample } from './quant/lower.js';
import { quantizeInputs, runProgram } from './quant/reference.js';
import { runChain, type SplitProgram } from './split.js';

export interface SplitCircuits {
  split: SplitProgram;
  chunks: GraphCircuit[];
}

export interface SplitModel {
  split: SplitProgram;
  chunks: GraphModel[];
  chainKey: ChainKey;
  chainId: string;
}

/** Compile every chunk (one after another: each may start circom or the linker's gadget compiles). */
export async function compileSplit(split: SplitProgram, options: GraphCompileOptions & { graph?: Graph } = {}): Promise<SplitCircuits> {
  const vis: Visibility = options.visibility ?? { input: 'public', output: 'logits' };
  if ((options.batch ?? 1) !== 1) throw new ZkinferError('BAD_INPUT', 'a split model proves one inference per chain (no --batch)');
  const n = split.chunks.length;
  const chunks: GraphCircuit[] = [];
  for (const [j, program] of split.chunks.entries()) {
    const last = j === n - 1;
    const progress = options.onProgress && ((stage: string, done: number, total: number) => options.onProgress!(`chunk ${j + 1}/${n} ${stage}`, done, total));
    chunks.push(
      await compileGraphProgram(program, {
        ...options,
        onProgress: progress,
        visibility: { input: j === 0 ? vis.input : 'private', output: last ? vis.output : 'logits' },
        commitOutputs: !last,
        // Only the last chunk ends in the graph's outputs (a Softmax there still makes a class).
        graph: last ? options.graph : undefined,
        classify: last ? options.classify : false,
      }),
    );
  }
  return { split, chunks };
}

export function chainKeyOf(split: SplitProgram, chunks: GraphModel[]): ChainKey {
  return { format: CHAIN_KEY_FORMAT, version: CHAIN_VERSION, cuts: split.cuts, chunks: chunks.map((c) => c.key) };
}

export async function setupSplit(c: SplitCircuits, options: SetupOptions = {}): Promise<SplitModel> {
  const chunks: GraphModel[] = [];
  const n = c.chunks.length;
  for (const [j, chunk] of c.chunks.entries()) {
    const progress = options.onProgress && ((stage: string, done: number, total: number) => options.onProgress!(`chunk ${j + 1}/${n} ${stage}`, done, total));
    chunks.push(await setupGraphCircuit(chunk, { ...options, onProgress: progress }));
  }
  const chainKey = chainKeyOf(c.split, chunks);
  return { split: c.split, chunks, chainKey, chainId: chainIdOf(chainKey) };
}

export interface SplitProveOptions {
  /** Prove the chunks on these threads (at once, as many as it has); default: one after another here. */
  threads?: ProverThreads;
  /** Salts: salts[j] blinds the commitment at cut j; with a private model input, salts[n - 1] blinds it. */
  salts?: bigint[];
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** Prove one inference through the chain: every chunk's witness here, the Groth16 proofs serially or on the threads. */
export async function proveSplit(
  model: SplitModel,
  sample: Sample,
  options: SplitProveOptions = {},
): Promise<{ bundle: ChainBundle; inputOpening?: { salt: string; commitment: string } }> {
  const { split, chunks } = model;
  const n = chunks.length;
  const privateInput = chunks[0].layout.visibility.input === 'private';
  const need = n - 1 + (privateInput ? 1 : 0);
  if (options.salts && options.salts.length !== need) throw new ZkinferError('BAD_INPUT', `expected ${need} salts`);
  const salts = options.salts ?? Array.from({ length: need }, () => randomSalt());
  for (const salt of salts) if (salt < 0n || salt >= FIELD_P) throw new ZkinferError('BAD_INPUT', 'a salt must be a field element in [0, p)');
  const x = quantizeInputs(split.chunks[0], sample);
  const values = runChain(split, x);
  // The chain and the whole program are one semantics; disagreement is a zkinfer bug, never a result.
  if (values[n - 1].join() !== runProgram(split.whole, x).join()) throw new Error("internal error: the chained chunks differ from the whole model's integer reference");

  const witnesses: Uint8Array[] = [];
  for (const [j, c] of chunks.entries()) {
    options.onProgress?.('witness', j, n);
    const input = j === 0 ? x : values[j - 1];
    const salt = j === 0 ? (privateInput ? salts[n - 1] : undefined) : salts[j - 1];
    const outSalt = j < n - 1 ? salts[j] : undefined;
    witnesses.push(
      c.linked
        ? await linkedWitness(c.linked, c.program, [{ x: input, ...(salt !== undefined ? { salt } : {}), ...(outSalt !== undefined ? { outSalt } : {}) }])
        : await computeWitnessBin(c.circuit.wasmPath, { x: input, ...(salt !== undefined ? { salt } : {}), ...(outSalt !== undefined ? { outSalt } : {}) }),
    );
  }
  options.onProgress?.('witness', n, n);
  let done = 0;
  const prove = async (j: number) => {
    const r = options.threads
      ? await options.threads.proveWitness(chunks[j].zkeyPath, witnesses[j])
      : await snarkjs.groth16.prove(
          chunks[j].zkeyPath,
          { type: 'mem', data: witnesses[j] },
          options.onProgress && snarkjsProgressLogger(`chunk ${j + 1}/${n} prove`, options.onProgress),
        );
    options.onProgress?.('prove', ++done, n);
    return graphBundle(chunks[j], r.proof, r.publicSignals);
  };
  const links: ProofBundle[] = [];
  if (options.threads) links.push(...(await Promise.all(chunks.map((_, j) => prove(j)))));
  else for (let j = 0; j < n; j++) links.push(await prove(j));

  const last = links[n - 1];
  if (chunks[n - 1].layout.outputs > 0 && last.prediction.logits.join() !== values[n - 1].join())
    throw new Error("internal error: the last chunk's proved outputs differ from the integer reference");
  // Each commitment is the one circomlibjs computes from the values (what an opening holder can check).
  for (let j = 0; j < n - 1; j++) {
    const { values: packedValues, bits } = commitmentValues(split.chunks[j + 1], values[j]);
    const expected = String(await inputCommitment(packedValues, bits, salts[j]));
    const out = links[j].publicSignals[chunks[j].layout.outputCommitmentIndex];
    if (out !== expected || links[j + 1].inputCommitments?.[0] !== expected) throw new Error(`internal error: the commitments at cut ${j + 1} differ from circomlibjs's`);
  }
  const bundle: ChainBundle = { format: CHAIN_BUNDLE_FORMAT, version: CHAIN_VERSION, chainId: model.chainId, links };
  return { bundle, ...(privateInput ? { inputOpening: { salt: String(salts[n - 1]), commitment: links[0].inputCommitments![0] } } : {}) };
}
