/**
 * Plain-text formatting shared by every renderer: aligned tables, money, sparklines. Colour (bold
 * table headers) follows chalk's level, which the CLI sets once (ui/output.ts configureColour).
 */
import chalk from 'chalk';

export interface Column<T> {
  header: string;
  get: (row: T) => string | number | null | undefined;
  align?: 'left' | 'right';
}

/** A plain aligned table (no borders), wide enough for its widest cell. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => stringify(c.get(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => visibleLength(row[i]!))));
  const fmt = (vals: string[], header = false) =>
    vals
      .map((v, i) => {
        const pad = widths[i]! - visibleLength(v);
        const cell = columns[i]!.align === 'right' ? ' '.repeat(pad) + v : v + ' '.repeat(pad);
        return header ? chalk.bold(cell) : cell;
      })
      .join('  ')
      .trimEnd();
  return [fmt(columns.map((c) => c.header), true), ...cells.map((r) => fmt(r))].join('\n');
}

function stringify(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  return String(v);
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001B\[[0-9;]*m/g;
export const visibleLength = (s: string): number => s.replaceAll(ANSI, '').length;

export function formatUsd(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || Number.isNaN(usd)) return '-';
  if (usd === 0) return '$0.00';
  if (Math.abs(usd) < 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toFixed(2)}`;
}

const SPARK = '▁▂▃▄▅▆▇█';
/** A one-line sparkline of the values (the last `width` of them). */
export function sparkline(values: readonly number[], width = 40): string {
  const v = values.slice(-width).filter((x) => Number.isFinite(x));
  if (v.length === 0) return '';
  const min = Math.min(...v);
  const max = Math.max(...v);
  const span = max - min || 1;
  return v.map((x) => SPARK[Math.min(SPARK.length - 1, Math.floor(((x - min) / span) * (SPARK.length - 1) + 0.5))]).join('');
}
