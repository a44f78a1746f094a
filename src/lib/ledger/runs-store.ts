/**
 * Runs, their append-only event log and their artifacts: the SQL of the runs table family.
 */
import {notFoundError} from '../errors.js';
import {nowIso} from '../util/time.js';
import {ACTIVE_STATUSES, FINAL_STATUSES, type RunStatus} from '../domain/run.js';
import type {Database} from './db.js';
import type {ArtifactRow, EventRow, NewRun, RunFilter, RunRow} from './types.js';

/** Escapes LIKE's wildcards so an id prefix matches literally. */
export const likePrefix = (s: string): string => s.replaceAll(/[\\%_]/g, (c) => '\\' + c) + '%';

export type RunFields = Partial<{
  pid: number | null;
  backend_ref: string | null;
  backend_state_json: string | null;
  summary_json: string;
  lineage_json: string;
  stalled_at: string | null;
}>;

export class RunsStore {
  constructor(private readonly db: Database) {}

  insert(run: NewRun): void {
    const now = nowIso();
    const status = run.status ?? 'queued';
    const tx = this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO runs (id, kind, status, name, backend, backend_type, preset, dataset_id, parent_run_id,
             created_at, updated_at, run_dir, budget_usd, spec_json, lineage_json)
           VALUES (@id, @kind, @status, @name, @backend, @backendType, @preset, @datasetId, @parentRunId,
             @now, @now, @runDir, @budgetUsd, @spec, @lineage)`,
        )
        .run({
          id: run.id,
          kind: run.kind,
          status,
          name: run.name ?? null,
          backend: run.backend,
          backendType: run.backendType,
          preset: run.preset ?? null,
          datasetId: run.datasetId ?? null,
          parentRunId: run.parentRunId ?? null,
          now,
          runDir: run.runDir,
          budgetUsd: run.budgetUsd ?? null,
          spec: JSON.stringify(run.spec ?? {}),
          lineage: JSON.stringify(run.lineage ?? {}),
        });
      this.appendEvent(run.id, 'status', {status, reason: 'created'}, now);
    });
    tx.immediate();
  }

  /** Exact id, or a unique prefix of one (as git accepts short hashes). */
  find(id: string): RunRow | undefined {
    const exact = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    if (exact) return exact;
    if (id.length < 4) return undefined;
    const rows = this.db.prepare("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2").all(likePrefix(id)) as RunRow[];
    return rows.length === 1 ? rows[0] : undefined;
  }

  list(filter: RunFilter = {}): RunRow[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.kind) {
      where.push('kind = @kind');
      params.kind = filter.kind;
    }
    if (filter.status) {
      where.push('status = @status');
      params.status = filter.status;
    }
    if (filter.since) {
      where.push('created_at >= @since');
      params.since = filter.since;
    }
    const sql = `SELECT * FROM runs ${where.length > 0 ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY created_at DESC, id DESC ${filter.limit ? 'LIMIT ' + Math.floor(filter.limit) : ''}`;
    return this.db.prepare(sql).all(params) as RunRow[];
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM runs').get() as {n: number}).n;
  }

  /** Runs that have not ended (queued or running), oldest first. */
  active(): RunRow[] {
    return this.db
      .prepare(`SELECT * FROM runs WHERE status IN (${ACTIVE_STATUSES.map(() => '?').join(', ')}) ORDER BY created_at, id`)
      .all(...ACTIVE_STATUSES) as RunRow[];
  }

  countActive(): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM runs WHERE status IN (${ACTIVE_STATUSES.map(() => '?').join(', ')})`).get(...ACTIVE_STATUSES) as {n: number}).n;
  }

  /** Runs started from this one (fine-tunes of it, resumes of it), oldest first. */
  children(parentRunId: string): RunRow[] {
    return this.db.prepare('SELECT * FROM runs WHERE parent_run_id = ? ORDER BY created_at').all(parentRunId) as RunRow[];
  }

  /** Runs that trained on this dataset, oldest first. */
  usingDataset(datasetId: string): RunRow[] {
    return this.db.prepare('SELECT * FROM runs WHERE dataset_id = ? ORDER BY created_at').all(datasetId) as RunRow[];
  }

  /**
   * The newest (at most 20) succeeded runs like this one, with their wall time and last metric
   * step: the history a time estimate is made from.
   */
  succeededLike(q: {kind: string; backend: string; preset?: string}): Array<{started_at: string; ended_at: string; summary_json: string; last_step: number | null}> {
    return this.db
      .prepare(
        `SELECT r.id, r.started_at, r.ended_at, r.summary_json,
           (SELECT max(step) FROM metrics m WHERE m.run_id = r.id) AS last_step
         FROM runs r
         WHERE r.status = 'succeeded' AND r.kind = @kind AND r.backend = @backend AND coalesce(r.preset, '') = @preset
           AND r.started_at IS NOT NULL AND r.ended_at IS NOT NULL
         ORDER BY r.created_at DESC LIMIT 20`,
      )
      .all({kind: q.kind, backend: q.backend, preset: q.preset ?? ''}) as Array<{started_at: string; ended_at: string; summary_json: string; last_step: number | null}>;
  }

  /**
   * Moves a run to a new status and appends the change to its events, atomically. Final statuses
   * are sticky: a run that already ended keeps its status (a late reconcile cannot overwrite it).
   */
  setStatus(
    id: string,
    status: RunStatus,
    reason: string,
    extra: {exitCode?: number | null; signal?: string | null; summary?: unknown} = {},
  ): boolean {
    const now = nowIso();
    let changed = false;
    const tx = this.db.transaction(() => {
      const cur = this.db.prepare('SELECT status FROM runs WHERE id = ?').get(id) as {status: RunStatus} | undefined;
      if (!cur) throw notFoundError(`No run with id "${id}".`, {details: {entity: 'run', id}});
      if (FINAL_STATUSES.has(cur.status)) return;
      const final = FINAL_STATUSES.has(status);
      this.db
        .prepare(
          `UPDATE runs SET status = @status, reason = @reason, updated_at = @now,
             started_at = CASE WHEN @status = 'running' AND started_at IS NULL THEN @now ELSE started_at END,
             ended_at = CASE WHEN @final THEN @now ELSE ended_at END,
             exit_code = COALESCE(@exitCode, exit_code), signal = COALESCE(@signal, signal),
             summary_json = COALESCE(@summary, summary_json)
           WHERE id = @id`,
        )
        .run({
          id,
          status,
          reason,
          now,
          final: final ? 1 : 0,
          exitCode: extra.exitCode ?? null,
          signal: extra.signal ?? null,
          summary: extra.summary === undefined ? null : JSON.stringify(extra.summary),
        });
      this.appendEvent(id, 'status', {status, reason, exitCode: extra.exitCode, signal: extra.signal}, now);
      changed = true;
    });
    tx.immediate();
    return changed;
  }

  update(id: string, fields: RunFields): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${k} = @${k}`).join(', ');
    this.db.prepare(`UPDATE runs SET ${sets}, updated_at = @__now WHERE id = @__id`).run({...fields, __now: nowIso(), __id: id});
  }

  appendEvent(runId: string, type: string, data: unknown = {}, ts = nowIso()): void {
    this.db.prepare('INSERT INTO run_events (run_id, ts, type, data_json) VALUES (?, ?, ?, ?)').run(runId, ts, type, JSON.stringify(data ?? {}));
  }

  events(runId: string, afterId = 0): EventRow[] {
    return this.db.prepare('SELECT * FROM run_events WHERE run_id = ? AND id > ? ORDER BY id').all(runId, afterId) as EventRow[];
  }

  /** How many events of each type a run has. */
  eventCounts(runId: string): Record<string, number> {
    const rows = this.db.prepare('SELECT type, count(*) AS n FROM run_events WHERE run_id = ? GROUP BY type').all(runId) as Array<{type: string; n: number}>;
    return Object.fromEntries(rows.map((r) => [r.type, r.n]));
  }

  addArtifact(a: {runId: string; kind: string; path: string; sha256?: string; sizeBytes?: number; meta?: unknown}): void {
    this.db
      .prepare('INSERT INTO artifacts (run_id, kind, path, sha256, size_bytes, created_at, meta_json) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.runId, a.kind, a.path, a.sha256 ?? null, a.sizeBytes ?? null, nowIso(), JSON.stringify(a.meta ?? {}));
  }

  artifacts(runId: string): ArtifactRow[] {
    return this.db.prepare('SELECT * FROM artifacts WHERE run_id = ? ORDER BY id').all(runId) as ArtifactRow[];
  }
}
