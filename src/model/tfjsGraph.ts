import { fail } from '../util/errors.js';

/**
 * The layer graph of a tfjs Layers / Keras model.json topology: which layers read which, in an order the
 * importer can walk front to back. A Sequential model is a chain; a functional model ("Model" /
 * "Functional") names each layer's inputs in `inbound_nodes`, which is what residual blocks need.
 *
 * Only what the float IR can express is accepted: one model input, one output, each layer called once
 * (no shared layers) and reading first outputs only. Layers that do not lead to the output are dropped.
 */

export interface LayerJson {
  class_name: string;
  name?: string;
  config: Record<string, unknown> & { name?: string };
  inbound_nodes?: unknown[];
}

export interface GraphLayer {
  name: string;
  className: string;
  config: LayerJson['config'];
  /** Names of the layers whose outputs this layer reads (the model input's name for the first layer). */
  inputs: string[];
}

export interface LayerGraph {
  /** Layers reachable from the output, in topological order (the file's order where it allows). */
  layers: GraphLayer[];
  /** The name that stands for the model input (an InputLayer's name, or a synthetic one for Sequential). */
  input: string;
  output: string;
  inputShape: number[];
  /** Who reads each name: layer names, plus OUTPUT_READER for the model output. */
  readers: Map<string, string[]>;
}

export const OUTPUT_READER = '(the model output)';
export const SEQUENTIAL_INPUT = '(the model input)';

function root(topology: unknown): { className?: string; layers: LayerJson[]; config: Record<string, unknown> } {
  const t = topology as Record<string, unknown> | undefined;
  // tfjs writes {class_name, config}; Keras-converted models nest it under model_config.
  const r = (t?.model_config ?? t) as { class_name?: string; config?: unknown } | undefined;
  if (!r || typeof r !== 'object') fail('BAD_MODEL', 'model.json has no modelTopology');
  const config = r.config as { layers?: unknown } | unknown[] | undefined;
  const layers = Array.isArray(config) ? config : (config as { layers?: unknown })?.layers;
  if (!Array.isArray(layers)) fail('BAD_MODEL', 'model.json modelTopology has no layer list');
  for (const l of layers) if (!l || typeof l !== 'object' || typeof (l as LayerJson).class_name !== 'string') fail('BAD_MODEL', 'model.json has a layer without class_name');
  return { className: r.class_name, layers: layers as LayerJson[], config: (Array.isArray(config) ? {} : config) as Record<string, unknown> };
}

function layerName(l: LayerJson, index: number): string {
  return String(l.name ?? l.config?.name ?? `layer${index}`);
}

/** [layer, node, tensor] references of one call, in the tfjs/Keras 2 list form or the Keras 3 {args} form. */
function callInputs(call: unknown, where: string): Array<[string, number, number]> {
  const refs: Array<[string, number, number]> = [];
  const ref = (v: unknown[]) => refs.push([String(v[0]), Number(v[1] ?? 0), Number(v[2] ?? 0)]);
  if (Array.isArray(call)) {
    for (const entry of call) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') fail('BAD_MODEL', `${where}: malformed inbound_nodes entry ${JSON.stringify(entry)}`);
      ref(entry);
    }
    return refs;
  }
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const history = (v as { config?: { keras_history?: unknown } }).config?.keras_history;
    if ((v as { class_name?: string }).class_name === '__keras_tensor__' && Array.isArray(history)) return void ref(history);
  };
  walk((call as { args?: unknown } | undefined)?.args);
  if (refs.length === 0) fail('BAD_MODEL', `${where}: inbound_nodes entry names no input tensor`);
  return refs;
}

/** input_layers / output_layers: [[name, 0, 0], ...], or one bare [name, 0, 0]. */
function endpoints(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.length === 0) fail('BAD_MODEL', `model.json functional model has no ${what}`);
  const list = typeof v[0] === 'string' ? [v] : v;
  return list.map((e) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string') fail('BAD_MODEL', `model.json ${what} entry ${JSON.stringify(e)} is malformed`);
    if (Number(e[2] ?? 0) !== 0) fail('UNSUPPORTED_LAYER', `${what} names output ${String(e[2])} of layer ${e[0]}; multi-output layers are not supported`);
    return e[0] as string;
  });
}

function batchShape(config: Record<string, unknown>): number[] | undefined {
  const bis = config.batch_input_shape ?? config.batchInputShape ?? config.batch_shape;
  return Array.isArray(bis) ? (bis as Array<number | null>).slice(1).map((d) => Number(d)) : undefined;
}

function checkShape(shape: number[] | undefined): number[] {
  if (!shape || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    fail('BAD_MODEL', 'model.json does not declare a fixed input shape (batch_input_shape)');
  }
  return shape;
}

