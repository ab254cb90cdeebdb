/**
 * npm run audit:circuits [-- --templates-only | --models-only] [--artifacts DIR]
 *
 * Soundness audit (tools/audit/audit.ts) of every template in circuits/ at several parameter sets and of
 * every bundled model's circuit as the pipeline compiles it (public inputs, and private inputs with a
 * commitment). Prints one table per circuit and exits 1 if any finding is not on the allow-list with a
 * reason, or a stated constraint count does not match. Compiles are cached under artifacts/circuits/.
 */
import { formatReport, type AuditReport } from '../tools/audit/audit.js';
import { ALLOWED_FINDINGS, auditModel, auditTemplates } from '../tools/audit/auditTargets.js';
import { LAYER_BUNDLED_MODELS, loadModelSource } from '../src/model/index.js';
import { quantizeModel } from '../src/quantize/quantize.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const artifactsDir = args.includes('--artifacts') ? args[args.indexOf('--artifacts') + 1] : undefined;
const started = Date.now();
const failures: string[] = [];

function templateSummary(reports: AuditReport[]): string {
  const rows = [['template', 'constraints', 'non-linear', 'stated in header', 'expected', 'findings (allowed)', 'status', 'hints (<--), incl. subcomponents']];
  for (const r of reports) {
    const top = r.templates[0];
    const allowed = r.findings.filter((f) => f.allowedBy).length;
    const stated = top.stated === null ? '-' : top.stated.length > 40 ? `${top.stated.slice(0, 37)}...` : top.stated;
    const hints = [...new Set(r.templates.flatMap((t) => t.hints.map((h) => `${t.instance.split('(')[0]}.${h}`)))].join(' ') || '-';
    rows.push([
      r.name,
      String(r.constraints),
      String(r.nonlinear),
      stated,
      top.expected === null ? '-' : String(top.expected),
      `${r.findings.length} (${allowed})`,
      r.failures.length ? 'FAIL' : 'ok',
      hints,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

if (!flag('--models-only')) {
  const t0 = Date.now();
  const { reports, failures: coverage } = await auditTemplates({ artifactsDir });
  console.log(`Templates in circuits/ and the circomlib templates they use, each compiled alone (${((Date.now() - t0) / 1000).toFixed(1)} s):\n`);
  console.log(templateSummary(reports));
  for (const r of reports) for (const f of r.failures) failures.push(`${r.name}: ${f}`);
  failures.push(...coverage);
  console.log('');
}

if (!flag('--templates-only')) {
  for (const spec of LAYER_BUNDLED_MODELS) {
    const source = await loadModelSource(spec);
    const qmodel = quantizeModel(source.float, source.calibration, { inputBits: source.inputBits, inputScale: source.inputScale, labels: source.labels });
    const variants = [
      { label: 'public input and logits', options: {} },
      { label: 'private input (Poseidon commitment), class only', options: { visibility: { input: 'private', output: 'class' } as const } },
    ];
    for (const v of variants) {
      const t0 = Date.now();
      const report = await auditModel(qmodel, { ...v.options, artifactsDir, name: `${spec} (${v.label})` });
      console.log(`${formatReport(report)}\n  (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      for (const f of report.failures) failures.push(`${report.name}: ${f}`);
    }
  }
}

console.log('Allow-list (findings tolerated, with the reason and the test that shows it):');
for (const rule of ALLOWED_FINDINGS)
  console.log(`  ${rule.kind} ${rule.template}.${rule.signal.source}${rule.onlyAsMain ? ' (template compiled alone)' : ''}: ${rule.reason}\n    shown by ${rule.shownBy}`);
console.log(`\n${failures.length ? `FAIL: ${failures.length} problem(s)` : 'PASS'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
for (const f of failures) console.log(`  ${f}`);
process.exitCode = failures.length ? 1 : 0;
