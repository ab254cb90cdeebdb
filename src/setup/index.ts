import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import * as snarkjs from 'snarkjs';
import type { CompiledCircuit, ModelCircuit } from '../circuit/index.js';
import { KEY_FORMAT, KEY_VERSION, modelIdOf, parseKey, type ZkinferKey } from '../format/key.js';
import { snarkjsProgressLogger } from '../util/snarkjsProgress.js';
import { defaultArtifactsDir, exists, produceDirAtomic, sha256Hex, writeFileAtomic } from '../util/fs.js';
import { ceremonyPtau, localDevPtau, requiredPower } from './ptau.js';

/**
 * Groth16 setup for a compiled model: powers of tau (local or ceremony), circuit-specific phase 2 with one
 * local contribution, verification key. Cached under artifacts/keys/<hash of circuit and ptau>, and the key
 * is also filed under artifacts/keys/by-id/<model id>.json so `zkinfer verify` can find it by id.
 */
export interface CompiledModel extends ModelCircuit {
  zkeyPath: string;
  key: ZkinferKey;
  modelId: string;
}

export interface SetupOptions {
  artifactsDir?: string;
  /** A ceremony ptau file (prepared for phase 2). Without it a local INSECURE development ptau is used. */
  ptauPath?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export const PHASE2_NOTE = 'single local phase-2 contribution (development; a production setup needs an MPC phase 2)';

export function keyRegistryDir(artifactsDir?: string): string {
  return path.join(artifactsDir ?? defaultArtifactsDir(), 'keys', 'by-id');
}

/** The key's `model` section: what a verifier needs to decode the public signals. */
export type KeyModelInfo = ZkinferKey['model'];

function keyModelInfo(model: ModelCircuit): KeyModelInfo {
  const { qmodel, circuit } = model;
  return {
    name: qmodel.name,
    inputShape: qmodel.input.shape,
    inputBits: qmodel.input.bits,
    inputScale: qmodel.input.scale,
    outputSize: qmodel.output.size,
    logitScale: qmodel.output.logitScale,
    ...(qmodel.output.labels ? { labels: qmodel.output.labels } : {}),
    circuitHash: circuit.hash,
    constraints: circuit.constraints,
    notes: qmodel.notes,
  };
}

export async function setupModel(model: ModelCircuit, options: SetupOptions = {}): Promise<CompiledModel> {
  return { ...model, ...(await setupCircuit(model.circuit, model.layout, keyModelInfo(model), options)) };
}

/** Groth16 setup of any compiled circuit whose key carries `info` and `layout` (layer and graph models). */
export async function setupCircuit(
  circuit: CompiledCircuit,
  layout: ZkinferKey['publicSignals'],
  info: KeyModelInfo,
  options: SetupOptions = {},
): Promise<{ zkeyPath: string; key: ZkinferKey; modelId: string }> {
  const progress = options.onProgress ?? (() => {});
  const power = requiredPower(circuit.constraints, circuit.publicInputs, circuit.outputs);
  const ptau = options.ptauPath
    ? await ceremonyPtau(options.ptauPath, power, { artifactsDir: options.artifactsDir })
    : await localDevPtau(power, { artifactsDir: options.artifactsDir, onProgress: (stage, d, t) => progress(`ptau ${stage}`, d, t) });

  const dir = path.join(options.artifactsDir ?? defaultArtifactsDir(), 'keys', sha256Hex(`${circuit.hash}\0${ptau.sha256}`).slice(0, 16));
  const zkeyPath = path.join(dir, 'model.zkey');
  const keyPath = path.join(dir, 'key.json');
  if (!(await exists(keyPath))) {
    await produceDirAtomic(dir, async (tmp) => {
      // snarkjs's own counts (constraints processed, points written, key applied), from its logger.
      const zkey0 = path.join(tmp, 'model_0000.zkey');
      await snarkjs.zKey.newZKey(circuit.r1csPath, ptau.path, zkey0, options.onProgress && snarkjsProgressLogger('zkey', progress));
      await snarkjs.zKey.contribute(
        zkey0,
        path.join(tmp, 'model.zkey'),
        'zkinfer local phase-2 contribution',
        randomBytes(32).toString('hex'),
        options.onProgress && snarkjsProgressLogger('phase 2', progress),
      );
      const vkey = await snarkjs.zKey.exportVerificationKey(path.join(tmp, 'model.zkey'));
      const key = parseKey({
        format: KEY_FORMAT,
        version: KEY_VERSION,
        protocol: 'groth16',
        curve: 'bn128',
        model: info,
        publicSignals: layout,
        setup: { ptau: { kind: ptau.kind, insecure: ptau.insecure, power: ptau.power, sha256: ptau.sha256 }, phase2: PHASE2_NOTE },
        vkey,
      });
      await writeFileAtomic(path.join(tmp, 'key.json'), JSON.stringify(key, null, 2));
      await rm(zkey0);
    });
  }
  const key = parseKey(JSON.parse(await readFile(keyPath, 'utf8')));
  const modelId = modelIdOf(key);
  const registered = path.join(keyRegistryDir(options.artifactsDir), `${modelId}.json`);
  if (!(await exists(registered))) await writeFileAtomic(registered, JSON.stringify(key, null, 2));
  return { zkeyPath, key, modelId };
}

export { requiredPower, readPtauHeader, localDevPtau, ceremonyPtau, type PtauChoice } from './ptau.js';
