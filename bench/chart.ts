/**
 * bench/cost.svg: prove time and constraints against model size (parameter count), log-log, zkinfer vs the
 * circomlib-ml-style baseline. Hand-written SVG (no plotting dependency): two panels, decade grid with 1-2-5
 * ticks, one line per implementation over the width sweep, hollow markers for bundled models.
 */
export interface ChartPoint {
  parameters: number;
  constraints: number;
  proveSeconds: number;
  label: string;
  /** Bundled models are drawn as hollow markers next to the sweep line. */
  bundled: boolean;
}

export interface ChartSeries {
  name: string;
  color: string;
  marker: 'circle' | 'square';
  points: ChartPoint[];
}

const W = 960;
const H = 470;
const PANEL = { w: 380, h: 290, top: 78, left: [90, 560] };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function fmt(v: number, unit: string): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M${unit}`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k${unit}`;
  return `${+v.toPrecision(3)}${unit}`;
}

/** 1-2-5 ticks inside [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let d = Math.floor(Math.log10(lo)); d <= Math.ceil(Math.log10(hi)); d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

function domain(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  // Pad by a fraction of a decade so end points do not sit on the frame.
  return [lo / 10 ** 0.12, hi * 10 ** 0.22]; // more room on top for the value labels
}

function marker(kind: 'circle' | 'square', x: number, y: number, color: string, hollow: boolean): string {
  const fill = hollow ? 'white' : color;
  return kind === 'circle'
    ? `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="5" fill="${fill}" stroke="${color}" stroke-width="2"/>`
    : `<rect x="${(x - 4.5).toFixed(1)}" y="${(y - 4.5).toFixed(1)}" width="9" height="9" fill="${fill}" stroke="${color}" stroke-width="2"/>`;
}

function panel(series: ChartSeries[], left: number, title: string, yTitle: string, value: (p: ChartPoint) => number, unit: string): string {
  const all = series.flatMap((s) => s.points);
  const [x0, x1] = domain(all.map((p) => p.parameters));
  const [y0, y1] = domain(all.map(value));
  const { top, w, h } = PANEL;
  const sx = (v: number) => left + ((Math.log10(v) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))) * w;
  const sy = (v: number) => top + h - ((Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * h;
  // A bundled model the same size as a sweep model (mlp vs 784-32-10) is nudged right so both show.
  const collides = (p: ChartPoint) => p.bundled && all.some((q) => !q.bundled && q.parameters === p.parameters);
  const px = (p: ChartPoint) => sx(p.parameters) + (collides(p) ? 9 : 0);
  const out: string[] = [];
  out.push(`<text x="${left + w / 2}" y="${top - 14}" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#444"/>`);
  for (const t of logTicks(x0, x1)) {
    const x = sx(t);
    out.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${top + h}" stroke="#ddd"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${top + h + 18}" text-anchor="middle" font-size="12">${fmt(t, '')}</text>`);
  }
  for (const t of logTicks(y0, y1)) {
    const y = sy(t);
    out.push(`<line x1="${left}" y1="${y.toFixed(1)}" x2="${left + w}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 8}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="12">${fmt(t, unit)}</text>`);
  }
  out.push(`<text x="${left + w / 2}" y="${top + h + 40}" text-anchor="middle" font-size="13">model parameters (weights + biases, log scale)</text>`);
  const ty = top + h / 2;
  out.push(`<text x="${left - 62}" y="${ty}" text-anchor="middle" font-size="13" transform="rotate(-90 ${left - 62} ${ty})">${esc(yTitle)}</text>`);
  // Dashed connector and ratio between the two implementations at each model size.
  if (series.length === 2) {
    for (const b of series[1].points) {
      const a = series[0].points.find((p) => p.parameters === b.parameters && p.bundled === b.bundled);
      if (!a || collides(b)) continue;
      const x = sx(b.parameters);
      const ratio = value(b) / value(a);
      const ym = Math.sqrt(value(a) * value(b));
      out.push(`<line x1="${x.toFixed(1)}" y1="${sy(value(a)).toFixed(1)}" x2="${x.toFixed(1)}" y2="${sy(value(b)).toFixed(1)}" stroke="#999" stroke-dasharray="4 3"/>`);
      out.push(`<text x="${(x + 6).toFixed(1)}" y="${(sy(ym) + 4).toFixed(1)}" font-size="11" fill="#555">${ratio.toFixed(1)}x</text>`);
    }
  }
  for (const s of series) {
    const sweep = s.points.filter((p) => !p.bundled).sort((a, b) => a.parameters - b.parameters);
    if (sweep.length > 1) {
      const d = sweep.map((p, i) => `${i ? 'L' : 'M'}${sx(p.parameters).toFixed(1)},${sy(value(p)).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"/>`);
    }
    for (const p of s.points) out.push(marker(s.marker, px(p), sy(value(p)), s.color, p.bundled));
    // Label the largest sweep point with its value, so the gap reads without the grid.
    const last = sweep[sweep.length - 1];
    if (last)
      out.push(
        `<text x="${(sx(last.parameters) - 8).toFixed(1)}" y="${(sy(value(last)) - 10).toFixed(1)}" text-anchor="end" font-size="11" fill="${s.color}">${fmt(value(last), unit)}</text>`,
      );
  }
  return out.join('\n');
}

export function costChart(series: ChartSeries[], subtitle: string): string {
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="26" text-anchor="middle" font-size="18" font-weight="bold">zkinfer vs circomlib-ml-style baseline: MNIST MLPs 784-W-10</text>`);
  out.push(`<text x="${W / 2}" y="46" text-anchor="middle" font-size="12" fill="#555">${esc(subtitle)}</text>`);
  out.push(panel(series, PANEL.left[0], 'R1CS constraints', 'constraints (log scale)', (p) => p.constraints, ''));
  out.push(panel(series, PANEL.left[1], 'Groth16 prove time (median)', 'seconds per proof (log scale)', (p) => p.proveSeconds, 's'));
  // Legend under the panels.
  let x = 200;
  const y = H - 20;
  for (const s of series) {
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 28}" y2="${y}" stroke="${s.color}" stroke-width="2.5"/>`);
    out.push(marker(s.marker, x + 14, y, s.color, false));
    out.push(`<text x="${x + 36}" y="${y + 4}" font-size="13">${esc(s.name)}</text>`);
    x += 250;
  }
  out.push(marker('circle', x + 14, y, '#666', true));
  out.push(`<text x="${x + 26}" y="${y + 4}" font-size="13">hollow: bundled model (trained)</text>`);
  out.push('</svg>');
  return out.join('\n');
}
