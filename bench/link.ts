/**
 * `npm run bench:link [-- --peer DIR] [--circom-max-terms N]`: compile time of graph circuits through the
 * linker (src/graph/link) against circom2, per linear-form term, on two generated models and, with
 * --peer, EZKL's lenet_5 and large_mlp (DIR/<name>/network.onnx + input.json). Each model compiles into a
 * fresh artifacts directory, so the gadget compiles are counted. Circom runs only below
 * --circom-max-terms (default 60000: ~0.45 ms per term, and it dies near 800k). Writes bench/link.md.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitGraphCircuit } from '../src/graph/emit.js';
import { loadGraph, readSample } from '../src/graph/index.js';
import { linkGraphCircuit, linkedWitness } from '../src/graph/link/index.js';
import { importOnnxGraph } from '../src/graph/onnx.js';
import { runPasses } from '../src/graph/passes/index.js';
import { compileGraphProgram, instanceTerms } from '../src/graph/pipeline.js';
import { lowerGraph, type Sample } from '../src/graph/quant/lower.js';
import { quantizeInputs } from '../src/graph/quant/reference.js';
import type { Graph } from '../src/graph/ir.js';
import { OnnxGraphBuilder } from '../test/helpers/onnxGraph.js';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const peer = opt('--peer');
const circomMaxTerms = Number(opt('--circom-max-terms') ?? 60_000);

let seed = 3;
const rnd = (n: number, s = 0.3) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * s);

function mlp(widths: number[]): Uint8Array {
  const g = new OnnxGraphBuilder(`mlp-${widths.join('-')}`);
  g.input('x', 'float', [1, widths[0]]);
  let h = 'x';
  for (let l = 1; l < widths.length; l++) {
    g.initializer(`w${l}`, 'float', [widths[l], widths[l - 1]], rnd(widths[l] * widths[l - 1]));
    [h] = g.node('Gemm', [h, `w${l}`], undefined, { transB: 1 });
    if (l < widths.length - 1) [h] = g.node('Relu', [h]);
  }
  g.node('Identity', [h], ['y']);
  g.output('y', 'float', [1, widths[widths.length - 1]]);
  return g.encode();
}

function cnn(): Uint8Array {
  const g = new OnnxGraphBuilder('cnn-8x12x12');
  g.input('x', 'float', [1, 1, 12, 12]);
  g.initializer('k', 'float', [8, 1, 3, 3], rnd(72));
  g.initializer('w', 'float', [10, 8 * 5 * 5], rnd(2000, 0.1));
  const [c] = g.node('Conv', ['x', 'k'], undefined, { kernel_shape: [3, 3] });
  const [r] = g.node('Relu', [c]);
  const [p] = g.node('MaxPool', [r], undefined, { kernel_shape: [2, 2], strides: [2, 2] });
  const [f] = g.node('Flatten', [p]);
  g.node('Gemm', [f, 'w'], ['y'], { transB: 1 });
  g.output('y', 'float', [1, 10]);
  return g.encode();
}

const samplesOf = (graph: Graph, n: number): Sample[] =>
  Array.from(
    { length: n },
    () =>
      new Map(
        graph.inputs.map((i) => [
          i.name,
          Float64Array.from(
            rnd(
              i.shape.reduce((a, b) => a * b, 1),
              1,
            ),
          ),
        ]),
      ),
  );

interface Row {
  model: string;
  constraints: number;
  formTerms: number;
  writtenTerms: number;
  kinds: number;
  linkSeconds: number;
  gadgetSeconds: number;
  witnessSeconds: number;
  circomSeconds?: number;
}

async function measure(name: string, graph: Graph, calibration: Sample[]): Promise<Row> {
  const program = lowerGraph(graph, calibration);
  const { source, instances } = emitGraphCircuit(program, {});
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-bench-link-'));
  try {
    let t = performance.now();
    const linked = await linkGraphCircuit(source, instances, { artifactsDir: dir });
    const linkSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await linkedWitness(linked.plan, program, [{ x: quantizeInputs(program, calibration[0]) }]);
    const witnessSeconds = (performance.now() - t) / 1000;
    const terms = instanceTerms(instances);
    let circomSeconds: number | undefined;
    if (terms <= circomMaxTerms) {
      t = performance.now();
      const c = await compileGraphProgram(program, { artifactsDir: dir, emit: 'circom', graph });
      circomSeconds = (performance.now() - t) / 1000;
      if (c.circuit.constraints !== linked.circuit.constraints) throw new Error(`${name}: circom ${c.circuit.constraints} constraints, linker ${linked.circuit.constraints}`);
    }
    return {
      model: name,
      constraints: linked.info.constraints,
      formTerms: terms,
      writtenTerms: linked.info.terms,
      kinds: linked.info.kinds,
      linkSeconds,
      gadgetSeconds: linked.info.ms.gadgets / 1000,
      witnessSeconds,
      circomSeconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const models: Array<[string, () => Promise<{ graph: Graph; calibration: Sample[] }>]> = [
    [
      'mlp 64-32-10',
      async () => {
        const graph = runPasses(importOnnxGraph(mlp([64, 32, 10]), 'm'));
        return { graph, calibration: samplesOf(graph, 4) };
      },
    ],
    [
      'cnn 8@3x3 + pool + dense',
      async () => {
        const graph = runPasses(importOnnxGraph(cnn(), 'm'));
        return { graph, calibration: samplesOf(graph, 4) };
      },
    ],
  ];
  if (peer) {
    for (const name of ['large_mlp', 'lenet_5']) {
      const dir = path.join(peer, name);
      if (!existsSync(path.join(dir, 'network.onnx'))) continue;
      models.push([
        name,
        async () => {
          const graph = await loadGraph(path.join(dir, 'network.onnx'));
          return { graph, calibration: [await readSample(graph, path.join(dir, 'input.json'))] };
        },
      ]);
    }
  }
  const rows: Row[] = [];
  const line = (r: Row) =>
    `| ${r.model} | ${r.constraints} | ${r.formTerms} | ${r.writtenTerms} | ${r.kinds} | ${r.gadgetSeconds.toFixed(1)} | ${r.linkSeconds.toFixed(1)} | ${((1e6 * (r.linkSeconds - r.gadgetSeconds)) / r.formTerms).toFixed(1)} | ${r.witnessSeconds.toFixed(1)} | ${r.circomSeconds === undefined ? '—' : `${r.circomSeconds.toFixed(1)} (${((1e6 * r.circomSeconds) / r.formTerms).toFixed(0)} µs/term)`} |`;
  const head = [
    '| model | constraints | form terms | r1cs terms | gadget kinds | gadget compile s | link s (total) | link µs/term (after gadgets) | witness s | circom s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  process.stdout.write(`${head.join('\n')}\n`);
  for (const [name, load] of models) {
    const { graph, calibration } = await load();
    const r = await measure(name, graph, calibration);
    rows.push(r);
    process.stdout.write(`${line(r)}\n`);
  }
  const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'link.md');
  await writeFile(out, `# Linker compile times (npm run bench:link)\n\n${[...head, ...rows.map(line)].join('\n')}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
