import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { exists } from '../../src/util/fs.js';

/**
 * A deliberately small static reader of circom sources, for the soundness audit (audit.ts). It does not
 * parse circom; it extracts what the audit needs and that a regular scan can get right for the code in
 * circuits/ and circomlib: each template's parameters, its input/output signal names, the templates its
 * components are instantiated from (with argument expressions), its `<--` hints, and the
 * "Constraints: ..." formula of its header comment. The r1cs, not this file, is the ground truth; this
 * only names things (component path -> template) and states what the headers claim.
 */

export interface ComponentDecl {
  template: string;
  /** Argument expressions as written, to evaluate against the parent's parameters. */
  args: string[];
  /** The index as written on the left (`[3]`, `[i]`, '' for a scalar), spaces removed. */
  index?: string;
}

export interface TemplateInfo {
  name: string;
  file: string;
  params: string[];
  /**
   * Parameters the body indexes (`T[i]`): array parameters such as a lookup table. They take an array
   * literal or a `var` array of the caller, are never bound to a number and may not appear in a header
   * formula (a count that depended on a table's entries would not be a closed formula).
   */
  arrayParams: Set<string>;
  inputs: Set<string>;
  outputs: Set<string>;
  /** Component name (without indices) -> its distinct instantiations (if/else branches, per-index lines). */
  components: Map<string, ComponentDecl[]>;
  /** Signals assigned with `<--` (hints the prover chooses; constraints must pin them). */
  hints: string[];
  /** The text after "Constraints:" in the header comment, or null. */
  constraintsText: string | null;
}

export interface CircomProgram {
  templates: Map<string, TemplateInfo>;
  main: ComponentDecl | null;
}

/** Blank out comments, keeping every other character at its offset (so offsets index the raw text too). */
function stripComments(src: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  return src.replace(/\/\*[\s\S]*?\*\//g, blank).replace(/\/\/[^\n]*/g, blank);
}

/** Index just past the brace matching the one at `open`. */
function matchBrace(src: string, open: number): number {
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if (src[i] === '{') depth++;
    else if (src[i] === '}' && --depth === 0) return i + 1;
  }
  throw new Error('unbalanced braces');
}

/** Split on commas at bracket depth 0. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if ('([{'.includes(ch)) depth++;
    if (')]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** The `//` comment block directly above position `at` (blank lines end it). */
function headerComment(src: string, at: number): string {
  const lines = src.slice(0, at).split('\n');
  lines.pop(); // the template line itself
  const block: string[] = [];
  while (lines.length && /^\s*\/\//.test(lines[lines.length - 1])) block.unshift(lines.pop()!.replace(/^\s*\/\/\s?/, ''));
  return block.join(' ');
}

function parseTemplates(raw: string, file: string, into: Map<string, TemplateInfo>): void {
  const src = stripComments(raw);
  const re = /\btemplate\s+(?:parallel\s+|custom\s+)*([A-Za-z_]\w*)\s*\(([^)]*)\)\s*\{/g;
  for (let m; (m = re.exec(src));) {
    const bodyStart = m.index + m[0].length - 1;
    const body = src.slice(bodyStart, matchBrace(src, bodyStart));
    const info: TemplateInfo = {
      name: m[1],
      file,
      params: m[2]
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
      arrayParams: new Set(),
      inputs: new Set(),
      outputs: new Set(),
      components: new Map(),
      hints: [],
      constraintsText: null,
    };
    for (const p of info.params) if (new RegExp(`\\b${p}\\s*\\[`).test(body)) info.arrayParams.add(p);
    // signal input {tags} a[n], b;   signal output out;
    for (const s of body.matchAll(/\bsignal\s+(input|output)\s*(?:\{[^}]*\}\s*)?([^;<=]+)/g)) {
      for (const decl of splitTop(s[2])) {
        const name = decl.match(/^[A-Za-z_]\w*/)?.[0];
        if (name) (s[1] === 'input' ? info.inputs : info.outputs).add(name);
      }
    }
    const declared = new Set([...body.matchAll(/\bcomponent\s+([A-Za-z_]\w*)/g)].map((c) => c[1]));
    // `name[i]... = Template(args)` where name is a declared component (also `component name = T(args)`).
    for (const c of body.matchAll(/\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)(?<![<=!>])=(?!=)\s*([A-Za-z_]\w*)\s*\(([^;]*?)\)\s*;/g)) {
      if (!declared.has(c[1])) continue;
      const decl = { template: c[3], args: splitTop(c[4]), index: c[2].replace(/\s+/g, '') };
      const list = info.components.get(c[1]) ?? [];
      // Emitted mains write one line per instance (`rq0[5] = ...`): keep each distinct one once.
      if (!list.some((d) => d.template === decl.template && d.index === decl.index && d.args.join() === decl.args.join())) list.push(decl);
      info.components.set(c[1], list);
    }
    for (const h of body.matchAll(/\b([A-Za-z_][\w.]*)\s*(?:\[[^\]]*\]\s*)*<--/g)) if (!info.hints.includes(h[1])) info.hints.push(h[1]);
    const ct = headerComment(raw, m.index).match(/Constraints:\s*(.*)$/);
    info.constraintsText = ct ? ct[1].trim() : null;
    into.set(info.name, info);
  }
}

