import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { auditCircuit, type AuditReport } from '../tools/audit/audit.js';
import { ALLOWED_FINDINGS, auditModel, auditSource, auditTable, auditTemplates, templateLibrary, TEMPLATE_CASES, type TemplateArg } from '../tools/audit/auditTargets.js';
import { evalConstraintFormula, parseConstraintFormula, readCircomProgram } from '../tools/audit/circomSource.js';
import type { SymbolEntry } from '../src/circuit/symbols.js';
import type { R1csSystem } from '../tools/r1cs.js';
import { FIELD_P } from '../src/circuit/witness.js';
import { LAYER_BUNDLED_MODELS, loadModelSource } from '../src/model/index.js';
import { quantizeModel } from '../src/quantize/quantize.js';
import type { QuantizedModel } from '../src/quantize/types.js';
import { INCLUDE_DIRS } from '../tools/audit/auditTargets.js';
import { randomFloatModel, randomInputs } from './helpers/models.js';

/**
 * The soundness audit (tools/audit/audit.ts, npm run audit:circuits): every template in circuits/ and the
 * bundled and random models pass it, and it catches deliberately broken circuits.
 */
let artifactsDir: string;
beforeAll(() => {
  artifactsDir = mkdtempSync(path.join(tmpdir(), 'zkinfer-audit-'));
});
afterAll(() => {
  if (artifactsDir) rmSync(artifactsDir, { recursive: true, force: true });
});

const kinds = (r: AuditReport) => r.findings.map((f) => `${f.kind} ${f.names.join('=')}${f.allowedBy ? ' (allowed)' : ''}`);
/** The heuristic attribution agrees with every header formula, instance by instance. */
const attributionExact = (r: AuditReport) => r.templates.filter((t) => t.attributed).every((t) => t.attributed!.mismatched === 0);

describe('header formulas', () => {
  it('reads the three forms used in circuits/ and refuses prose', () => {
    const argmax = parseConstraintFormula('N * (b + 2) (N booleanity, N selector products, N b-bit range checks). Precondition ...', ['N', 'b'])!;
    expect(evalConstraintFormula(argmax, { N: 10n, b: 20n })).toBe(220n);
    const rq = parseConstraintFormula('s + n + 4 (s + n + 1 when h >= n - 1). Precondition and guarantees as the parts above.', ['s', 'n', 'h'])!;
    expect(evalConstraintFormula(rq, { s: 21n, n: 11n, h: 8n })).toBe(36n);
    expect(evalConstraintFormula(rq, { s: 3n, n: 5n, h: 4n })).toBe(9n);
    const relu = parseConstraintFormula('4 when h < n - 1 (IsZero over the high bits: 2, two products: 2); 1 when h >= n - 1. Guarantees: ...', ['n', 'h'])!;
    expect([evalConstraintFormula(relu, { n: 5n, h: 2n }), evalConstraintFormula(relu, { n: 5n, h: 4n })]).toEqual([4n, 1n]);
    expect(parseConstraintFormula("n. Used for the model's input pixels.", ['n'])!.clauses).toEqual([{ expr: 'n', when: null }]);
    expect(parseConstraintFormula('only the Poseidon calls (about 240 + 30 * width each, width = inputs per call).', ['n', 'bits'])).toBeNull();
    expect(parseConstraintFormula('n * k', ['n'])).toBeNull(); // k is not a parameter
  });
});

