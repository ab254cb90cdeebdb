import { bindParams, evalConstraintFormula, formulaText, parseConstraintFormula, type CircomProgram, type ConstraintFormula, type TemplateInfo } from './circomSource.js';
import type { SymbolEntry } from '../../src/circuit/symbols.js';
import type { R1csSystem } from '../r1cs.js';

/**
 * Structural soundness audit of a compiled circuit (r1cs + .sym, compiled with --O2 as compileCircom does).
 *
 * Findings, computed on the wires that survive --O2 and named through the .sym file:
 *   unused         a wire in no constraint: the prover may set it to anything.
 *   linear-single  an intermediate wire in exactly one constraint, and only linearly there: that constraint
 *                  can always be met by choosing this wire, so it pins nothing else (the classic
 *                  unconstrained `<--` hint, e.g. a remainder without a range check).
 *   single-use     an intermediate wire in exactly one constraint, multiplied there (a*w = ...): free
 *                  wherever its multiplier is 0. Legitimate for IsZero's inverse, suspicious elsewhere.
 * "Intermediate" means not an input or output of main (wires 1 .. nOutputs+nPubInputs+nPrvInputs). The
 * constant wire 0 is not a signal and is skipped. A finding fails the audit unless an AllowRule with a
 * written reason matches it by template and signal name (never by wire index).
 *
 * Constraint counts: every template states "Constraints: <formula>" in its header. --O2 folds linear
 * constraints into others, so a header counts non-linear constraints. The audit checks, exactly, that the
 * circuit's non-linear constraint count equals the sum of the stated counts of its outermost components
 * whose template states one (a header without a closed formula is replaced by the instance's count
 * measured alone, see auditModel). Per-instance counts are a heuristic, see attribute() below, reported
 * and not enforced.
 */

export type FindingKind = 'unused' | 'linear-single' | 'single-use';

export interface AllowRule {
  kind: FindingKind;
  template: string;
  /** Matched against the signal's name inside its component, indices included (e.g. `inv`, `qBits[3]`). */
  signal: RegExp;
  /** Only when the component is main itself: a template compiled alone, its inputs free. */
  onlyAsMain?: boolean;
  reason: string;
  /** The test that shows the finding is harmless. */
  shownBy: string;
}

export interface ComponentNode {
  path: string;
  template: string | null;
  params: Record<string, bigint> | null;
  info: TemplateInfo | null;
  children: ComponentNode[];
}

export interface Finding {
  kind: FindingKind;
  wire: number;
  names: string[];
  constraints: number[];
  allowedBy: AllowRule | null;
}

export interface TemplateRow {
  /** `Template(params)`. */
  instance: string;
  instances: number;
  /** Inside a component whose template states a count (its constraints are counted there). */
  nested: boolean;
  /** The header's exact formula, or its text when it states no closed form. */
  stated: string | null;
  /** Per instance: the formula's value, else a count measured by compiling the instance alone. */
  expected: number | null;
  expectedFrom: 'formula' | 'measured alone' | null;
  /** Heuristic per-instance attribution (outermost stating components only). */
  attributed: { min: number; max: number; mismatched: number } | null;
  /** Signals the template assigns with `<--`: the prover's free choices that its constraints must pin. */
  hints: string[];
}

export interface AuditReport {
  name: string;
  constraints: number;
  nonlinear: number;
  wires: number;
  findings: Finding[];
  /** Sum of the outermost stating components' expected counts; null if one is unknown. */
  expectedNonlinear: number | null;
  templates: TemplateRow[];
  /** Every outermost component that states its count (component path, e.g. main.rq0[3]) and that count. */
  components: Array<{ path: string; template: string; expected: number | null }>;
  /** Outermost stating instances whose count is not a closed formula (measure them alone, then re-audit). */
  unknownCounts: string[];
  failures: string[];
  warnings: string[];
}

/** circomlib templates have no header comment; their counts, read off their code, checked by the template audit. */
export const LIBRARY_FORMULAS: Record<string, string> = {
  Num2Bits: 'n', // n booleanity constraints; the recomposition sum(out[i] * 2^i) === in is linear
  IsZero: '2', // out <== -in * inv + 1 and in * out === 0
  IsEqual: '2', // IsZero of in[1] - in[0] (the difference is linear)
};

/**
 * What a template's header says about its constraint count: `stated` is the header text (or the library
 * formula), `formula` its exact form when it is a closed formula in the template's parameters.
 */
