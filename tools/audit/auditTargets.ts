import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { QuantizedModel } from '../../src/quantize/types.js';
import { auditCircuit, type AllowRule, type AuditOptions, type AuditReport } from './audit.js';
import { readCircomProgram, type TemplateInfo } from './circomSource.js';
import { CIRCOMLIB_PARENT, CIRCUITS_DIR, compileCircom } from '../../src/circuit/compile.js';
import { compileModel } from '../../src/circuit/index.js';
import { loadSymbolTable } from '../../src/circuit/symbols.js';
import { loadR1cs } from '../r1cs.js';

/**
 * What the soundness audit runs on (used by scripts/audit-circuits.ts and test/audit.test.ts): every
 * template in circuits/ (and the circomlib templates they use), each compiled alone as main at several
 * parameter sets, and model circuits as compileModel emits them. Also the allow-list: every finding the
 * audit tolerates, with the reason it is harmless and the test that shows it.
 */

/** Whatever compileModel accepts (batch, visibility, artifactsDir): the audit compiles what the pipeline would. */
type ModelCompileOptions = NonNullable<Parameters<typeof compileModel>[1]>;

const NODE_MODULES = CIRCOMLIB_PARENT;
export const INCLUDE_DIRS = [CIRCUITS_DIR, NODE_MODULES];

export const ALLOWED_FINDINGS: AllowRule[] = [
  {
    kind: 'single-use',
    template: 'IsZero',
    signal: /^inv$/,
    reason:
      'the inverse hint occurs only in out = 1 - in*inv. If in != 0, in*out = 0 forces out = 0 and then inv = 1/in; ' +
      'if in = 0, out = 1 and inv is free, but inv feeds nothing else, so no other signal can change.',
    shownBy:
      "test/exhaustive.test.ts 'IsZero (circomlib)' and 'RequantReluClamp: ... agree on every wire but IsZero.inv'; test/gadgets.test.ts " +
      "'every single-wire change of an honest witness is rejected, except the IsZero inverse hint when its input is 0'",
  },
  {
    kind: 'unused',
    template: 'ReluClampFromBits',
    signal: /^(q|qBits\[\d+\])$/,
    onlyAsMain: true,
    reason:
      'only when the template is compiled alone: it reads q only when h >= n - 1 (then only the sign bit of qBits), ' +
      'and only qBits when h < n - 1. Its precondition is that q and qBits come from DivFloorPow2 or SignedBits, which ' +
      'constrain all of them; inside RequantReluClamp and the model no such wire is unused.',
    shownBy: "test/audit.test.ts 'RequantReluClamp and the models have no unused wire; ReluClampFromBits alone leaves exactly its unread inputs'",
  },
];

/** A template argument: a number, a field element written out (beyond 2^53), or an array (a lookup table). */
export type TemplateArg = number | string | Array<number | string>;

/** An argument as circom source; arrays as literals (`[3, -5]`, negative entries are field constants). */
export const argSource = (a: TemplateArg) => (Array.isArray(a) ? `[${a.join(', ')}]` : String(a));
/** An argument in a report name (and so in a file name): a table shows only its size. */
export const argLabel = (a: TemplateArg) => (Array.isArray(a) ? `[${a.length} entries]` : String(a));

/** A fixed pseudo-random table of 2^w entries in [-2^39, 2^39) (xorshift; the same on every run). */
export function auditTable(w: number, seed = w): string[] {
  let x = BigInt(0x9e3779b97f4a7c15n) ^ BigInt(seed);
  const mask = (1n << 64n) - 1n;
  return Array.from({ length: 1 << w }, () => {
    x ^= (x << 13n) & mask;
    x ^= x >> 7n;
    x ^= (x << 17n) & mask;
    return String((x % (1n << 40n)) - (1n << 39n));
  });
}

/** Parameter sets per template: the small sizes the exhaustive tests use, edge cases, and model sizes. */
export const TEMPLATE_CASES: Record<string, Array<Array<TemplateArg>>> = {
  Num2Bits: [[1], [8]],
  IsZero: [[]],
  SignedBits: [[1], [4]],
  UnsignedRange: [[1], [8]],
  DivFloorPow2: [
    [0, 4],
    [2, 3],
    [21, 11],
  ],
  ReluClampFromBits: [
    [5, 2],
    [5, 4],
    [5, 6],
    [11, 8],
  ], // clamp; h = n - 1; h > n - 1; model-sized
  RequantReluClamp: [
    [0, 4, 2],
    [3, 5, 2],
    [3, 5, 4],
    [21, 11, 8],
  ],
  ArgMax: [
    [2, 1],
    [3, 3],
    [10, 20],
  ],
  // One packed element; two; two Poseidon calls (17 packed elements: 16 + 2 inputs).
  PackedCommitment: [
    [3, 8],
    [40, 8],
    [500, 8],
  ],
  // A small tag and a 248-bit one (architecture tags are 31 bytes).
  TaggedSalt: [[12345], ['452312848583266388373324160190187140051835877600158453279131187530910662655']],
  Max2: [[1], [3], [8]],
  MaxOfN: [
    [1, 3],
    [3, 2],
    [4, 8],
  ],
  // Private weights: a 1x1 and a 3->2 layer; requantization with shift 0, with and without the clamp.
  PrivateDense: [
    [1, 1, 1],
    [3, 2, 4],
  ],
  PrivateRequant: [
    [1, 2, 0, 4, 4],
    [2, 3, 3, 5, 2],
    [2, 3, 3, 5, 4],
  ],
  // Op-graph gadgets (lookup.circom, arith.circom). OneHot: the base case, the first product, two levels.
  OneHot: [[1], [2], [4]],
  // Lookup: a single row (w = 1), the smallest split, odd and even widths, an 8-bit activation table.
  Lookup: [
    [1, [3, -5]],
    [2, auditTable(2)],
    [3, auditTable(3)],
    [4, auditTable(4)],
    [8, auditTable(8)],
  ],
  Mul: [[]],
  Select: [[]],
  LessThanSigned: [[1], [3], [12]],
  DivFloor: [
    [1, 1],
    [3, 2],
    [16, 12],
  ],
  IsEqual: [[]],
};

