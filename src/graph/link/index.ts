/**
 * The linker: a graph circuit's r1cs built from its gadget instances (instances.ts) and the gadgets
 * compiled once each by circom (gadgets.ts), for models too big for circom2 (a 4 GB WebAssembly heap,
 * ~0.45 ms per linear-form term). The circom source is still written next to the r1cs, and the result is
 * cached by content hash in an atomically built directory, like compileCircom.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { libraryFingerprint, type CompiledCircuit } from '../../circuit/compile.js';
import { defaultArtifactsDir, exists, produceDirAtomic, sha256Hex, writeFileAtomic } from '../../util/fs.js';
import type { GraphInstances } from '../instances.js';
import { gadgetLibrary } from './gadgets.js';
import { planLink, type LinkPlan } from './plan.js';
import { writeR1cs, writeSym } from './write.js';

/** Bump when the linker's output for the same source changes. */
const LINKER_VERSION = 'link/6';

export interface LinkInfo {
  constraints: number;
  wires: number;
  publicInputs: number;
  outputs: number;
  privateInputs: number;
  /** Linear-form terms written, gadget kinds compiled, and milliseconds per stage of the first build. */
  terms: number;
  kinds: number;
  instances: number;
  ms: { gadgets: number; plan: number; write: number };
}

export interface LinkedCircuit {
  circuit: CompiledCircuit;
  plan: LinkPlan;
  info: LinkInfo;
}

export interface LinkOptions {
  name?: string;
  artifactsDir?: string;
  /** Progress for people: stage ('link gadgets', 'link r1cs'), done, total. */
  onProgress?: (stage: string, done: number, total: number) => void;
}

export async function linkGraphCircuit(source: string, inst: GraphInstances, options: LinkOptions = {}): Promise<LinkedCircuit> {
  const name = options.name ?? 'model';
  const t0 = performance.now();
  const progress = options.onProgress;
  const all = [...inst.gadgets, ...(inst.classifier ? [inst.classifier] : [])];
  const kinds = await gadgetLibrary(all, { artifactsDir: options.artifactsDir, onKind: progress && ((_key, done, total) => progress('link gadgets', done, total)) });
  const t1 = performance.now();
  const plan = planLink(inst, kinds);
  const t2 = performance.now();
  const hash = sha256Hex([await libraryFingerprint(), LINKER_VERSION, name, source].join('\0'));
  const dir = path.join(options.artifactsDir ?? defaultArtifactsDir(), 'circuits', hash.slice(0, 16));
  const files = (d: string) => ({
    circomPath: path.join(d, `${name}.circom`),
    r1csPath: path.join(d, `${name}.r1cs`),
    symPath: path.join(d, `${name}.sym`),
    infoPath: path.join(d, 'info.json'),
  });
  if (!(await exists(files(dir).infoPath))) {
    await produceDirAtomic(dir, async (tmp) => {
      const f = files(tmp);
      await writeFile(f.circomPath, source);
      const { constraints, terms } = writeR1cs(f.r1csPath, plan, progress && ((done, total) => progress('link r1cs', done, total)));
      writeSym(f.symPath, plan);
      const t3 = performance.now();
      const info: LinkInfo = {
        constraints,
        wires: plan.nWires,
        publicInputs: plan.nPubInputs,
        outputs: plan.nOutputs,
        privateInputs: plan.nPrvInputs,
        terms,
        kinds: kinds.size,
        instances: plan.instances.length,
        ms: { gadgets: Math.round(t1 - t0), plan: Math.round(t2 - t1), write: Math.round(t3 - t2) },
      };
      await writeFileAtomic(f.infoPath, JSON.stringify(info, null, 2));
    });
  }
  const f = files(dir);
  const info = JSON.parse(await readFile(f.infoPath, 'utf8')) as LinkInfo;
  const circuit: CompiledCircuit = {
    hash,
    dir,
    circomPath: f.circomPath,
    r1csPath: f.r1csPath,
    // No model wasm: the witness comes from linkedWitness (the gadgets' calculators).
    wasmPath: '',
    symPath: f.symPath,
    constraints: info.constraints,
    wires: info.wires,
    publicInputs: info.publicInputs,
    outputs: info.outputs,
    privateInputs: info.privateInputs,
  };
  return { circuit, plan, info };
}

export { linkedWitness, type LinkedItem } from './witness.js';
export type { LinkPlan } from './plan.js';
