/** Training metrics (one row per step and key): the SQL of the metrics table. */
import type {Database} from './db.js';
import type {MetricPoint} from './types.js';

export interface MetricStats {
  count: number;
  last: number;
  lastStep: number;
  min: number;
  max: number;
}

export class MetricsStore {
  constructor(private readonly db: Database) {}

  /** Inserts metric points in one transaction (the runtime batches event-file lines into this). */
  insert(points: readonly MetricPoint[]): void {
    if (points.length === 0) return;
    const stmt = this.db.prepare('INSERT INTO metrics (run_id, step, key, value, ts) VALUES (?, ?, ?, ?, ?)');
    const tx = this.db.transaction((pts: readonly MetricPoint[]) => {
      for (const p of pts) stmt.run(p.runId, p.step, p.key, p.value, p.ts);
    });
    tx.immediate(points);
  }

  series(runId: string, key: string): Array<{step: number; value: number; ts: number}> {
    return this.db.prepare('SELECT step, value, ts FROM metrics WHERE run_id = ? AND key = ? ORDER BY step').all(runId, key) as Array<{
      step: number;
      value: number;
      ts: number;
    }>;
  }

  /** Per key: count, last step, last value, min and max. */
  summary(runId: string): Record<string, MetricStats> {
    const rows = this.db
      .prepare(
        `SELECT key, count(*) AS count, min(value) AS min, max(value) AS max, max(step) AS lastStep,
           (SELECT m2.value FROM metrics m2 WHERE m2.run_id = m.run_id AND m2.key = m.key ORDER BY m2.step DESC, m2.rowid DESC LIMIT 1) AS last
         FROM metrics m WHERE run_id = ? GROUP BY key ORDER BY key`,
      )
      .all(runId) as Array<{key: string} & MetricStats>;
    return Object.fromEntries(rows.map(({key, ...rest}) => [key, rest]));
  }

  /** When the run last reported a metric (epoch ms) and its highest step; nulls before the first. */
  latest(runId: string): {ts: number | null; step: number | null} {
    return this.db.prepare('SELECT max(ts) AS ts, max(step) AS step FROM metrics WHERE run_id = ?').get(runId) as {ts: number | null; step: number | null};
  }
}
