/**
 * The circom main of an integer program (quant/lower.ts). Forms are inline linear combinations (no
 * constraint); each primitive is one component of the gadget named in prims.ts, with widths from the
 * static bounds (quant/bounds.ts). The main has no constraint of its own.
 *
 * Public signals, in snarkjs order: the outputs (every graph output's integers, concatenated in graph
 * order; absent with class-only visibility), the class (when asked for), the input commitment (private
 * input), the weights commitment (private weights), then the input integers (public input).
 */
import type { QProgram } from './quant/lower.js';
import type { Form } from './quant/qtensor.js';
import { graphInstances, type GadgetInstance, type GraphInstances, type PortSource } from './instances.js';
import type { GraphCircuitOptions, GraphLayout } from './layout.js';

export { graphLayout, type GraphCircuitOptions, type GraphLayout } from './layout.js';

export const GRAPH_TEMPLATE = 'ZkinferGraph';

export const BATCH_GRAPH_TEMPLATE = 'ZkinferGraphBatch';

const TERMS_PER_LINE = 32;

/** k copies of the model template under one main, with the same public signals per item, in item order. */
function batchTemplate(layout: GraphLayout, n: number, m: number): string[] {
  const priv = layout.visibility.input === 'private';
  const outs = layout.outputs > 0;
  const cls = layout.classIndex >= 0;
  return [
    `template ${BATCH_GRAPH_TEMPLATE}(k) {`,
    `    signal input x[k][${n}];`,
    ...(priv ? ['    signal input salt[k];'] : []),
    ...(outs ? [`    signal output out[k][${m}];`] : []),
    ...(cls ? ['    signal output class[k];'] : []),
    ...(priv ? ['    signal output inputCommitment[k];'] : []),
    '    component item[k];',
    '    for (var b = 0; b < k; b++) {',
    `        item[b] = ${GRAPH_TEMPLATE}();`,
    `        for (var i = 0; i < ${n}; i++) item[b].x[i] <== x[b][i];`,
    ...(priv ? ['        item[b].salt <== salt[b];'] : []),
    ...(outs ? [`        for (var j = 0; j < ${m}; j++) out[b][j] <== item[b].out[j];`] : []),
    ...(cls ? ['        class[b] <== item[b].class;'] : []),
    ...(priv ? ['        inputCommitment[b] <== item[b].inputCommitment;'] : []),
    '    }',
    '}',
  ];
}

export function emitGraphCircuit(program: QProgram, options: GraphCircuitOptions = {}): { source: string; layout: GraphLayout; instances: GraphInstances } {
  const instances = graphInstances(program, options);
  return { source: renderGraphCircuit(instances), layout: instances.layout, instances };
}

const suffix = (scale?: number, offset?: bigint) => `${scale !== undefined && scale !== 1 ? ` * ${scale}` : ''}${offset ? ` + (${offset})` : ''}`;