describe('every template in circuits/, compiled alone', () => {
  // Every template, both branches of each `if` on parameters; npm run audit:circuits runs all of TEMPLATE_CASES.
  const CASES: Record<string, Array<Array<TemplateArg>>> = {
    Num2Bits: [[8]],
    IsZero: [[]],
    SignedBits: [[4]],
    UnsignedRange: [[8]],
    DivFloorPow2: [
      [0, 4],
      [2, 3],
    ],
    ReluClampFromBits: [
      [5, 2],
      [5, 4],
    ],
    RequantReluClamp: [
      [3, 5, 2],
      [3, 5, 4],
    ],
    ArgMax: [[3, 3]],
    PackedCommitment: [[40, 8]],
    Max2: [[3]],
    MaxOfN: [
      [1, 3],
      [3, 2],
    ],
    PrivateDense: [[3, 2, 4]],
    PrivateRequant: [
      [1, 2, 0, 4, 4],
      [2, 3, 3, 5, 2],
    ],
    TaggedSalt: [[12345]],
    // Op-graph gadgets: both branches of OneHot and of Lookup (single row, w = 1), an odd width.
    OneHot: [[1], [3]],
    Lookup: [
      [1, [3, -5]],
      [3, auditTable(3)],
    ],
    Mul: [[]],
    Select: [[]],
    LessThanSigned: [[3]],
    DivFloor: [[3, 2]],
    IsEqual: [[]],
  };
  let reports: AuditReport[];
  let coverage: string[];
  beforeAll(async () => {
    ({ reports, failures: coverage } = await auditTemplates({ artifactsDir, cases: CASES }));
  }, 600_000);

  it('covers every template defined in circuits/*.circom', async () => {
    expect(coverage).toEqual([]);
    const { own } = await templateLibrary();
    expect(own.length).toBeGreaterThanOrEqual(7);
    for (const t of own)
      expect(
        reports.some((r) => r.name.startsWith(`${t}(`)),
        t,
      ).toBe(true);
    expect(reports.length).toBe(Object.values(CASES).flat().length);
    for (const t of Object.keys(CASES)) expect(TEMPLATE_CASES[t], `the CLI audits ${t} too`).toBeDefined();
  });

  it('has no finding outside the allow-list and matches every exact header formula', () => {
    for (const r of reports) {
      expect(r.failures, r.name).toEqual([]);
      const top = r.templates[0];
      if (top.expectedFrom === 'formula') expect(r.nonlinear, r.name).toBe(top.expected);
    }
    // The templates whose header states no closed formula (they print the header next to the count).
    const prose = [...new Set(reports.filter((r) => r.templates[0].expected === null).map((r) => r.templates[0].instance.split('(')[0]))];
    expect(prose).toEqual(['PackedCommitment']);
  });

  it('RequantReluClamp and the models have no unused wire; ReluClampFromBits alone leaves exactly its unread inputs', () => {
    for (const r of reports.filter((x) => x.name.startsWith('RequantReluClamp')))
      expect(
        r.findings.filter((f) => f.kind === 'unused'),
        r.name,
      ).toEqual([]);
    for (const r of reports.filter((x) => x.name.startsWith('ReluClampFromBits'))) {
      const [n, h] = r.name.match(/\d+/g)!.map(Number);
      const unused = r.findings.filter((f) => f.kind === 'unused').map((f) => f.names[0]);
      // Clamping (h < n - 1) builds out from the bits and never reads q; otherwise out = sign bit * q.
      const expected = h < n - 1 ? ['main.q'] : Array.from({ length: n - 1 }, (_, i) => `main.qBits[${i}]`);
      expect(unused.sort(), r.name).toEqual(expected.sort());
    }
  });

  it('allows IsZero.inv, and nothing else, wherever IsZero appears', () => {
    const allowedKinds = new Set(reports.flatMap((r) => r.findings.filter((f) => f.allowedBy && f.allowedBy.template === 'IsZero').map((f) => f.names[0].split('.').pop())));
    expect([...allowedKinds]).toEqual(['inv']);
  });
});

describe('array template parameters (Lookup tables) in a caller, as the op-graph emitter writes them', () => {
  it('a table from a `var` array of main and one as a literal: both Lookups counted by the header formula', async () => {
    const T = auditTable(4, 7);
    const r = await auditSource(
      'lookup_in_caller',
      `pragma circom 2.1.6;
include "lookup.circom";
include "arith.circom";
template Graph() {
    signal input x;
    signal output y;
    var T0[16] = [${T.join(', ')}];
    component a = Lookup(4, T0);
    a.in <== x;
    component b = Lookup(2, [1, -2, 3, 4]);
    b.in <== x - 12;
    component m = Mul();
    m.a <== a.out;
    m.b <== b.out;
    y <== m.out;
}
component main {public [x]} = Graph();
`,
      { artifactsDir },
    );
    expect(r.failures).toEqual([]);
    expect(r.components.map((c) => [c.template, c.expected])).toEqual([
      ['Lookup(4, [])', 9],
      ['Lookup(2, [])', 3],
      ['Mul()', 1],
    ]);
    expect(r.nonlinear).toBe(13);
  });
});

