/**
 * Small SVG charts for the HTML report, drawn here rather than by a chart library in the page:
 * the report then needs no script at all to show its charts (it works with JavaScript off, prints,
 * and cannot log a script error), and stays a few tens of kB.
 *
 * Every chart is an <svg class="chart" data-chart="NAME" data-points="N">, N being the number of
 * data marks drawn, so a test (or a person with devtools) can tell an empty chart from a full one.
 */
export const escapeXml = (s: string): string =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');

export const PALETTE = {
  blue: '#3b82f6',
  red: '#ef4444',
  green: '#10b981',
  amber: '#f59e0b',
  violet: '#8b5cf6',
  slate: '#64748b',
  grid: '#e2e8f0',
  text: '#334155',
};
const SERIES_COLOURS = [PALETTE.blue, PALETTE.violet, PALETTE.green, PALETTE.amber, PALETTE.red, PALETTE.slate];

interface Frame {
  w: number;
  h: number;
  l: number;
  r: number;
  t: number;
  b: number;
}
const FRAME: Frame = {w: 640, h: 260, l: 60, r: 20, t: 24, b: 44};

export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max === min) max = min + 1;
  const raw = (max - min) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  const out: number[] = [];
  // Cover the data: the last tick is at or above max, so nothing is drawn above the plot.
  const top = Math.ceil(max / step - 1e-9) * step;
  for (let v = Math.floor(min / step) * step; v <= top + step * 1e-9; v += step) out.push(Math.round(v * 1e9) / 1e9);
  return out;
}

export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return String(Math.round(v * 100) / 100);
  if (a === 0) return '0';
  return String(Math.round(v * 10000) / 10000);
}

function open(name: string, points: number, f: Frame, title: string): string {
  return `<svg class="chart" role="img" aria-label="${escapeXml(title)}" data-chart="${escapeXml(name)}" data-points="${points}" viewBox="0 0 ${f.w} ${f.h}" xmlns="http://www.w3.org/2000/svg">`;
}

function axes(f: Frame, x: {ticks: Array<{pos: number; label: string}>; label?: string}, y: {ticks: Array<{pos: number; label: string}>; label?: string}): string {
  const parts: string[] = [];
  for (const t of y.ticks) {
    parts.push(`<line x1="${f.l}" x2="${f.w - f.r}" y1="${t.pos.toFixed(1)}" y2="${t.pos.toFixed(1)}" stroke="${PALETTE.grid}"/>`);
    parts.push(`<text x="${f.l - 6}" y="${(t.pos + 4).toFixed(1)}" text-anchor="end" class="tick">${escapeXml(t.label)}</text>`);
  }
  for (const t of x.ticks) parts.push(`<text x="${t.pos.toFixed(1)}" y="${f.h - f.b + 16}" text-anchor="middle" class="tick">${escapeXml(t.label)}</text>`);
  parts.push(`<line x1="${f.l}" x2="${f.w - f.r}" y1="${f.h - f.b}" y2="${f.h - f.b}" stroke="${PALETTE.slate}"/>`);
  if (x.label) parts.push(`<text x="${(f.l + f.w - f.r) / 2}" y="${f.h - 6}" text-anchor="middle" class="axis">${escapeXml(x.label)}</text>`);
  if (y.label) parts.push(`<text x="14" y="${(f.t + f.h - f.b) / 2}" text-anchor="middle" class="axis" transform="rotate(-90 14 ${(f.t + f.h - f.b) / 2})">${escapeXml(y.label)}</text>`);
  return parts.join('');
}

function empty(name: string, title: string, message: string, f = FRAME): string {
  return `${open(name, 0, f, title)}<text x="${f.w / 2}" y="${f.h / 2}" text-anchor="middle" class="empty">${escapeXml(message)}</text></svg>`;
}

export interface XY {
  x: number;
  y: number;
}
export interface Series {
  name: string;
  points: XY[];
  colour?: string;
  dashed?: boolean;
}

