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
const W = 640;
/** Height of the plot area of line and column charts: the frame grows around it, it never shrinks. */
const PLOT_H = 192;
const FRAME: Frame = {w: W, h: 260, l: 60, r: 20, t: 24, b: 44};
/** Font sizes of the report's CSS (html.ts), in the charts' own units. */
const SIZE = {tick: 11, axis: 11.5, legend: 11.5, label: 12, value: 11.5, marker: 11, empty: 14};

/*
 * Text has to be measured here, before any browser lays it out, to reserve the margins labels
 * need. Widths in em of DejaVu Sans (the sans-serif of most Linux desktops and the widest of the
 * usual ones; Arial, Helvetica and Segoe UI are narrower), so estimates err on the wide side: a
 * label estimated too wide costs a few pixels of margin, one estimated too narrow is clipped.
 */
const NARROW = new Set([...'iljI.,:;|!\'\u0060']);
const SEMI = new Set([...'frt()[]{}/\\- "']);
const WIDE = new Set([...'mwMW%@…→≥≤×+=<>~']);
function charEm(c: string): number {
  if (NARROW.has(c)) return 0.3;
  if (SEMI.has(c)) return 0.4;
  if (WIDE.has(c)) return 0.98;
  if (c >= 'A' && c <= 'Z') return 0.74;
  if (c.charCodeAt(0) > 0x2e7f) return 1; // CJK and other full-width scripts
  return 0.64;
}

/** Estimated width of `text` at `size` px in the report's font. */
export function textWidth(text: string, size: number): number {
  let em = 0;
  for (const c of text) em += charEm(c);
  return em * size;
}

/**
 * `text` cut to fit `max` px with an ellipsis (unchanged when it fits). Names are cut in the
 * middle, keeping both ends: run ids and series names differ at their ends ("… d4e5f6 loss" and
 * "… d4e5f6 val_loss"). Sentences are cut at the end.
 */
export function ellipsize(text: string, size: number, max: number, cut: 'middle' | 'end' = 'middle'): string {
  if (textWidth(text, size) <= max) return text;
  const chars = [...text];
  const room = max - textWidth('…', size);
  const take = (from: string[], budget: number): string[] => {
    const out: string[] = [];
    let w = 0;
    for (const c of from) {
      w += charEm(c) * size;
      if (w > budget) break;
      out.push(c);
    }
    return out;
  };
  if (cut === 'end') return take(chars, room).join('').trimEnd() + '…';
  const tail = take([...chars].reverse(), room * 0.45).reverse();
  const head = take(chars, room - textWidth(tail.join(''), size));
  return head.join('').trimEnd() + '…' + tail.join('').trimStart();
}

/** A <text> element whose content is shortened to `max` px when needed, the whole text kept in a <title> tooltip. */
function label(text: string, size: number, max: number, attrs: string, cut: 'middle' | 'end' = 'middle'): string {
  const shown = ellipsize(text, size, max, cut);
  return `<text ${attrs}>${shown === text ? '' : `<title>${escapeXml(text)}</title>`}${escapeXml(shown)}</text>`;
}

/** Keeps a label of width `width` centred near `x` but whole inside [lo, hi]. */
function clampCentre(x: number, width: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo + width / 2), hi - width / 2);
}

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

type Ticks = Array<{pos: number; label: string}>;

/** Where the rotated y-axis title sits (its centre line), left of the tick labels. */
const Y_TITLE_X = 12;