describe('model circuits', () => {
  it('every bundled model passes: counts add up, the attribution is exact, only IsZero inverses are allowed', async () => {
    for (const spec of LAYER_BUNDLED_MODELS) {
      const source = await loadModelSource(spec);
      const q = quantizeModel(source.float, source.calibration, { inputBits: source.inputBits, inputScale: source.inputScale, labels: source.labels });
      const r = await auditModel(q, { artifactsDir });
      expect(r.failures, spec).toEqual([]);
      expect(r.expectedNonlinear, spec).toBe(r.nonlinear);
      expect(r.nonlinear, spec).toBe(r.constraints);
      expect(attributionExact(r), spec).toBe(true);
      const isZeros = r.templates.filter((t) => t.instance === 'IsZero()').reduce((n, t) => n + t.instances, 0);
      expect(
        r.findings.map((f) => f.allowedBy?.template),
        spec,
      ).toEqual(Array(isZeros).fill('IsZero'));
      if (spec === 'mlp') {
        expect(r.templates.find((t) => t.instance === 'UnsignedRange(8)')?.instances).toBe(784);
        expect(isZeros).toBe(32);
      }
    }
  });

  it('small models (two hidden layers: public, private input with commitment, batch 2; conv + maxpool) pass', async () => {
    const float = randomFloatModel([12, 6, 5, 4], 11);
    const q = quantizeModel(float, randomInputs(20, 12, 8, 12), { inputBits: 8, inputScale: 1 / 255 });
    const cnn: QuantizedModel = {
      format: 'zkinfer-qmodel',
      version: 1,
      name: 'cnn',
      input: { shape: [4, 4, 1], bits: 8, scale: 1 },
      output: { size: 3, logitScale: 1 },
      notes: [],
      layers: [
        {
          kind: 'conv2d',
          name: 'conv',
          inShape: [4, 4, 1],
          outShape: [3, 3, 2],
          kernelSize: [2, 2],
          strides: [1, 1],
          pads: [0, 0, 0, 0],
          depthwise: false,
          weights: [3, -2, 1, 4, -1, 2, 5, -3],
          bias: [5, -7],
          weightScales: [1, 1],
          requant: { multipliers: [3, 2], shift: 3, activation: 'relu', outBits: 4, outScale: 1 },
        },
        { kind: 'maxpool', name: 'pool', inShape: [3, 3, 2], outShape: [2, 2, 2], poolSize: [2, 2], strides: [1, 1], requant: null },
        {
          kind: 'dense',
          name: 'out',
          inputSize: 8,
          outputSize: 3,
          weights: Array.from({ length: 24 }, (_, i) => ((i * 37) % 21) - 10),
          bias: [0, 1, -1],
          weightScales: [1, 1, 1],
          requant: null,
        },
      ],
    };
    const variants: Array<[QuantizedModel, object]> = [
      [q, {}],
      [q, { visibility: { input: 'private', output: 'class' } }],
      [q, { batch: 2 }],
      [cnn, {}],
    ];
    for (const [model, options] of variants) {
      const r = await auditModel(model, { artifactsDir, ...options });
      expect(r.failures, JSON.stringify(options)).toEqual([]);
      expect(r.expectedNonlinear, JSON.stringify(options)).toBe(r.nonlinear);
      expect(attributionExact(r), JSON.stringify(options)).toBe(true);
      expect(r.findings.filter((f) => f.kind === 'unused')).toEqual([]);
      expect(r.findings.every((f) => f.allowedBy?.template === 'IsZero')).toBe(true);
    }
  });
});

