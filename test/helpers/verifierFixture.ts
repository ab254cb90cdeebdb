import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compileGraphProgram, loadGraph, lowerGraph, proveGraph, setupGraphCircuit, type GraphModel } from '../../src/graph/index.js';
import type { ProofBundle } from '../../src/index.js';
import { keyRegistryDir } from '../../src/setup/index.js';
import { randomFloatModel, randomInputs, writeTfjsModel } from './models.js';

/**
 * Two small random models (tfjs files declaring 8-bit pixel inputs and class labels) set up on the graph
 * pipeline in a fresh artifacts directory (a few seconds), with a proof for the first: enough to exercise
 * verification, the model store and proving by model id without the MNIST model's minute-long setup.
 */
export interface VerifierFixture {
  artifactsDir: string;
  /** artifacts/keys/by-id of the fixture: both keys, each named <model id>.json. */
  keysDir: string;
  model: GraphModel;
  other: GraphModel;
  /** A valid proof for `model`. */
  bundle: ProofBundle;
}

/** One sample of a one-input graph model from a flat array of input integers. */
export const sampleOf = (model: GraphModel, x: number[]) => new Map([[model.program.inputs[0].name, Float64Array.from(x)]]);

export async function smallGraphModel(sizes: number[], seed: number, artifactsDir: string, batch?: number): Promise<GraphModel> {
  const file = await writeTfjsModel(path.join(artifactsDir, `model-${sizes.join('-')}-${seed}`), randomFloatModel(sizes, seed, `random-${sizes.join('-')}`));
  const graph = await loadGraph(file);
  const calibration = randomInputs(20, sizes[0], 8, seed + 1).map((x) => new Map([[graph.inputs[0].name, Float64Array.from(x)]]));
  const program = lowerGraph(graph, calibration);
  return setupGraphCircuit(await compileGraphProgram(program, { artifactsDir, graph, batch }), { artifactsDir });
}

export async function buildVerifierFixture(): Promise<VerifierFixture> {
  const artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-verifier-'));
  const model = await smallGraphModel([8, 4, 3], 11, artifactsDir);
  const other = await smallGraphModel([6, 5, 4], 31, artifactsDir);
  const { bundle } = await proveGraph(model, sampleOf(model, randomInputs(1, 8, 8, 5)[0]));
  return { artifactsDir, keysDir: keyRegistryDir(artifactsDir), model, other, bundle };
}
