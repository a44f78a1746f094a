/**
 * The cost report: the append-only cost ledger grouped by day, stage or backend. Every entry keeps
 * the price that was in force when it was incurred, so a later price change never rewrites history.
 */
import type {Ledger} from '../ledger/ledger.js';

export type CostGroupBy = 'day' | 'stage' | 'backend' | 'run';

export interface CostRow {
  group: string;
  usd: number;
  seconds: number;
  /** Seconds spent queued (recorded, not billed). */
  queuedSeconds: number;
  entries: number;
  /** Distinct prices used in this group ($/h), e.g. [0, 1.79]. */
  prices: number[];
}

export interface CostReport {
  groupBy: CostGroupBy;
  since: string | null;
  rows: CostRow[];
  total: {usd: number; seconds: number; queuedSeconds: number; entries: number};
  /** Stated so that a $0 report is not mistaken for missing data. */
  notes: string[];
}

export function costReport(ledger: Ledger, opts: {groupBy: CostGroupBy; since?: string}): CostReport {
  const rows = ledger.costs.grouped(opts.groupBy, opts.since);
  const out: CostRow[] = rows.map((r) => ({
    group: r.grp,
    usd: r.usd,
    seconds: r.seconds,
    queuedSeconds: r.queued,
    entries: r.entries,
    prices: (r.prices ?? '')
      .split(',')
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => a - b),
  }));
  const total = out.reduce(
    (t, r) => ({usd: t.usd + r.usd, seconds: t.seconds + r.seconds, queuedSeconds: t.queuedSeconds + r.queuedSeconds, entries: t.entries + r.entries}),
    {usd: 0, seconds: 0, queuedSeconds: 0, entries: 0},
  );
  const notes: string[] = [];
  if (out.length > 0 && out.every((r) => r.prices.every((p) => p === 0))) {
    notes.push('All entries were priced at $0/h (local CPU runs are free by default; set backends.local.price_per_hour to charge them).');
  }
  if (out.length === 0) notes.push('No cost entries in this window.');
  return {groupBy: opts.groupBy, since: opts.since ?? null, rows: out, total, notes};
}

/** RFC 4180 CSV of the report rows. */
export function costReportCsv(report: CostReport): string {
  const esc = (v: string | number) => {
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = [[report.groupBy, 'usd', 'seconds', 'queued_seconds', 'entries', 'prices_per_hour'].join(',')];
  for (const r of report.rows) {
    lines.push([esc(r.group), r.usd.toFixed(6), r.seconds.toFixed(3), r.queuedSeconds.toFixed(3), r.entries, esc(r.prices.join(' '))].join(','));
  }
  return lines.join('\n') + '\n';
}