/**
 * Read `source` (a main circuit) and every file it includes, resolved like circom does against the
 * source's directory and the include directories.
 */
export async function readCircomProgram(source: string, includeDirs: string[], sourceDir = process.cwd()): Promise<CircomProgram> {
  const templates = new Map<string, TemplateInfo>();
  const seen = new Set<string>();
  const visit = async (text: string, file: string, dir: string) => {
    parseTemplates(text, file, templates);
    for (const inc of stripComments(text).matchAll(/\binclude\s+"([^"]+)"\s*;/g)) {
      let found: string | null = null;
      for (const d of [dir, ...includeDirs]) {
        if (await exists(path.join(d, inc[1]))) {
          found = path.resolve(d, inc[1]);
          break;
        }
      }
      if (!found) throw new Error(`include "${inc[1]}" not found`);
      if (seen.has(found)) continue;
      seen.add(found);
      await visit(await readFile(found, 'utf8'), found, path.dirname(found));
    }
  };
  await visit(source, '<main>', sourceDir);
  const m = stripComments(source).match(/\bcomponent\s+main\s*(?:\{[^}]*\})?\s*=\s*([A-Za-z_]\w*)\s*\(([^;]*?)\)\s*;/);
  return { templates, main: m ? { template: m[1], args: splitTop(m[2]) } : null };
}

// ---------------------------------------------------------------------------------------------------------
// Integer expressions: template arguments and header formulas ("N * (b + 2)", "s + n + 4 when h < n - 1").

type Env = Record<string, bigint>;
const TOKEN = /\s*(\d+|[A-Za-z_]\w*|<<|>>|\*\*|<=|>=|==|!=|&&|\|\||[-+*/\\%()<>!?:])/y;

function tokenize(text: string): { tokens: string[]; ends: number[] } {
  const tokens: string[] = [];
  const ends: number[] = [];
  TOKEN.lastIndex = 0;
  for (let m; TOKEN.lastIndex < text.length && (m = TOKEN.exec(text));) {
    tokens.push(m[1]);
    ends.push(TOKEN.lastIndex);
  }
  return { tokens, ends };
}

const BINARY: Array<string[]> = [['||'], ['&&'], ['==', '!='], ['<', '<=', '>', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '\\', '%'], ['**']];

/**
 * Parse the longest prefix of `text` that is an expression; returns its value (null if it names an
 * unknown identifier) and how many characters it used. Comparisons give 1n/0n.
 */
export function evalPrefix(text: string, env: Env): { value: bigint | null; used: number } | null {
  const { tokens, ends } = tokenize(text);
  let i = 0;
  const isIdent = (t: string | undefined) => t !== undefined && /^[A-Za-z_]/.test(t);
  const apply = (op: string, a: bigint, b: bigint): bigint | null => {
    if ((['/', '\\', '%'].includes(op) && b === 0n) || (op === '**' && b < 0n)) return null;
    switch (op) {
      case '+':
        return a + b;
      case '-':
        return a - b;
      case '*':
        return a * b;
      case '/':
      case '\\':
        return a / b;
      case '%':
        return a % b;
      case '**':
        return a ** b;
      case '<<':
        return a << b;
      case '>>':
        return a >> b;
      case '<':
        return a < b ? 1n : 0n;
      case '<=':
        return a <= b ? 1n : 0n;
      case '>':
        return a > b ? 1n : 0n;
      case '>=':
        return a >= b ? 1n : 0n;
      case '==':
        return a === b ? 1n : 0n;
      case '!=':
        return a !== b ? 1n : 0n;
      case '&&':
        return a && b ? 1n : 0n;
      default:
        return a || b ? 1n : 0n;
    }
  };
  // Returns undefined on a syntax error, null for an unknown identifier.
  const primary = (): bigint | null | undefined => {
    const t = tokens[i];
    if (t === undefined) return undefined;
    if (/^\d+$/.test(t)) return (i++, BigInt(t));
    if (isIdent(t) && t !== 'when') return (i++, t in env ? env[t] : null);
    if (t === '-' || t === '!') {
      i++;
      const v = primary();
      return v == null ? v : t === '-' ? -v : v ? 0n : 1n;
    }
    if (t === '(') {
      const save = i++;
      const v = binary(0);
      if (v === undefined || tokens[i] !== ')') return ((i = save), undefined);
      return (i++, v);
    }
    return undefined;
  };
  const binary = (level: number): bigint | null | undefined => {
    if (level === BINARY.length) return primary();
    let left = binary(level + 1);
    while (left !== undefined && BINARY[level].includes(tokens[i])) {
      const save = i;
      const op = tokens[i++];
      const right = binary(level + 1);
      if (right === undefined) return ((i = save), left);
      left = left === null || right === null ? null : apply(op, left, right);
    }
    return left;
  };
  const value = binary(0);
  if (value === undefined || i === 0) return null;
  return { value, used: ends[i - 1] };
}