function axes(f: Frame, x: {ticks: Ticks; label?: string}, y: {ticks: Ticks; label?: string}): string {
  const parts: string[] = [];
  for (const t of y.ticks) {
    parts.push(`<line x1="${f.l}" x2="${f.w - f.r}" y1="${t.pos.toFixed(1)}" y2="${t.pos.toFixed(1)}" stroke="${PALETTE.grid}"/>`);
    parts.push(`<text x="${f.l - 6}" y="${(t.pos + 4).toFixed(1)}" text-anchor="end" class="tick">${escapeXml(t.label)}</text>`);
  }
  for (const t of x.ticks) {
    // The first and last ticks sit on the plot's edges: their labels are kept whole inside the chart.
    const cx = clampCentre(t.pos, textWidth(t.label, SIZE.tick), 2, f.w - 2);
    parts.push(`<text x="${cx.toFixed(1)}" y="${f.h - f.b + 16}" text-anchor="middle" class="tick">${escapeXml(t.label)}</text>`);
  }
  parts.push(`<line x1="${f.l}" x2="${f.w - f.r}" y1="${f.h - f.b}" y2="${f.h - f.b}" stroke="${PALETTE.slate}"/>`);
  if (x.label) parts.push(label(x.label, SIZE.axis, f.w - 8, `x="${f.w / 2}" y="${f.h - 6}" text-anchor="middle" class="axis"`, 'end'));
  if (y.label) {
    const cy = (f.t + f.h - f.b) / 2;
    parts.push(label(y.label, SIZE.axis, f.h - f.t - f.b + 20, `x="${Y_TITLE_X}" y="${cy + 4}" text-anchor="middle" class="axis" transform="rotate(-90 ${Y_TITLE_X} ${cy})"`, 'end'));
  }
  return parts.join('');
}

function empty(name: string, title: string, message: string, f = FRAME): string {
  return `${open(name, 0, f, title)}${label(message, SIZE.empty, f.w - 20, `x="${f.w / 2}" y="${f.h / 2}" text-anchor="middle" class="empty"`, 'end')}</svg>`;
}

interface LegendItem {
  name: string;
  colour: string;
}
const LEGEND_ROW = 16;
/** Longest legend entry: two long run names still share a row. */
const LEGEND_MAX = (W - 16) / 2 - 30;

/** Legend entries flowed into rows across the chart's width; each name at most LEGEND_MAX wide. */
function layoutLegend(items: LegendItem[]): {rows: number; svg: string} {
  if (items.length < 2) return {rows: 0, svg: ''};
  let x = 8;
  let row = 0;
  const parts: string[] = [];
  for (const it of items) {
    const shown = ellipsize(it.name, SIZE.legend, LEGEND_MAX);
    const width = 14 + textWidth(shown, SIZE.legend);
    if (x > 8 && x + width > W - 8) {
      row++;
      x = 8;
    }
    const y = 6 + row * LEGEND_ROW;
    parts.push(`<rect x="${x}" y="${y}" width="10" height="10" rx="2" fill="${it.colour}"/>`);
    parts.push(label(it.name, SIZE.legend, LEGEND_MAX, `x="${x + 14}" y="${y + 9}" class="legend"`));
    x += width + 16;
  }
  return {rows: row + 1, svg: parts.join('')};
}

interface Marker {
  value: number;
  label: string;
  colour?: string;
}
const MARKER_ROW = 13;

/** Row (0 = nearest the plot) of each marker label, so that labels close together do not overlap. */
function markerRows(xs: Array<{x: number; width: number}>): number[] {
  const ends: number[] = []; // right end of the last label per row
  return xs.map(({x, width}) => {
    let row = ends.findIndex((end) => x - width / 2 >= end + 4);
    if (row === -1) row = ends.length;
    ends[row] = x + width / 2;
    return row;
  });
}

/**
 * The frame of a line or column chart: the left margin fits the widest y tick label and the axis
 * title, the right margin half the widest x tick label, the top the legend rows and marker rows.
 */
