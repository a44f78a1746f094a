/**
 * eval_results: one row per metric that `llmops eval` measured on a model, with what it was
 * measured on (file or dataset and its hash) and the baseline it was compared with.
 */
import {nowIso} from '../util/time.js';
import type {Database} from './db.js';

export interface EvalResultRow {
  id: number;
  /** One `llmops eval` invocation: its rows (the model's and the baseline's) share it. */
  eval_id: string;
  /** The model folder measured. */
  model: string;
  run_id: string | null;
  suite: 'perplexity' | 'choices' | 'generate' | 'pairs';
  /** e.g. perplexity, bits_per_byte, acc, pct_stereotype, pct_stereotype[gender]. */
  metric: string;
  value: number | null;
  /** Records (texts, questions, pairs) the value is over. */
  n: number | null;
  /** The eval file, or the dataset id for a dataset's test split. */
  data: string | null;
  data_sha256: string | null;
  /** The baseline model folder this measurement was compared with (null for a baseline's own rows). */
  baseline: string | null;
  role: 'model' | 'baseline';
  created_at: string;
}

export type NewEvalResult = Omit<EvalResultRow, 'id' | 'created_at'> & {created_at?: string};

export class EvalStore {
  constructor(private readonly db: Database) {}

  /** A ledger opened read-only is not migrated: an older file may not have the table yet. */
  private exists(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'eval_results'").get() !== undefined;
  }

  insert(rows: readonly NewEvalResult[]): void {
    if (rows.length === 0) return;
    const stmt = this.db.prepare(
      `INSERT INTO eval_results (eval_id, model, run_id, suite, metric, value, n, data, data_sha256, baseline, role, created_at)
       VALUES (@eval_id, @model, @run_id, @suite, @metric, @value, @n, @data, @data_sha256, @baseline, @role, @created_at)`,
    );
    const now = nowIso();
    this.db.transaction((rs: readonly NewEvalResult[]) => {
      for (const r of rs) stmt.run({...r, created_at: r.created_at ?? now});
    }).immediate(rows);
  }

  /** The newest value of each (suite, metric, data) measured on a run's model. */
  latestForRun(runId: string): EvalResultRow[] {
    if (!this.exists()) return [];
    return this.db
      .prepare(
        `SELECT * FROM eval_results r WHERE run_id = ? AND id = (
           SELECT max(id) FROM eval_results x WHERE x.run_id = r.run_id AND x.suite = r.suite AND x.metric = r.metric AND x.data IS r.data)
         ORDER BY suite, metric, data`,
      )
      .all(runId) as EvalResultRow[];
  }

  /** Same as latestForRun, by model folder (models that are not runs of this ledger). */
  latestForModel(model: string): EvalResultRow[] {
    if (!this.exists()) return [];
    return this.db
      .prepare(
        `SELECT * FROM eval_results r WHERE model = ? AND id = (
           SELECT max(id) FROM eval_results x WHERE x.model = r.model AND x.suite = r.suite AND x.metric = r.metric AND x.data IS r.data)
         ORDER BY suite, metric, data`,
      )
      .all(model) as EvalResultRow[];
  }

  byEval(evalId: string): EvalResultRow[] {
    if (!this.exists()) return [];
    return this.db.prepare('SELECT * FROM eval_results WHERE eval_id = ? ORDER BY id').all(evalId) as EvalResultRow[];
  }
}