export function formulaOf(info: TemplateInfo | null): { stated: string; formula: ConstraintFormula | null } | null {
  if (!info) return null;
  const stated = info.constraintsText ?? LIBRARY_FORMULAS[info.name] ?? null;
  // Only numeric parameters: an array parameter (a table) cannot take part in a closed formula.
  return stated
    ? {
        stated,
        formula: parseConstraintFormula(
          stated,
          info.params.filter((p) => !info.arrayParams.has(p)),
        ),
      }
    : null;
}

/** `Template(p1, p2)`, the key of a template instantiation in reports and in `measured`; an array parameter shows as `[]`. */
export function instanceKey(template: string | null, params: Record<string, bigint> | null, info: TemplateInfo | null): string {
  const ps = info ? info.params.map((k) => (info.arrayParams.has(k) ? '[]' : params ? String(params[k]) : '?')).join(', ') : '?';
  return `${template ?? '?'}(${ps})`;
}

/** `main.rq0[3].div.qBits[2]` -> component `main.rq0[3].div`, signal `qBits[2]` (indices hold no dots). */
export function splitName(name: string): { component: string; signal: string } {
  const dot = name.lastIndexOf('.');
  return { component: name.slice(0, dot), signal: name.slice(dot + 1) };
}

/** Component path -> template and parameters, from the statically read sources. */
function buildTree(program: CircomProgram, paths: Iterable<string>): Map<string, ComponentNode> {
  const nodes = new Map<string, ComponentNode>();
  const resolve = (path: string): ComponentNode => {
    const known = nodes.get(path);
    if (known) return known;
    let node: ComponentNode;
    if (!path.includes('.')) {
      const info = program.main ? (program.templates.get(program.main.template) ?? null) : null;
      node = { path, template: info?.name ?? null, params: info && program.main ? bindParams(info, program.main.args, {}) : null, info, children: [] };
    } else {
      const parent = resolve(path.slice(0, path.lastIndexOf('.')));
      const segment = path.slice(path.lastIndexOf('.') + 1);
      const base = segment.replace(/\[.*$/, '');
      const all = parent.info?.components.get(base) ?? [];
      // A line for exactly this index (`mp0[3] = MaxOfN(4, 8)`) wins over generic ones (`gap[i] = ...`).
      const exact = all.filter((d) => d.index === segment.slice(base.length));
      const decls = exact.length ? exact : all.filter((d) => !/^(\[\d+\])+$/.test(d.index ?? ''));
      const names = new Set(decls.map((d) => d.template));
      const info = names.size === 1 ? (program.templates.get(decls[0].template) ?? null) : null;
      // Several instantiations (if/else branches) must agree on the parameters, or they stay unknown.
      const bound = info && parent.params ? decls.map((d) => bindParams(info, d.args, parent.params!)) : [null];
      const key = (b: Record<string, bigint> | null) => (b ? Object.entries(b).join(';') : null);
      const same = bound.every((b) => key(b) !== null && key(b) === key(bound[0]));
      node = { path, template: info?.name ?? (names.size ? [...names].join('|') : null), params: same ? bound[0] : null, info, children: [] };
      parent.children.push(node);
    }
    nodes.set(path, node);
    return node;
  };
  for (const p of paths) resolve(p);
  return nodes;
}

export interface AuditOptions {
  allow: AllowRule[];
  /** Non-linear counts of `Template(params)` compiled alone, for headers without a closed formula. */
  measured?: Map<string, number>;
}

export function auditCircuit(name: string, r1cs: R1csSystem, symbols: SymbolEntry[], program: CircomProgram, options: AuditOptions): AuditReport {
  const failures: string[] = [];
  const warnings: string[] = [];
  const nodes = buildTree(program, new Set(symbols.map((s) => splitName(s.name).component)));
  const root = nodes.get('main');
  if (!root) throw new Error(`${name}: no main component in the symbols`);

  // Names of each surviving wire (circom 2.2.3 keeps one name per wire; several are handled anyway).
  const names = new Map<number, string[]>();
  for (const s of symbols) {
    if (s.varIdx < 0) continue;
    if (!names.has(s.varIdx)) names.set(s.varIdx, []);
    names.get(s.varIdx)!.push(s.name);
  }
  const io = 1 + r1cs.nOutputs + r1cs.nPubInputs + r1cs.nPrvInputs; // wires [1, io) are main's inputs and outputs

  // Where each wire occurs: constraint indices and whether it is ever multiplied by another wire.
  const uses: number[][] = Array.from({ length: r1cs.nVars }, () => []);
  const multiplied = new Uint8Array(r1cs.nVars);
  const nonConst = (lc: Map<number, bigint>) => [...lc.keys()].some((k) => k !== 0);
  let nonlinear = 0;
  r1cs.constraints.forEach(([a, b, c], k) => {
    const aVar = nonConst(a);
    const bVar = nonConst(b);
    if (aVar && bVar) nonlinear++;
    const seen = new Set<number>();
    for (const [lc, other] of [
      [a, bVar],
      [b, aVar],
      [c, false],
    ] as const) {
      for (const w of lc.keys()) {
        if (w === 0) continue;
        if (other) multiplied[w] = 1;
        if (!seen.has(w)) {
          seen.add(w);
          uses[w].push(k);
        }
      }
    }
  });

  const findings: Finding[] = [];
  for (let w = 1; w < r1cs.nVars; w++) {
    let kind: FindingKind | null = null;
    if (uses[w].length === 0) kind = 'unused';
    else if (w >= io && uses[w].length === 1) kind = multiplied[w] ? 'single-use' : 'linear-single';
    if (!kind) continue;
    const wireNames = names.get(w) ?? [`<wire ${w} without a name>`];
    const allowedBy =
      options.allow.find(
        (rule) =>
          rule.kind === kind &&
          wireNames.some((n) => {
            const { component, signal } = splitName(n);
            return nodes.get(component)?.template === rule.template && rule.signal.test(signal) && (!rule.onlyAsMain || component === 'main');
          }),
      ) ?? null;
    findings.push({ kind, wire: w, names: wireNames, constraints: uses[w], allowedBy });
  }
  const bad = findings.filter((f) => !f.allowedBy);
  for (const f of bad.slice(0, 20)) failures.push(`${f.kind}: ${f.names.join(' = ')} (wire ${f.wire}${f.constraints.length ? `, constraint ${f.constraints[0]}` : ''})`);
  if (bad.length > 20) failures.push(`... and ${bad.length - 20} more findings`);

  // Outermost components whose template states a count: their counts must add up to the circuit's.
  const rootOf = new Map<string, ComponentNode | null>();
  const stating: ComponentNode[] = [];
  const walk = (n: ComponentNode, inside: ComponentNode | null) => {
    const here = inside ?? (formulaOf(n.info) ? n : null);
    if (here === n) stating.push(n);
    rootOf.set(n.path, here);
    n.children.forEach((c) => walk(c, here));
  };
  walk(root, null);
  const expectedOf = (n: ComponentNode): { value: number | null; from: TemplateRow['expectedFrom'] } => {
    const f = formulaOf(n.info)?.formula;
    const v = f && n.params ? evalConstraintFormula(f, n.params) : null;
    if (v !== null) return { value: Number(v), from: 'formula' };
    const m = options.measured?.get(instanceKey(n.template, n.params, n.info));
    return m === undefined ? { value: null, from: null } : { value: m, from: 'measured alone' };
  };
  const unknownCounts = [...new Set(stating.filter((n) => expectedOf(n).value === null).map((n) => instanceKey(n.template, n.params, n.info)))];
  const expectedNonlinear = unknownCounts.length ? null : stating.reduce((sum, n) => sum + expectedOf(n).value!, 0);
  if (stating.length === 0) failures.push('no component states its constraint count');
  else if (expectedNonlinear === null) warnings.push(`total not checked: no exact count for ${unknownCounts.join(', ')}`);
  else if (expectedNonlinear !== nonlinear) failures.push(`${nonlinear} non-linear constraints, the stated counts add up to ${expectedNonlinear}`);

  const counts = attribute(r1cs, names, rootOf);

  // One row per template instantiation (nested ones separately), in tree order.
  const rows = new Map<string, TemplateRow>();
  const perRoot = new Map<string, number[]>();
  const visit = (n: ComponentNode) => {
    const key = instanceKey(n.template, n.params, n.info);
    const isRoot = rootOf.get(n.path) === n;
    const nested = rootOf.get(n.path) !== null && !isRoot;
    const rowKey = key + (nested ? ' nested' : '');
    let row = rows.get(rowKey);
    if (!row) {
      const f = formulaOf(n.info);
      const e = expectedOf(n);
      row = {
        instance: key,
        instances: 0,
        nested,
        stated: f ? (f.formula ? formulaText(f.formula) : f.stated) : null,
        expected: e.value,
        expectedFrom: e.from,
        attributed: null,
        hints: n.info?.hints ?? [],
      };
      rows.set(rowKey, row);
    }
    row.instances++;
    if (isRoot) {
      if (!perRoot.has(key)) perRoot.set(key, []);
      perRoot.get(key)!.push(counts.get(n.path) ?? 0);
    }
    n.children.forEach(visit);
  };
  visit(root);
  for (const [key, list] of perRoot) {
    const row = rows.get(key)!;
    const mismatched = row.expected === null ? 0 : list.filter((c) => c !== row.expected).length;
    row.attributed = { min: list.reduce((a, b) => Math.min(a, b)), max: list.reduce((a, b) => Math.max(a, b)), mismatched };
    if (mismatched) warnings.push(`${key}: the heuristic attributes a count other than ${row.expected} to ${mismatched} of ${list.length} instances`);
  }
  const own = counts.get(root.path) ?? 0;
  if (own && rootOf.get(root.path) !== root) warnings.push(`${own} non-linear constraints attributed to ${root.template ?? 'main'} itself`);
  if (counts.get('') ?? 0) warnings.push(`${counts.get('')} non-linear constraints tie between components (not attributed)`);

  const components = stating.map((n) => ({ path: n.path, template: instanceKey(n.template, n.params, n.info), expected: expectedOf(n).value }));
  return {
    name,
    constraints: r1cs.constraints.length,
    nonlinear,
    wires: r1cs.nVars,
    findings,
    expectedNonlinear,
    templates: [...rows.values()],
    components,
    unknownCounts,
    failures,
    warnings,
  };
}

/**
 * Heuristic attribution of non-linear constraints to the outermost stating components ("roots"). --O2
 * substitutes linear constraints into the others, so a constraint written in one component can mention
 * wires of its inputs' producers, and the name circom keeps for a wire may belong to the component that
 * consumes it. Each wire votes for the root that contains the component of its name; wires of main's own
 * signals (e.g. the model's inputs, substituted into every first-layer constraint) do not vote; the root
 * with most votes wins and a tie is left unattributed. A constraint with no votes belongs to main. This is
 * exact when roots exchange few wires (one activation per consumer constraint); nested components are
 * not attributed at all, since inside a template circom's naming moves constraints between siblings.
 */
function attribute(r1cs: R1csSystem, names: Map<number, string[]>, rootOf: Map<string, ComponentNode | null>): Map<string, number> {
  const counts = new Map<string, number>(); // '' collects ties
  const add = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const voterOf = new Map<number, string | null>();
  for (const [w, list] of names) voterOf.set(w, rootOf.get(splitName(list[0]).component)?.path ?? null);
  for (const [a, b, c] of r1cs.constraints) {
    if (![a, b].every((lc) => [...lc.keys()].some((k) => k !== 0))) continue; // linear: not in any header count
    const votes = new Map<string, number>();
    const seen = new Set<number>();
    for (const lc of [a, b, c]) {
      for (const w of lc.keys()) {
        if (w === 0 || seen.has(w)) continue;
        seen.add(w);
        const v = voterOf.get(w);
        if (v) votes.set(v, (votes.get(v) ?? 0) + 1);
      }
    }
    const ranked = [...votes].sort((x, y) => y[1] - x[1]);
    if (ranked.length === 0) add('main');
    else if (ranked.length > 1 && ranked[0][1] === ranked[1][1]) add('');
    else add(ranked[0][0]);
  }
  return counts;
}

/** The report as a text table (one line per template and parameters) followed by findings and failures. */
export function formatReport(r: AuditReport): string {
  const lines: string[] = [];
  const ok = r.failures.length === 0;
  lines.push(
    `${ok ? 'PASS' : 'FAIL'} ${r.name}: ${r.constraints} constraints (${r.nonlinear} non-linear; stated counts add up to ${r.expectedNonlinear ?? '?'}), ${r.wires} wires`,
  );
  const table = [['template', 'instances', 'non-linear/instance', 'stated in header', 'expected']];
  for (const t of r.templates) {
    const a = t.attributed;
    const got = t.nested ? '(in parent)' : a ? (a.min === a.max ? `${a.min}` : `${a.min}..${a.max}`) : '-';
    const stated = t.stated === null ? '-' : t.stated.length > 48 ? `${t.stated.slice(0, 45)}...` : t.stated;
    const expected = t.expected === null ? '-' : `${t.expected}${t.expectedFrom === 'measured alone' ? ' (measured alone)' : ''}`;
    table.push([`${t.nested ? '  ' : ''}${t.instance}`, String(t.instances), got, stated, expected]);
  }
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table)
    lines.push(
      '  ' +
        row
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd(),
    );
  const allowed = r.findings.filter((f) => f.allowedBy);
  if (allowed.length) {
    const byRule = new Map<AllowRule, Finding[]>();
    for (const f of allowed) byRule.set(f.allowedBy!, [...(byRule.get(f.allowedBy!) ?? []), f]);
    for (const [rule, list] of byRule) lines.push(`  allowed ${rule.kind} x${list.length} (${rule.template}.${rule.signal.source}, e.g. ${list[0].names[0]}): ${rule.reason}`);
  }
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  for (const f of r.failures) lines.push(`  FAIL: ${f}`);
  return lines.join('\n');
}