export function lineChart(
  name: string,
  title: string,
  series: Series[],
  opts: {xLabel?: string; yLabel?: string; xFormat?: (v: number) => string; yFormat?: (v: number) => string; emptyMessage?: string; yMin?: number} = {},
): string {
  const f = FRAME;
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (all.length === 0) return empty(name, title, opts.emptyMessage ?? 'no data');
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) x1 = x0 + 1;
  const yt = niceTicks(opts.yMin ?? Math.min(...ys), Math.max(...ys));
  const [y0, y1] = [yt[0]!, yt.at(-1)!];
  const sx = (v: number) => f.l + ((v - x0) / (x1 - x0)) * (f.w - f.l - f.r);
  const sy = (v: number) => f.h - f.b - ((v - y0) / (y1 - y0 || 1)) * (f.h - f.t - f.b);
  const xFmt = opts.xFormat ?? formatNumber;
  const yFmt = opts.yFormat ?? formatNumber;
  const xTicks = niceTicks(x0, x1, 6).filter((v) => v >= x0 && v <= x1);
  const parts = [
    open(name, all.length, f, title),
    axes(f, {ticks: (opts.xFormat ? evenTicks(x0, x1, 5) : xTicks).map((v) => ({pos: sx(v), label: xFmt(v)})), label: opts.xLabel}, {ticks: yt.map((v) => ({pos: sy(v), label: yFmt(v)})), label: opts.yLabel}),
  ];
  series.forEach((s, i) => {
    const colour = s.colour ?? SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p.y));
    if (pts.length === 0) return;
    const d = pts.map((p, j) => `${j === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} class="mark"><title>${escapeXml(s.name)}</title></path>`);
    if (pts.length <= 60) {
      for (const p of pts) parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2.5" fill="${colour}"><title>${escapeXml(`${s.name}: ${xFmt(p.x)} → ${yFmt(p.y)}`)}</title></circle>`);
    }
  });
  parts.push(legend(f, series.map((s, i) => ({name: s.name, colour: s.colour ?? SERIES_COLOURS[i % SERIES_COLOURS.length]!}))));
  parts.push('</svg>');
  return parts.join('');
}

function evenTicks(x0: number, x1: number, n: number): number[] {
  return Array.from({length: n + 1}, (_, i) => x0 + ((x1 - x0) * i) / n);
}

function legend(f: Frame, items: Array<{name: string; colour: string}>): string {
  if (items.length < 2) return '';
  let x = f.l + 4;
  return items
    .map((it) => {
      const s = `<rect x="${x}" y="6" width="10" height="10" rx="2" fill="${it.colour}"/><text x="${x + 14}" y="15" class="legend">${escapeXml(it.name)}</text>`;
      x += 24 + it.name.length * 7;
      return s;
    })
    .join('');
}

/** Bars over a continuous axis (histograms, time buckets); each layer drawn from zero. */
export function columnChart(
  name: string,
  title: string,
  edges: number[],
  layers: Array<{name: string; values: number[]; colour: string; /** Drawn from this value up instead of from zero (stacked on another layer). */ base?: number[]}>,
  opts: {
    xLabel?: string;
    yLabel?: string;
    xFormat?: (v: number) => string;
    markers?: Array<{value: number; label: string; colour?: string}>;
    emptyMessage?: string;
    /** Side by side within a bin (comparisons) instead of overlaid (a subset such as errors). */
    grouped?: boolean;
  } = {},
): string {
  const f = FRAME;
  const total = layers.reduce((s, l) => s + l.values.reduce((a, b) => a + b, 0), 0);
  if (edges.length < 2 || total === 0) return empty(name, title, opts.emptyMessage ?? 'no data');
  const x0 = edges[0]!;
  const x1 = edges.at(-1)!;
  const max = Math.max(...layers.flatMap((l) => l.values.map((v, i) => v + (l.base?.[i] ?? 0))));
  const yt = niceTicks(0, max);
  const y1 = yt.at(-1)!;
  const sx = (v: number) => f.l + ((v - x0) / (x1 - x0 || 1)) * (f.w - f.l - f.r);
  const sy = (v: number) => f.h - f.b - (v / (y1 || 1)) * (f.h - f.t - f.b);
  const xFmt = opts.xFormat ?? formatNumber;
  const tickEvery = Math.max(1, Math.ceil((edges.length - 1) / 6));
  const xTicks = edges.filter((_, i) => i % tickEvery === 0).map((v) => ({pos: sx(v), label: xFmt(v)}));
  let marks = 0;
  const parts = [axes(f, {ticks: xTicks, label: opts.xLabel}, {ticks: yt.map((v) => ({pos: sy(v), label: formatNumber(v)})), label: opts.yLabel})];
  layers.forEach((layer, li) => {
    layer.values.forEach((v, i) => {
      if (!(v > 0)) return;
      let xa = sx(edges[i]!);
      let xb = sx(edges[i + 1] ?? edges[i]!);
      if (opts.grouped) {
        const pad = (xb - xa) * 0.12;
        const slot = (xb - xa - 2 * pad) / layers.length;
        xa = xa + pad + li * slot;
        xb = xa + slot;
      }
      const w = Math.max(1, xb - xa - (xb - xa > 4 ? 1 : 0));
      marks++;
      const from = layer.base?.[i] ?? 0;
      parts.push(`<rect class="mark" x="${xa.toFixed(1)}" y="${sy(from + v).toFixed(1)}" width="${w.toFixed(1)}" height="${(sy(from) - sy(from + v)).toFixed(1)}" fill="${layer.colour}"><title>${escapeXml(`${layer.name} ${xFmt(edges[i]!)}–${xFmt(edges[i + 1] ?? edges[i]!)}: ${v}`)}</title></rect>`);
    });
  });
  for (const m of opts.markers ?? []) {
    if (!(m.value >= x0 && m.value <= x1)) continue;
    const x = sx(m.value).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${f.t}" y2="${f.h - f.b}" stroke="${m.colour ?? PALETTE.slate}" stroke-dasharray="4 3"/><text x="${x}" y="${f.t - 6}" text-anchor="middle" class="marker" fill="${m.colour ?? PALETTE.slate}">${escapeXml(m.label)}</text>`);
  }
  parts.push(legend(f, layers.map((l) => ({name: l.name, colour: l.colour}))));
  return open(name, marks, f, title) + parts.join('') + '</svg>';
}

