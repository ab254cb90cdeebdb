/**
 * `npm run bench:activation`: constraints per node (from the gadgets' stated counts, the same figures
 * `zkinfer compile` prints before compiling) of EZKL's lenet_5 and the bundled MNIST models, with the
 * float vs quantized agreement, so that a change to how activations are requantized shows what it saves
 * and what it costs in precision. Writes bench/activation-cost.md. With `--json FILE` it also writes the
 * figures as JSON (run on an older checkout to fill the "before" column: `--before FILE`).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { programCosts } from '../src/graph/cost.js';
import { evaluateAgreement, loadGraph, lowerGraph, readSamples, type Sample } from '../src/graph/index.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { BUNDLED_MODELS, MNIST_CALIBRATION_SAMPLES } from '../src/model/index.js';

const root = path.resolve(import.meta.dirname, '..');
const PEERS = process.env.ZKINFER_PEER_MODELS ?? path.resolve(root, '..', 'shared', 'peer-models', 'ezkl');

interface ModelFigures {
  model: string;
  nodes: Array<{ node: string; constraints: number; gadgets: string }>;
  inputs: number;
  total: number;
  agreement: string;
}

async function measure(model: string): Promise<ModelFigures | undefined> {
  let graph;
  let calibration: Sample[];
  let test: { samples: Sample[]; labels?: number[]; what: string };
  if (model in BUNDLED_MODELS) {
    graph = await loadGraph(path.join(root, BUNDLED_MODELS[model].modelJson));
    const name = graph.inputs[0].name;
    const split = loadMnistSplit();
    const digits = (ds: typeof split.test) => ds.map((d) => new Map([[name, Float64Array.from(d.pixels)]]));
    calibration = digits(split.train.slice(0, MNIST_CALIBRATION_SAMPLES));
    test = { samples: digits(split.test), labels: split.test.map((d) => d.label), what: `${split.test.length} held-out digits` };
  } else {
    const dir = path.join(PEERS, model);
    try {
      graph = await loadGraph(path.join(dir, 'network.onnx'));
    } catch {
      console.log(`${model}: not found under ${PEERS}, skipped`);
      return undefined;
    }
    calibration = await readSamples(graph, path.join(dir, 'input.json'));
    test = { samples: calibration, what: 'its input.json' };
  }
  const program = lowerGraph(graph, calibration);
  const costs = programCosts(program);
  const a = evaluateAgreement(graph, program, test.samples, test.labels);
  const o = a.outputs[0];
  const agreement = a.accuracy
    ? `accuracy float ${(100 * a.accuracy.float).toFixed(2)}%, quantized ${(100 * a.accuracy.quantized).toFixed(2)}% on ${test.what}`
    : `max |float - quantized| ${((100 * o.maxAbsError) / o.maxAbsReference).toFixed(2)}% of the largest |output| on ${test.what}`;
  return {
    model,
    inputs: costs.inputs,
    total: costs.total,
    agreement,
    nodes: costs.nodes.map((n) => ({
      node: n.node,
      constraints: n.constraints,
      gadgets: Object.entries(n.gadgets)
        .map(([t, k]) => `${k} x ${t}`)
        .join(', '),
    })),
  };
}

const fmt = (n: number | undefined) => (n === undefined ? '-' : n.toLocaleString('en-US'));

async function main(): Promise<void> {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const models = ['lenet_5', 'cnn', 'mlp'];
  const figures = (await Promise.all(models.map(measure))).filter((f): f is ModelFigures => f !== undefined);
  const jsonOut = arg('--json');
  if (jsonOut) await writeFile(jsonOut, JSON.stringify(figures, null, 2));
  const beforeFile = arg('--before');
  const before: ModelFigures[] = beforeFile ? JSON.parse(await readFile(beforeFile, 'utf8')) : [];
  let md = '# Constraints per node (cost per activation)\n\n';
  md += "From `npm run bench:activation`: each node's constraints as its gadgets state them (what `zkinfer compile` prints\n";
  md += `before compiling; the class argmax is not included). "before": the same script run on ${arg('--before-label') ?? 'the checkout whose JSON `--before` gave'}.\n`;
  for (const f of figures) {
    const b = before.find((x) => x.model === f.model);
    md += `\n## ${f.model}\n\n| node | before | after | after: gadgets |\n|---|---:|---:|---|\n`;
    md += `| inputs (range checks) | ${fmt(b?.inputs)} | ${fmt(f.inputs)} | |\n`;
    const names = [...new Set([...(b?.nodes ?? []).map((n) => n.node), ...f.nodes.map((n) => n.node)])];
    for (const name of names) {
      const x = b?.nodes.find((n) => n.node === name);
      const y = f.nodes.find((n) => n.node === name);
      md += `| ${name} | ${fmt(x?.constraints ?? (b ? 0 : undefined))} | ${fmt(y?.constraints ?? 0)} | ${y?.gadgets ?? '(none)'} |\n`;
    }
    md += `| **total** | **${fmt(b?.total)}** | **${fmt(f.total)}** | |\n\n`;
    if (b) md += `Before: ${b.agreement}.  \n`;
    md += `After: ${f.agreement}.\n`;
    console.log(`${f.model}: ${fmt(b?.total)} -> ${fmt(f.total)} constraints; ${f.agreement}`);
  }
  await writeFile(path.join(import.meta.dirname, 'activation-cost.md'), md);
}

await main();