function sequential(layers: LayerJson[]): { all: GraphLayer[]; input: string; output: string; inputShape: number[] } {
  if (layers.length === 0) fail('BAD_MODEL', 'model.json has no layers');
  const all = layers.map((l, i) => ({
    name: layerName(l, i),
    className: l.class_name,
    config: l.config ?? {},
    inputs: [i === 0 ? SEQUENTIAL_INPUT : layerName(layers[i - 1], i - 1)],
  }));
  const inputShape = checkShape(layers.map((l) => batchShape(l.config ?? {})).find((s) => s !== undefined));
  return { all, input: SEQUENTIAL_INPUT, output: all[all.length - 1].name, inputShape };
}

function functional(className: string, layers: LayerJson[], config: Record<string, unknown>): { all: GraphLayer[]; input: string; output: string; inputShape: number[] } {
  const all = layers.map((l, i) => {
    const name = layerName(l, i);
    const where = `layer ${name} (${l.class_name})`;
    const calls = Array.isArray(l.inbound_nodes) ? l.inbound_nodes : [];
    if (calls.length > 1) fail('UNSUPPORTED_LAYER', `${where} is called ${calls.length} times (a shared layer); each layer must be applied once`);
    const inputs =
      calls.length === 0
        ? []
        : callInputs(calls[0], where).map(([src, node, tensor]) => {
            if (node !== 0) fail('UNSUPPORTED_LAYER', `${where} reads call ${node} of layer ${src} (a shared layer); each layer must be applied once`);
            if (tensor !== 0) fail('UNSUPPORTED_LAYER', `${where} reads output ${tensor} of layer ${src}; multi-output layers are not supported`);
            return src;
          });
    return { name, className: l.class_name, config: l.config ?? {}, inputs };
  });
  const names = new Set<string>();
  for (const l of all) {
    if (names.has(l.name)) fail('BAD_MODEL', `model.json has two layers named ${l.name}`);
    names.add(l.name);
  }
  for (const l of all) for (const i of l.inputs) if (!names.has(i)) fail('BAD_MODEL', `layer ${l.name} (${l.className}) reads layer ${i}, which the model does not define`);
  const ins = endpoints(config.input_layers, 'input_layers');
  const outs = endpoints(config.output_layers, 'output_layers');
  if (ins.length !== 1) fail('UNSUPPORTED_LAYER', `${className} model has ${ins.length} inputs (${ins.join(', ')}); exactly one is supported`);
  if (outs.length !== 1) fail('UNSUPPORTED_LAYER', `${className} model has ${outs.length} outputs (${outs.join(', ')}); exactly one is supported`);
  const inputLayer = all.find((l) => l.name === ins[0]);
  if (!inputLayer || inputLayer.inputs.length > 0) fail('BAD_MODEL', `model input ${ins[0]} is not an InputLayer of the model`);
  if (!names.has(outs[0])) fail('BAD_MODEL', `model output ${outs[0]} is not a layer of the model`);
  return { all, input: ins[0], output: outs[0], inputShape: checkShape(batchShape(inputLayer.config)) };
}

/** Layers the output depends on, in topological order; the file's order breaks ties. */
function reachableInOrder(all: GraphLayer[], input: string, output: string): GraphLayer[] {
  const byName = new Map(all.map((l) => [l.name, l]));
  const needed = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (needed.has(n) || n === input) continue;
    needed.add(n);
    const l = byName.get(n)!;
    if (l.inputs.length === 0) fail('UNSUPPORTED_LAYER', `layer ${n} (${l.className}) is a second model input; exactly one is supported`);
    stack.push(...l.inputs);
  }
  const done = new Set([input]);
  const order: GraphLayer[] = [];
  const pending = all.filter((l) => needed.has(l.name));
  while (pending.length > 0) {
    const k = pending.findIndex((l) => l.inputs.every((i) => done.has(i)));
    if (k < 0) fail('BAD_MODEL', `model.json layers form a cycle (at ${pending.map((l) => l.name).join(', ')})`);
    const [l] = pending.splice(k, 1);
    done.add(l.name);
    order.push(l);
  }
  return order;
}

export function layerGraph(topology: unknown): LayerGraph {
  const { className, layers, config } = root(topology);
  const g = !className || className === 'Sequential' ? sequential(layers) : functional(className, layers, config);
  const ordered = reachableInOrder(g.all, g.input, g.output);
  const readers = new Map<string, string[]>();
  const read = (name: string, by: string) => readers.set(name, [...(readers.get(name) ?? []), by]);
  for (const l of ordered) for (const i of l.inputs) read(i, l.name);
  read(g.output, OUTPUT_READER);
  return { layers: ordered, input: g.input, output: g.output, inputShape: g.inputShape, readers };
}