/** The formula as (value expression, condition) clauses; null when the header has none we can read. */
export interface ConstraintFormula {
  clauses: Array<{ expr: string; when: string | null }>;
}

/**
 * Read "Constraints: ..." text in the forms the gadget library uses:
 *   "N * (b + 2) (explanation)."          one closed form, an explanatory parenthetical ignored
 *   "s + n + 4 (s + n + 1 when h >= n - 1)."   a default and a conditional override
 *   "4 when h < n - 1 (explanation); 1 when h >= n - 1."   conditional clauses separated by ';'
 */
export function parseConstraintFormula(text: string | null, params: string[]): ConstraintFormula | null {
  if (!text) return null;
  const clauses: ConstraintFormula['clauses'] = [];
  let rest = text;
  const probe: Env = new Proxy({}, { has: () => true, get: () => 1n }) as Env; // any identifier parses
  for (;;) {
    const e = evalPrefix(rest, probe);
    if (!e) break;
    const expr = rest.slice(0, e.used).trim();
    rest = rest.slice(e.used).trimStart();
    let when: string | null = null;
    if (rest.startsWith('when ')) {
      const c = evalPrefix(rest.slice(5), probe);
      if (!c) break;
      when = rest.slice(5, 5 + c.used).trim();
      rest = rest.slice(5 + c.used).trimStart();
    }
    clauses.push({ expr, when });
    if (rest.startsWith('(')) {
      let close = 0;
      for (let depth = 0; close < rest.length; close++) {
        if (rest[close] === '(') depth++;
        else if (rest[close] === ')' && --depth === 0) break;
      }
      const inner = rest.slice(1, close);
      const alt = inner.match(/^(.*?)\s+when\s+(.*)$/);
      if (alt && evalPrefix(alt[1], probe)?.used === alt[1].length && evalPrefix(alt[2], probe)?.used === alt[2].length) {
        clauses.push({ expr: alt[1].trim(), when: alt[2].trim() });
      }
      rest = rest.slice(close + 1).trimStart();
    }
    if (!rest.startsWith(';')) break;
    rest = rest.slice(1).trimStart();
  }
  // Exact only if it speaks of the template's parameters ("about 240 + 30 * width" is prose, not a formula).
  const known = (e: string) => tokenize(e).tokens.every((t) => !/^[A-Za-z_]/.test(t) || params.includes(t));
  if (!clauses.length || !clauses.every((c) => known(c.expr) && (c.when === null || known(c.when)))) return null;
  return { clauses };
}

export function formulaText(f: ConstraintFormula): string {
  return f.clauses.map((c) => (c.when ? `${c.expr} if ${c.when}` : c.expr)).join('; ');
}

/** Evaluate a formula for given parameters: a matching conditional clause wins over an unconditional one. */
export function evalConstraintFormula(f: ConstraintFormula, env: Env): bigint | null {
  const val = (s: string) => evalPrefix(s, env)?.value ?? null;
  for (const c of f.clauses) if (c.when !== null && val(c.when) === 1n) return val(c.expr);
  const plain = f.clauses.find((c) => c.when === null);
  return plain ? val(plain.expr) : null;
}

/**
 * Bind a template's parameters to evaluated argument expressions (null when an argument is unknown).
 * Array parameters (TemplateInfo.arrayParams) are left unbound, whatever their argument.
 */
export function bindParams(t: TemplateInfo, args: string[], env: Env): Env | null {
  if (args.length !== t.params.length) return null;
  const out: Env = {};
  for (let k = 0; k < args.length; k++) {
    if (t.arrayParams.has(t.params[k])) continue;
    const e = evalPrefix(args[k], env);
    if (!e || e.value === null || e.used !== args[k].length) return null;
    out[t.params[k]] = e.value;
  }
  return out;
}