/** Load a compiled circuit with its source and audit it. */
export async function auditCompiled(name: string, source: string, r1csPath: string, symPath: string, options: Partial<AuditOptions> = {}): Promise<AuditReport> {
  const [r1cs, symbols, program] = await Promise.all([loadR1cs(r1csPath), loadSymbolTable(symPath), readCircomProgram(source, INCLUDE_DIRS)]);
  return auditCircuit(name, r1cs, symbols, program, { allow: ALLOWED_FINDINGS, ...options });
}

/** Compile circom source (cached by content under artifactsDir, --O2 as for models) and audit it. */
export async function auditSource(name: string, source: string, options: Partial<AuditOptions> & { artifactsDir?: string } = {}): Promise<AuditReport> {
  const fileName = name.replace(/[^A-Za-z0-9_]+/g, '_').replace(/_+$/, '');
  const compiled = await compileCircom(source, { name: fileName, artifactsDir: options.artifactsDir });
  return auditCompiled(name, source, compiled.r1csPath, compiled.symPath, options);
}

/** The templates defined in circuits/*.circom and the circomlib templates they reach. */
export async function templateLibrary(): Promise<{ templates: Map<string, TemplateInfo>; own: string[] }> {
  const files = (await readdir(CIRCUITS_DIR)).filter((f) => f.endsWith('.circom')).sort();
  const program = await readCircomProgram(files.map((f) => `include "${f}";`).join('\n'), INCLUDE_DIRS);
  const own = [...program.templates.values()].filter((t) => path.dirname(t.file) === CIRCUITS_DIR).map((t) => t.name);
  return { templates: program.templates, own };
}

/** A main that is just `template(params)`, every input public (so --O2 cannot fold an input away). */
export function templateMain(info: TemplateInfo, params: TemplateArg[]): string {
  const inside = (dir: string) => !path.relative(dir, info.file).startsWith('..');
  const include = inside(CIRCUITS_DIR) ? path.relative(CIRCUITS_DIR, info.file) : path.relative(NODE_MODULES, info.file);
  const pub = info.inputs.size ? ` {public [${[...info.inputs].join(', ')}]}` : '';
  return `pragma circom 2.1.6;\ninclude "${include}";\ncomponent main${pub} = ${info.name}(${params.map(argSource).join(', ')});\n`;
}

/** Run `task` over `items`, at most `limit` at a time (each compile is a circom process). */
export async function pool<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await task(items[k]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export interface TemplateAudit {
  reports: AuditReport[];
  /** Coverage problems: a template of circuits/ without a case, or a case for an unknown template. */
  failures: string[];
}

export async function auditTemplates(options: { artifactsDir?: string; cases?: Record<string, Array<Array<TemplateArg>>>; concurrency?: number } = {}): Promise<TemplateAudit> {
  const cases = options.cases ?? TEMPLATE_CASES;
  const { templates, own } = await templateLibrary();
  const failures: string[] = [];
  for (const t of own) if (!cases[t]?.length) failures.push(`template ${t} (${path.basename(templates.get(t)!.file)}) has no audit case in TEMPLATE_CASES`);
  const jobs: Array<{ info: TemplateInfo; params: TemplateArg[] }> = [];
  for (const [name, sets] of Object.entries(cases)) {
    const info = templates.get(name);
    if (!info) failures.push(`TEMPLATE_CASES names ${name}, which no file in circuits/ defines or includes`);
    else for (const params of sets) jobs.push({ info, params });
  }
  const reports = await pool(jobs, options.concurrency ?? 2, ({ info, params }) =>
    auditSource(`${info.name}(${params.map(argLabel).join(', ')})`, templateMain(info, params), { artifactsDir: options.artifactsDir }),
  );
  return { reports, failures };
}

/**
 * Compile a quantized model exactly as the pipeline does (same emitter, same cache) and audit that
 * circuit. Components whose header states no closed formula (the Poseidon commitment) are compiled alone
 * and their measured count stands in, so the total is still checked exactly.
 */
export async function auditModel(qmodel: QuantizedModel, options: ModelCompileOptions & { name?: string } = {}): Promise<AuditReport> {
  const { circuit } = await compileModel(qmodel, options);
  const source = await readFile(circuit.circomPath, 'utf8');
  const name = options.name ?? `model ${qmodel.name}`;
  const first = await auditCompiled(name, source, circuit.r1csPath, circuit.symPath);
  if (!first.unknownCounts.length) return first;
  const { templates } = await templateLibrary();
  const measured = new Map<string, number>();
  for (const key of first.unknownCounts) {
    const m = key.match(/^(\w+)\(([-\d, ]*)\)$/);
    const info = m ? templates.get(m[1]) : undefined;
    if (!m || !info) continue;
    // Kept as written: a parameter may be a field element beyond 2^53 (TaggedSalt's tag).
    const params = m[2] ? m[2].split(',').map((p) => p.trim()) : [];
    measured.set(key, (await auditSource(key, templateMain(info, params), { artifactsDir: options.artifactsDir })).nonlinear);
  }
  return auditCompiled(name, source, circuit.r1csPath, circuit.symPath, { measured });
}