function chartFrame(o: {yTicks: string[]; xTicks: string[]; yLabel?: string; legendRows: number; markerRows: number}): Frame {
  const yTickW = Math.max(0, ...o.yTicks.map((t) => textWidth(t, SIZE.tick)));
  const xTickW = Math.max(0, ...o.xTicks.map((t) => textWidth(t, SIZE.tick)));
  const l = Math.ceil(Math.max(yTickW + 6 + (o.yLabel ? Y_TITLE_X + 12 : 6), xTickW / 2 + 4, 40));
  const r = Math.ceil(Math.max(20, xTickW / 2 + 4));
  const t = Math.max(24, 8 + o.legendRows * LEGEND_ROW + o.markerRows * MARKER_ROW + (o.markerRows > 0 ? 4 : 0));
  const b = 44;
  return {w: W, h: t + PLOT_H + b, l, r, t, b};
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
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (all.length === 0) return empty(name, title, opts.emptyMessage ?? 'no data');
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) x1 = x0 + 1;
  const yt = niceTicks(opts.yMin ?? Math.min(...ys), Math.max(...ys));
  const [y0, y1] = [yt[0]!, yt.at(-1)!];
  const xFmt = opts.xFormat ?? formatNumber;
  const yFmt = opts.yFormat ?? formatNumber;
  // A formatted tick that reads like its neighbour (a span shorter than the format's unit) is dropped.
  const xTickValues = (opts.xFormat ? evenTicks(x0, x1, 5) : niceTicks(x0, x1, 6).filter((v) => v >= x0 && v <= x1)).filter(
    (v, i, all) => i === 0 || xFmt(v) !== xFmt(all[i - 1]!),
  );
  const leg = layoutLegend(series.map((s, i) => ({name: s.name, colour: s.colour ?? SERIES_COLOURS[i % SERIES_COLOURS.length]!})));
  const f = chartFrame({yTicks: yt.map(yFmt), xTicks: xTickValues.map(xFmt), yLabel: opts.yLabel, legendRows: leg.rows, markerRows: 0});
  const sx = (v: number) => f.l + ((v - x0) / (x1 - x0)) * (f.w - f.l - f.r);
  const sy = (v: number) => f.h - f.b - ((v - y0) / (y1 - y0 || 1)) * (f.h - f.t - f.b);
  const parts = [
    open(name, all.length, f, title),
    axes(f, {ticks: xTickValues.map((v) => ({pos: sx(v), label: xFmt(v)})), label: opts.xLabel}, {ticks: yt.map((v) => ({pos: sy(v), label: yFmt(v)})), label: opts.yLabel}),
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
  parts.push(leg.svg);
  parts.push('</svg>');
  return parts.join('');
}

