/** Cost entries (append-only; one per billed stretch of queue, setup, run or serve time). */
import {nowIso} from '../util/time.js';
import type {Database} from './db.js';
import type {CostEntry} from './types.js';

export type CostGroupKey = 'day' | 'stage' | 'backend' | 'run';

export interface CostGroupRow {
  grp: string;
  usd: number;
  seconds: number;
  queued: number;
  entries: number;
  /** Distinct prices per hour, comma-separated (SQLite's group_concat). */
  prices: string | null;
}

const GROUP_EXPR: Record<CostGroupKey, string> = {
  day: 'substr(ts, 1, 10)',
  stage: 'stage',
  backend: 'backend',
  run: "coalesce(run_id, deployment_id, '-')",
};

export class CostsStore {
  constructor(private readonly db: Database) {}

  /** Records an entry; returns the USD it was billed (0 when not billed). */
  add(e: CostEntry): number {
    const usd = e.billed === false ? 0 : (e.seconds / 3600) * e.pricePerHour;
    this.db
      .prepare(
        `INSERT INTO cost_entries (ts, run_id, deployment_id, stage, phase, backend, resource, seconds, price_per_hour,
           price_source, usd, billed, meta_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        e.ts ?? nowIso(),
        e.runId ?? null,
        e.deploymentId ?? null,
        e.stage,
        e.phase,
        e.backend,
        e.resource,
        e.seconds,
        e.pricePerHour,
        e.priceSource,
        usd,
        e.billed === false ? 0 : 1,
        JSON.stringify(e.meta ?? {}),
      );
    return usd;
  }

  runCost(runId: string): {usd: number; seconds: number; byPhase: Record<string, {usd: number; seconds: number}>} {
    const rows = this.db
      .prepare('SELECT phase, sum(usd) AS usd, sum(seconds) AS seconds FROM cost_entries WHERE run_id = ? GROUP BY phase')
      .all(runId) as Array<{phase: string; usd: number; seconds: number}>;
    const byPhase = Object.fromEntries(rows.map((r) => [r.phase, {usd: r.usd, seconds: r.seconds}]));
    return {
      usd: rows.reduce((s, r) => s + r.usd, 0),
      seconds: rows.filter((r) => r.phase !== 'queue').reduce((s, r) => s + r.seconds, 0),
      byPhase,
    };
  }

  /** Billed USD since an ISO timestamp (the monthly budget check). */
  spentSince(sinceIso: string): number {
    return (this.db.prepare('SELECT coalesce(sum(usd), 0) AS usd FROM cost_entries WHERE ts >= ?').get(sinceIso) as {usd: number}).usd;
  }

  /** Totals per day, stage, backend or run (queue time apart from run time), optionally since an ISO time. */
  grouped(by: CostGroupKey, since?: string): CostGroupRow[] {
    return this.db
      .prepare(
        `SELECT ${GROUP_EXPR[by]} AS grp,
           sum(usd) AS usd,
           sum(CASE WHEN phase = 'queue' THEN 0 ELSE seconds END) AS seconds,
           sum(CASE WHEN phase = 'queue' THEN seconds ELSE 0 END) AS queued,
           count(*) AS entries,
           group_concat(DISTINCT price_per_hour) AS prices
         FROM cost_entries ${since ? 'WHERE ts >= @since' : ''}
         GROUP BY grp ORDER BY grp`,
      )
      .all(since ? {since} : {}) as CostGroupRow[];
  }
}