/** The circom text of an instance list: one component per gadget instance, forms inline. */
export function renderGraphCircuit(inst: GraphInstances): string {
  const { layout, nIn, nOut, nW } = inst;
  const sig = (s: number) => (s < nIn ? `x[${s}]` : s < nIn + nW ? `w[${s - nIn}]` : `v[${s - nIn - nW}]`);
  const body: string[] = [];
  const line = (s: string) => body.push(`    ${s}`);
  /** Leave the form in var `acc` (long forms over several statements: circom's parser stack is small). */
  const formInto = (f: Form) => {
    line(`acc = ${f.bias};`);
    for (let k = 0; k < f.terms.length; k += TERMS_PER_LINE) {
      const chunk = f.terms.slice(k, k + TERMS_PER_LINE).map(([s, w]) => (w < 0 ? `- ${-w}*${sig(s)}` : `+ ${w}*${sig(s)}`));
      line(`acc = acc ${chunk.join(' ')};`);
    }
  };
  const tables = new Map<string, string>();
  const tableVar = (table: number[]) => {
    const key = table.join(',');
    let name = tables.get(key);
    if (!name) {
      name = `T${tables.size}`;
      tables.set(key, name);
    }
    return name;
  };
  const drive = (target: string, source: PortSource) => {
    if ('main' in source) return line(`${target} <== ${source.main}${source.index !== undefined ? `[${source.index}]` : ''}${suffix(1, source.offset)};`);
    const { form, scale, offset } = source;
    // A single signal with unit weight inline (the input checks); anything else through acc.
    if (form.bias === 0 && form.terms.length === 1 && form.terms[0][1] === 1 && (scale ?? 1) === 1) return line(`${target} <== ${sig(form.terms[0][0])}${suffix(1, offset)};`);
    formInto(form);
    line(`${target} <== acc${suffix(scale, offset)};`);
  };
  const component = (g: GadgetInstance) => {
    const params = g.params.map((p) => (Array.isArray(p) ? tableVar(p) : String(p))).join(', ');
    line(`${g.name.includes('[') ? '' : 'component '}${g.name} = ${g.template}(${params});`);
    for (const { port, source } of g.inputs) drive(`${g.name}.${port}`, source);
    for (const { port, target, offset } of g.outputs) {
      const t = 'signal' in target ? sig(target.signal) : target.main;
      line(`${t} <== ${g.name}.${port}${offset ? ` + (${offset})` : ''};`);
    }
  };

  const vis = layout.visibility;
  const committed = layout.outputCommitmentIndex >= 0;
  if (committed && layout.batch > 1) throw new Error('internal error: committed outputs are for batch 1');
  const head = [
    `template ${GRAPH_TEMPLATE}() {`,
    `    signal input x[${nIn}];`,
    ...(vis.input === 'private' ? ['    signal input salt;'] : []),
    ...(committed ? ['    signal input outSalt;'] : []),
    ...(nW ? [`    signal input w[${nW}];`, '    signal input weightsSalt;'] : []),
    `    signal ${layout.outputs > 0 ? 'output ' : ''}out[${nOut}];`,
    ...(layout.classIndex >= 0 ? ['    signal output class;'] : []),
    ...(vis.input === 'private' ? ['    signal output inputCommitment;'] : []),
    ...(committed ? ['    signal output outputCommitment;'] : []),
    ...(nW ? ['    signal output weightsCommitment;'] : []),
    ...(inst.nPrims ? [`    signal v[${inst.nPrims}];`] : []),
    '    var acc;',
  ];
  line(`component inRange[${nIn}];`);
  const outChecks = inst.gadgets.filter((g) => g.name.startsWith('outRange[')).length;
  if (outChecks) line(`component outRange[${outChecks}];`);
  if (nW) line(`component wRange[${nW}];`);
  let lastNode = '';
  for (const g of inst.gadgets) {
    if (g.node !== undefined && g.node !== lastNode) body.push('', `    // ${g.node}`);
    lastNode = g.node ?? lastNode;
    component(g);
  }
  body.push('', '    // Outputs');
  inst.outputs.forEach((f, j) => drive(`out[${j}]`, { form: f }));
  if (inst.classifier) component(inst.classifier);
  body.push('}');

  const tableDecls = [...tables].map(([values, name]) => `    var ${name}[${values.split(',').length}] = [${values}];`);
  return [
    "// Generated by zkinfer from the graph's integer program; do not edit. Semantics: src/graph/quant/prims.ts.",
    'pragma circom 2.1.6;',
    '',
    ...inst.includes.map((f) => `include "${f}.circom";`),
    '',
    ...head,
    ...tableDecls,
    ...body,
    '',
    ...(layout.batch > 1 ? [...batchTemplate(layout, nIn, nOut), ''] : []),
    `component main${vis.input === 'public' ? ' {public [x]}' : ''} = ${layout.batch > 1 ? `${BATCH_GRAPH_TEMPLATE}(${layout.batch})` : `${GRAPH_TEMPLATE}()`};`,
    '',
  ].join('\n');
}
