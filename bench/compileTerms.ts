/**
 * Compile of one LeNet through the linker into a fresh artifacts directory: lower, link (gadget compiles
 * included), seconds, this process's peak RSS and microseconds per linear-form term. Run alone
 * (`tsx bench/compileTerms.ts cifar|small|medium`) it prints one JSON line, so a caller can measure each
 * model in a fresh process (peak RSS is per process).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { emitGraphCircuit } from '../src/graph/emit.js';
import { linkGraphCircuit } from '../src/graph/link/index.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { instanceTerms } from '../src/graph/pipeline.js';
import { lowerGraph } from '../src/graph/quant/lower.js';
import { CIFAR_LENET, lenetName, lenetOnnx, lenetSamples, type LenetConfig } from './lenet.js';

export const COMPILE_MODELS: Record<string, LenetConfig> = {
  small: { channels: 1, side: 16, kernel: 3, conv: [4, 8], dense: [32, 16], classes: 10 },
  medium: { channels: 3, side: 24, kernel: 5, conv: [6, 16], dense: [64, 32], classes: 10 },
  cifar: CIFAR_LENET,
};

export interface CompileRow {
  model: string;
  constraints: number;
  terms: number;
  lowerSeconds: number;
  compileSeconds: number;
  gadgetSeconds: number;
  peakRssMb: number;
  usPerTerm: number;
}

export async function measureCompile(config: LenetConfig): Promise<CompileRow> {
  const graph = runPasses(importOnnxGraph(lenetOnnx(config), 'lenet'));
  let t = performance.now();
  const program = lowerGraph(graph, lenetSamples(graph, 2));
  const lowerSeconds = (performance.now() - t) / 1000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-bench-compile-'));
  try {
    t = performance.now();
    const { source, instances } = emitGraphCircuit(program, {});
    const linked = await linkGraphCircuit(source, instances, { artifactsDir: dir });
    const compileSeconds = (performance.now() - t) / 1000;
    const terms = instanceTerms(instances);
    return {
      model: lenetName(config),
      constraints: linked.info.constraints,
      terms,
      lowerSeconds,
      compileSeconds,
      gadgetSeconds: linked.info.ms.gadgets / 1000,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      usPerTerm: (1e6 * compileSeconds) / terms,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('compileTerms.ts')) {
  const which = process.argv[2] ?? 'cifar';
  const config = COMPILE_MODELS[which];
  if (!config) {
    process.stderr.write(`unknown model ${which} (small, medium, cifar)\n`);
    process.exit(2);
  }
  measureCompile(config).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