/** Horizontal bars with labels (features, terms, runs); negative values extend left of zero. */
export function barList(
  name: string,
  title: string,
  bars: Array<{label: string; value: number; colour?: string; note?: string; marks?: Array<{value: number; label: string; colour: string}>}>,
  opts: {format?: (v: number) => string; thresholds?: Array<{value: number; label: string; colour: string}>; emptyMessage?: string} = {},
): string {
  if (bars.length === 0) return empty(name, title, opts.emptyMessage ?? 'no data');
  const rowH = 26;
  const f: Frame = {w: 640, h: Math.max(90, 34 + bars.length * rowH + 24), l: 130, r: 170, t: 24, b: 20};
  const fmt = opts.format ?? formatNumber;
  const values = [...bars.map((b) => b.value), ...bars.flatMap((b) => b.marks ?? []).map((m) => m.value), ...(opts.thresholds ?? []).map((t) => t.value), 0];
  const lo = Math.min(...values);
  const hi = Math.max(...values) || 1;
  const sx = (v: number) => f.l + ((v - lo) / (hi - lo || 1)) * (f.w - f.l - f.r);
  const parts = [open(name, bars.length, f, title)];
  bars.forEach((b, i) => {
    const y = f.t + i * rowH;
    const xa = sx(Math.min(0, b.value));
    const xb = sx(Math.max(0, b.value));
    parts.push(`<text x="${f.l - 8}" y="${y + 15}" text-anchor="end" class="label">${escapeXml(b.label)}</text>`);
    parts.push(`<rect class="mark" x="${xa.toFixed(1)}" y="${y + 3}" width="${Math.max(1.5, xb - xa).toFixed(1)}" height="${rowH - 8}" rx="3" fill="${b.colour ?? PALETTE.blue}"><title>${escapeXml(`${b.label}: ${fmt(b.value)}${b.note ? ` (${b.note})` : ''}`)}</title></rect>`);
    // Values of negative bars go right of the zero line, so they never run into the row labels.
    parts.push(`<text x="${(b.value >= 0 ? xb + 6 : sx(0) + 6).toFixed(1)}" y="${y + 15}" class="value">${escapeXml(fmt(b.value) + (b.note ? `  ${b.note}` : ''))}</text>`);
    for (const m of b.marks ?? []) {
      const x = sx(m.value).toFixed(1);
      parts.push(`<line x1="${x}" x2="${x}" y1="${y}" y2="${y + rowH - 2}" stroke="${m.colour}" stroke-width="2"><title>${escapeXml(`${m.label}: ${fmt(m.value)}`)}</title></line>`);
    }
  });
  const bottom = f.t + bars.length * rowH;
  if (lo < 0) parts.push(`<line x1="${sx(0)}" x2="${sx(0)}" y1="${f.t}" y2="${bottom}" stroke="${PALETTE.slate}"/>`);
  for (const t of opts.thresholds ?? []) {
    const x = sx(t.value).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${f.t - 4}" y2="${bottom}" stroke="${t.colour}" stroke-dasharray="4 3"/><text x="${x}" y="${bottom + 14}" text-anchor="middle" class="marker" fill="${t.colour}">${escapeXml(t.label)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