describe('the audit catches planted bugs', () => {
  const audit = (name: string, body: string) => auditSource(name, `pragma circom 2.1.6;\n${body}\n`, { artifactsDir });

  it('a `<--` hint that no constraint checks (only squared into the output)', async () => {
    const r = await audit(
      'planted_hint',
      `template Hint() {
    signal input in; signal output out;
    signal q;
    q <-- in \\ 4;       // floor division as a hint, never tied to in
    out <== q * q;
}
component main {public [in]} = Hint();`,
    );
    expect(kinds(r)).toEqual(['unused main.in', 'single-use main.q']);
    expect(r.failures.join('\n')).toMatch(/unused: main\.in/);
  });

  it('a remainder without a range check (its one linear constraint is folded away, the input is left unconstrained)', async () => {
    const r = await audit(
      'planted_remainder',
      `include "circomlib/circuits/bitify.circom";
template UncheckedRemainder() {
    signal input in; signal output q;
    signal r;
    r <-- in % 4; q <-- in \\ 4;
    in === q * 4 + r;
    component qRange = Num2Bits(3);
    qRange.in <== q;
}
component main {public [in]} = UncheckedRemainder();`,
    );
    expect(kinds(r)).toEqual(['unused main.in']);
  });

  it('a hint used only linearly in one constraint (slack added to a product)', async () => {
    const r = await audit(
      'planted_slack',
      `template Slack() {
    signal input a; signal input b; signal output out;
    signal slack;
    slack <-- 0;
    out <== a * b + slack;
}
component main {public [a, b]} = Slack();`,
    );
    expect(kinds(r)).toEqual(['linear-single main.slack']);
  });

  it('an IsZero without in * out === 0 is flagged: the allowance is for circomlib IsZero, not for a signal named inv', async () => {
    const r = await audit(
      'planted_iszero',
      `template MyIsZero() {
    signal input in; signal output out; signal inv;
    inv <-- in != 0 ? 1 / in : 0;
    out <== -in * inv + 1;
}
component main {public [in]} = MyIsZero();`,
    );
    expect(kinds(r)).toEqual(['single-use main.inv']);
  });

  it('an unused public input, and a header that understates the constraint count', async () => {
    const unused = await audit(
      'planted_unused',
      'template Unused() { signal input a; signal input b; signal output out; out <== a * a; }\ncomponent main {public [a, b]} = Unused();',
    );
    expect(kinds(unused)).toEqual(['unused main.b']);
    const header = await audit(
      'planted_header',
      `include "circomlib/circuits/bitify.circom";
// Twice(n): two range checks.
// Constraints: n
template Twice(n) { signal input in; component a = Num2Bits(n); a.in <== in; component b = Num2Bits(n); b.in <== in + 1; }
component main {public [in]} = Twice(3);`,
    );
    expect(header.findings).toEqual([]);
    expect(header.failures).toEqual(['6 non-linear constraints, the stated counts add up to 3']);
  });

  it('the ReluClampFromBits allowance holds only for the template compiled alone', async () => {
    // A hand-made R1CS (x * x = out) with one unused wire, named once as main's own input q (main is
    // ReluClampFromBits) and once as the q of a ReluClampFromBits inside another template.
    const r1cs: R1csSystem = { prime: FIELD_P, nVars: 4, nOutputs: 1, nPubInputs: 1, nPrvInputs: 0, constraints: [[new Map([[2, 1n]]), new Map([[2, 1n]]), new Map([[1, 1n]])]] };
    const sym = (names: string[]): SymbolEntry[] => names.map((name, i) => ({ label: i + 1, varIdx: i + 1, component: 0, name }));
    const alone = await readCircomProgram('include "requantize.circom";\ncomponent main {public [q]} = ReluClampFromBits(5, 2);', INCLUDE_DIRS);
    const inside = await readCircomProgram(
      'include "requantize.circom";\ntemplate W() { signal input x; signal output out; component act = ReluClampFromBits(5, 2); out <== x * x; }\ncomponent main {public [x]} = W();',
      INCLUDE_DIRS,
    );
    const a = auditCircuit('alone', r1cs, sym(['main.out', 'main.x', 'main.q']), alone, { allow: ALLOWED_FINDINGS });
    const b = auditCircuit('inside', r1cs, sym(['main.out', 'main.x', 'main.act.q']), inside, { allow: ALLOWED_FINDINGS });
    expect(kinds(a)).toEqual(['unused main.q (allowed)']);
    expect(kinds(b)).toEqual(['unused main.act.q']);
  });
});