function evenTicks(x0: number, x1: number, n: number): number[] {
  return Array.from({length: n + 1}, (_, i) => x0 + ((x1 - x0) * i) / n);
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
    markers?: Marker[];
    emptyMessage?: string;
    /** Side by side within a bin (comparisons) instead of overlaid (a subset such as errors). */
    grouped?: boolean;
  } = {},
): string {
  const total = layers.reduce((s, l) => s + l.values.reduce((a, b) => a + b, 0), 0);
  if (edges.length < 2 || total === 0) return empty(name, title, opts.emptyMessage ?? 'no data');
  const x0 = edges[0]!;
  const x1 = edges.at(-1)!;
  const max = Math.max(...layers.flatMap((l) => l.values.map((v, i) => v + (l.base?.[i] ?? 0))));
  const yt = niceTicks(0, max);
  const y1 = yt.at(-1)!;
  const xFmt = opts.xFormat ?? formatNumber;
  const tickEvery = Math.max(1, Math.ceil((edges.length - 1) / 6));
  const xTickValues = edges.filter((_, i) => i % tickEvery === 0);
  const leg = layoutLegend(layers.map((l) => ({name: l.name, colour: l.colour})));
  const markers = (opts.markers ?? []).filter((m) => m.value >= x0 && m.value <= x1).sort((a, b) => a.value - b.value);
  // Marker rows depend on the markers' x positions, which depend on the margins: place with the
  // margins known without markers (markers add rows on top, never change the left and right).
  const f0 = chartFrame({yTicks: yt.map(formatNumber), xTicks: xTickValues.map(xFmt), yLabel: opts.yLabel, legendRows: leg.rows, markerRows: 0});
  const mx = (v: number) => f0.l + ((v - x0) / (x1 - x0 || 1)) * (f0.w - f0.l - f0.r);
  const placed = markers.map((m) => ({m, width: textWidth(m.label, SIZE.marker), x: 0}));
  for (const p of placed) p.x = clampCentre(mx(p.m.value), p.width, 2, W - 2);
  const rows = markerRows(placed);
  const f = {...f0, ...chartFrame({yTicks: yt.map(formatNumber), xTicks: xTickValues.map(xFmt), yLabel: opts.yLabel, legendRows: leg.rows, markerRows: placed.length ? Math.max(...rows) + 1 : 0})};
  const sx = (v: number) => f.l + ((v - x0) / (x1 - x0 || 1)) * (f.w - f.l - f.r);
  const sy = (v: number) => f.h - f.b - (v / (y1 || 1)) * (f.h - f.t - f.b);
  let marks = 0;
  const parts = [axes(f, {ticks: xTickValues.map((v) => ({pos: sx(v), label: xFmt(v)})), label: opts.xLabel}, {ticks: yt.map((v) => ({pos: sy(v), label: formatNumber(v)})), label: opts.yLabel})];
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
  placed.forEach((p, i) => {
    const x = sx(p.m.value).toFixed(1);
    const colour = p.m.colour ?? PALETTE.slate;
    parts.push(`<line x1="${x}" x2="${x}" y1="${f.t}" y2="${f.h - f.b}" stroke="${colour}" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${p.x.toFixed(1)}" y="${f.t - 6 - rows[i]! * MARKER_ROW}" text-anchor="middle" class="marker" fill="${colour}">${escapeXml(p.m.label)}</text>`);
  });
  parts.push(leg.svg);
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
  const fmt = opts.format ?? formatNumber;
  const valueText = (b: (typeof bars)[number]) => fmt(b.value) + (b.note ? `  ${b.note}` : '');
  // Margins from the longest row label and value text, each within a cap (past it: ellipsis and tooltip).
  const labelMax = 200;
  const valueMax = 200;
  const l = Math.ceil(Math.min(labelMax, Math.max(40, ...bars.map((b) => textWidth(b.label, SIZE.label)))) + 14);
  const r = Math.ceil(Math.min(valueMax, Math.max(40, ...bars.map((b) => textWidth(valueText(b), SIZE.value)))) + 12);
  const f: Frame = {w: W, h: Math.max(90, 34 + bars.length * rowH + 24), l, r, t: 24, b: 20};
  const values = [...bars.map((b) => b.value), ...bars.flatMap((b) => b.marks ?? []).map((m) => m.value), ...(opts.thresholds ?? []).map((t) => t.value), 0];
  const lo = Math.min(...values);
  const hi = Math.max(...values) || 1;
  const sx = (v: number) => f.l + ((v - lo) / (hi - lo || 1)) * (f.w - f.l - f.r);
  const parts = [open(name, bars.length, f, title)];
  bars.forEach((b, i) => {
    const y = f.t + i * rowH;
    const xa = sx(Math.min(0, b.value));
    const xb = sx(Math.max(0, b.value));
    parts.push(label(b.label, SIZE.label, labelMax, `x="${f.l - 8}" y="${y + 15}" text-anchor="end" class="label"`));
    parts.push(`<rect class="mark" x="${xa.toFixed(1)}" y="${y + 3}" width="${Math.max(1.5, xb - xa).toFixed(1)}" height="${rowH - 8}" rx="3" fill="${b.colour ?? PALETTE.blue}"><title>${escapeXml(`${b.label}: ${fmt(b.value)}${b.note ? ` (${b.note})` : ''}`)}</title></rect>`);
    // Values of negative bars go right of the zero line, so they never run into the row labels.
    const vx = b.value >= 0 ? xb + 6 : sx(0) + 6;
    parts.push(label(valueText(b), SIZE.value, f.w - 4 - vx, `x="${vx.toFixed(1)}" y="${y + 15}" class="value"`, 'end'));
    for (const m of b.marks ?? []) {
      const x = sx(m.value).toFixed(1);
      parts.push(`<line x1="${x}" x2="${x}" y1="${y}" y2="${y + rowH - 2}" stroke="${m.colour}" stroke-width="2"><title>${escapeXml(`${m.label}: ${fmt(m.value)}`)}</title></line>`);
    }
  });
  const bottom = f.t + bars.length * rowH;
  if (lo < 0) parts.push(`<line x1="${sx(0)}" x2="${sx(0)}" y1="${f.t}" y2="${bottom}" stroke="${PALETTE.slate}"/>`);
  for (const t of opts.thresholds ?? []) {
    const x = sx(t.value).toFixed(1);
    const cx = clampCentre(sx(t.value), textWidth(t.label, SIZE.marker), 2, f.w - 2).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${f.t - 4}" y2="${bottom}" stroke="${t.colour}" stroke-dasharray="4 3"/><text x="${cx}" y="${bottom + 14}" text-anchor="middle" class="marker" fill="${t.colour}">${escapeXml(t.label)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
