/**
 * The ledger: typed access to the project's SQLite file. Each area of llmops records through the
 * methods here, so the SQL for one table lives in one place.
 */
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {notFoundError} from '../errors.js';
import {nowIso} from '../util/time.js';
import {openLedgerDb, schemaVersion, type Database, type OpenOptions} from './db.js';
import {LeaseStore} from './lease-store.js';
import {PipelineStore} from './pipeline-store.js';
import {RegistryStore} from './registry-store.js';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'budget_exceeded' | 'lost';
export const RUN_STATUSES: RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'stopped', 'budget_exceeded', 'lost'];
export const FINAL_STATUSES = new Set<RunStatus>(['succeeded', 'failed', 'stopped', 'budget_exceeded', 'lost']);
export type RunKind = 'train' | 'finetune' | 'command' | 'export';

export interface RunRow {
  id: string;
  kind: RunKind;
  status: RunStatus;
  name: string | null;
  backend: string;
  backend_type: string;
  preset: string | null;
  dataset_id: string | null;
  parent_run_id: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  updated_at: string;
  exit_code: number | null;
  signal: string | null;
  reason: string | null;
  run_dir: string;
  budget_usd: number | null;
  pid: number | null;
  backend_ref: string | null;
  backend_state_json: string | null;
  spec_json: string;
  lineage_json: string;
  summary_json: string;
  stalled_at: string | null;
}

export interface NewRun {
  id: string;
  kind: RunKind;
  status?: RunStatus;
  name?: string;
  backend: string;
  backendType: string;
  preset?: string;
  datasetId?: string;
  parentRunId?: string;
  runDir: string;
  budgetUsd?: number;
  spec: unknown;
  lineage?: unknown;
}

export interface RunFilter {
  kind?: string;
  status?: string;
  /** ISO timestamp: runs created at or after it. */
  since?: string;
  limit?: number;
}

export interface MetricPoint {
  runId: string;
  step: number;
  key: string;
  value: number;
  ts: number;
}

export interface CostEntry {
  runId?: string;
  deploymentId?: string;
  stage: string;
  phase: 'queue' | 'setup' | 'run' | 'serve';
  backend: string;
  resource: string;
  seconds: number;
  pricePerHour: number;
  priceSource: string;
  billed?: boolean;
  ts?: string;
  meta?: Record<string, unknown>;
}

export interface DatasetRow {
  id: string;
  created_at: string;
  path: string;
  manifest_sha256: string;
  manifest_json: string;
  records: number;
  kind: string;
}

export interface DeploymentRow {
  id: string;
  name: string;
  status: string;
  model_run_id: string | null;
  model_dir: string;
  target: string;
  host: string;
  port: number;
  url: string;
  pid: number | null;
  log_path: string | null;
  price_per_hour: number;
  created_at: string;
  started_at: string | null;
  stopped_at: string | null;
  config_json: string;
}

/** One row of the requests table (the server's record of a request; see migrations.ts). */
export interface RequestRow {
  deployment_id: string;
  model_run_id: string | null;
  ts: number;
  endpoint: 'chat' | 'completions';
  stream: number;
  status: 'ok' | 'error' | 'cancelled';
  http_status: number;
  finish_reason: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  queue_ms: number | null;
  ttft_ms: number | null;
  e2e_ms: number | null;
  itl_ms: number | null;
  prompt_chars: number;
  error: string | null;
  profile_json: string | null;
  prompt_text: string | null;
  completion_text: string | null;
}

/** Path of the ledger for a project: LLMOPS_DB, else ledger.path relative to the project root. */
export function ledgerPath(loaded: Pick<LoadedConfig, 'config' | 'root'>): string {
  const env = process.env.LLMOPS_DB;
  if (env) return path.resolve(env);
  return path.resolve(loaded.root, loaded.config.ledger.path);
}

export class Ledger {
  readonly db: Database;
  readonly file: string;

  constructor(db: Database, file: string) {
    this.db = db;
    this.file = file;
  }

  static open(file: string, opts: OpenOptions = {}): Ledger {
    return new Ledger(openLedgerDb(file, opts), file);
  }

  static forProject(loaded: Pick<LoadedConfig, 'config' | 'root'>, opts: OpenOptions = {}): Ledger {
    return Ledger.open(ledgerPath(loaded), opts);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private registryStore?: RegistryStore;
  private pipelineStore?: PipelineStore;
  private leaseStore?: LeaseStore;

  /** Who supervises each active run (lease-store.ts). */
  get leases(): LeaseStore {
    this.leaseStore ??= new LeaseStore(this.db);
    return this.leaseStore;
  }

  /** Named models, their versions and aliases (registry-store.ts). */
  get registry(): RegistryStore {
    this.registryStore ??= new RegistryStore(this.db);
    return this.registryStore;
  }

  /** Pipeline executions and stage decisions (pipeline-store.ts). */
  get pipeline(): PipelineStore {
    this.pipelineStore ??= new PipelineStore(this.db);
    return this.pipelineStore;
  }

  schemaVersion(): number {
    return schemaVersion(this.db);
  }

  // ---- runs ---------------------------------------------------------------------------------

  insertRun(run: NewRun): RunRow {
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
    return this.getRun(run.id);
  }

  getRun(id: string): RunRow {
    const row = this.findRun(id);
    if (!row) {
      throw notFoundError(`No run with id "${id}" in the ledger (${this.file}).`, {
        fix: 'Try this: `llmops runs list` to see the run ids.',
      });
    }
    return row;
  }

  /** Exact id, or a unique prefix of one (as git accepts short hashes). */
  findRun(id: string): RunRow | undefined {
    const exact = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    if (exact) return exact;
    if (id.length < 4) return undefined;
    const rows = this.db.prepare("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2").all(
      id.replaceAll(/[\\%_]/g, (c) => '\\' + c) + '%',
    ) as RunRow[];
    return rows.length === 1 ? rows[0] : undefined;
  }

  listRuns(filter: RunFilter = {}): RunRow[] {
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

  /** Runs in the given statuses (reconcile's working set), optionally only those ended since an ISO time. */
  runsWithStatus(statuses: RunStatus[], endedSince?: string): RunRow[] {
    const marks = statuses.map(() => '?').join(', ');
    return (endedSince
      ? this.db.prepare(`SELECT * FROM runs WHERE status IN (${marks}) AND ended_at >= ?`).all(...statuses, endedSince)
      : this.db.prepare(`SELECT * FROM runs WHERE status IN (${marks})`).all(...statuses)) as RunRow[];
  }

  countRuns(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM runs').get() as {n: number}).n;
  }

  /**
   * Moves a run to a new status and appends the change to its events, atomically. Final statuses
   * are sticky: a run that already ended keeps its status (a late reconcile cannot overwrite it).
   */
  setRunStatus(
    id: string,
    status: RunStatus,
    reason: string,
    extra: {exitCode?: number | null; signal?: string | null; summary?: unknown} = {},
  ): boolean {
    const now = nowIso();
    let changed = false;
    const tx = this.db.transaction(() => {
      const cur = this.db.prepare('SELECT status FROM runs WHERE id = ?').get(id) as {status: RunStatus} | undefined;
      if (!cur) throw notFoundError(`No run with id "${id}".`);
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

  /**
   * A run declared lost whose true end turned up later (exit.json, a final event): it moves to
   * that status, and the change is an event of its own, so the history shows both verdicts.
   */
  reviseLostRun(id: string, status: RunStatus, reason: string, extra: {exitCode?: number | null; signal?: string | null} = {}): boolean {
    let changed = false;
    const now = nowIso();
    const tx = this.db.transaction(() => {
      const cur = this.db.prepare('SELECT status, reason FROM runs WHERE id = ?').get(id) as {status: RunStatus; reason: string | null} | undefined;
      if (cur?.status !== 'lost' || status === 'lost') return;
      this.db
        .prepare('UPDATE runs SET status = ?, reason = ?, updated_at = ?, exit_code = COALESCE(?, exit_code), signal = COALESCE(?, signal) WHERE id = ?')
        .run(status, reason, now, extra.exitCode ?? null, extra.signal ?? null, id);
      this.appendEvent(id, 'status_revised', {from: 'lost', status, reason, previousReason: cur.reason}, now);
      changed = true;
    });
    tx.immediate();
    return changed;
  }

  updateRun(
    id: string,
    fields: Partial<{pid: number | null; backend_ref: string | null; backend_state_json: string | null; summary_json: string; lineage_json: string; stalled_at: string | null}>,
  ): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${k} = @${k}`).join(', ');
    this.db.prepare(`UPDATE runs SET ${sets}, updated_at = @__now WHERE id = @__id`).run({...fields, __now: nowIso(), __id: id});
  }

  // ---- events, metrics, artifacts -----------------------------------------------------------

  appendEvent(runId: string, type: string, data: unknown = {}, ts = nowIso()): void {
    this.db
      .prepare('INSERT INTO run_events (run_id, ts, type, data_json) VALUES (?, ?, ?, ?)')
      .run(runId, ts, type, JSON.stringify(data ?? {}));
  }

  events(runId: string, afterId = 0): Array<{id: number; run_id: string; ts: string; type: string; data_json: string}> {
    return this.db
      .prepare('SELECT * FROM run_events WHERE run_id = ? AND id > ? ORDER BY id')
      .all(runId, afterId) as Array<{id: number; run_id: string; ts: string; type: string; data_json: string}>;
  }

  /** Inserts metric points in one transaction (the runtime batches event-file lines into this). */
  insertMetrics(points: MetricPoint[]): void {
    if (points.length === 0) return;
    const stmt = this.db.prepare('INSERT INTO metrics (run_id, step, key, value, ts) VALUES (?, ?, ?, ?, ?)');
    const tx = this.db.transaction((pts: MetricPoint[]) => {
      for (const p of pts) stmt.run(p.runId, p.step, p.key, p.value, p.ts);
    });
    tx.immediate(points);
  }

  metricSeries(runId: string, key: string): Array<{step: number; value: number; ts: number}> {
    return this.db
      .prepare('SELECT step, value, ts FROM metrics WHERE run_id = ? AND key = ? ORDER BY step')
      .all(runId, key) as Array<{step: number; value: number; ts: number}>;
  }

  /** Per key: count, last step, last value, min and max. */
  metricSummary(runId: string): Record<string, {count: number; last: number; lastStep: number; min: number; max: number}> {
    const rows = this.db
      .prepare(
        `SELECT key, count(*) AS count, min(value) AS min, max(value) AS max, max(step) AS lastStep,
           (SELECT m2.value FROM metrics m2 WHERE m2.run_id = m.run_id AND m2.key = m.key ORDER BY m2.step DESC, m2.rowid DESC LIMIT 1) AS last
         FROM metrics m WHERE run_id = ? GROUP BY key ORDER BY key`,
      )
      .all(runId) as Array<{key: string; count: number; min: number; max: number; lastStep: number; last: number}>;
    return Object.fromEntries(rows.map(({key, ...rest}) => [key, rest]));
  }

  addArtifact(a: {runId: string; kind: string; path: string; sha256?: string; sizeBytes?: number; meta?: unknown}): void {
    this.db
      .prepare(
        'INSERT INTO artifacts (run_id, kind, path, sha256, size_bytes, created_at, meta_json) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(a.runId, a.kind, a.path, a.sha256 ?? null, a.sizeBytes ?? null, nowIso(), JSON.stringify(a.meta ?? {}));
  }

  artifacts(runId: string): Array<{id: number; kind: string; path: string; sha256: string | null; size_bytes: number | null; created_at: string; meta_json: string}> {
    return this.db.prepare('SELECT * FROM artifacts WHERE run_id = ? ORDER BY id').all(runId) as Array<{
      id: number;
      kind: string;
      path: string;
      sha256: string | null;
      size_bytes: number | null;
      created_at: string;
      meta_json: string;
    }>;
  }

  // ---- costs --------------------------------------------------------------------------------

  addCost(e: CostEntry): number {
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

  // ---- datasets -----------------------------------------------------------------------------

  upsertDataset(d: {id: string; path: string; manifestSha256: string; manifest: unknown; records: number; kind: string}): void {
    this.db
      .prepare(
        `INSERT INTO datasets (id, created_at, path, manifest_sha256, manifest_json, records, kind)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET path = excluded.path`,
      )
      .run(d.id, nowIso(), d.path, d.manifestSha256, JSON.stringify(d.manifest), d.records, d.kind);
  }

  getDataset(id: string): DatasetRow | undefined {
    const exact = this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow | undefined;
    if (exact || id.length < 4) return exact;
    const rows = this.db.prepare('SELECT * FROM datasets WHERE id LIKE ? LIMIT 2').all(id.replaceAll(/[%_]/g, '') + '%') as DatasetRow[];
    return rows.length === 1 ? rows[0] : undefined;
  }

  latestDataset(kind?: string): DatasetRow | undefined {
    return (
      kind
        ? this.db.prepare('SELECT * FROM datasets WHERE kind = ? ORDER BY created_at DESC, rowid DESC LIMIT 1').get(kind)
        : this.db.prepare('SELECT * FROM datasets ORDER BY created_at DESC, rowid DESC LIMIT 1').get()
    ) as DatasetRow | undefined;
  }

  listDatasets(): DatasetRow[] {
    return this.db.prepare('SELECT * FROM datasets ORDER BY created_at DESC').all() as DatasetRow[];
  }

  // ---- deployments --------------------------------------------------------------------------

  insertDeployment(d: Omit<DeploymentRow, 'created_at' | 'started_at' | 'stopped_at'> & {started_at?: string | null}): void {
    this.db
      .prepare(
        `INSERT INTO deployments (id, name, status, model_run_id, model_dir, target, host, port, url, pid, log_path,
           price_per_hour, created_at, started_at, config_json)
         VALUES (@id, @name, @status, @model_run_id, @model_dir, @target, @host, @port, @url, @pid, @log_path,
           @price_per_hour, @created_at, @started_at, @config_json)`,
      )
      .run({...d, created_at: nowIso(), started_at: d.started_at ?? null});
  }

  updateDeployment(id: string, fields: Partial<Pick<DeploymentRow, 'status' | 'pid' | 'port' | 'url' | 'started_at' | 'stopped_at'>>): void {
    const keys = Object.keys(fields);
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE deployments SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE id = @__id`).run({...fields, __id: id});
  }

  /** By id, or the newest deployment with that name. */
  findDeployment(idOrName: string): DeploymentRow | undefined {
    return (this.db.prepare('SELECT * FROM deployments WHERE id = ?').get(idOrName) ??
      this.db.prepare('SELECT * FROM deployments WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1').get(idOrName)) as
      | DeploymentRow
      | undefined;
  }

  listDeployments(): DeploymentRow[] {
    return this.db.prepare('SELECT * FROM deployments ORDER BY created_at DESC').all() as DeploymentRow[];
  }

  // ---- requests (written by the server in batches) -------------------------------------------

  insertRequests(rows: readonly RequestRow[]): void {
    if (rows.length === 0) return;
    const stmt = this.db.prepare(
      `INSERT INTO requests (deployment_id, model_run_id, ts, endpoint, stream, status, http_status, finish_reason,
         prompt_tokens, completion_tokens, queue_ms, ttft_ms, e2e_ms, itl_ms, prompt_chars, error, profile_json,
         prompt_text, completion_text)
       VALUES (@deployment_id, @model_run_id, @ts, @endpoint, @stream, @status, @http_status, @finish_reason,
         @prompt_tokens, @completion_tokens, @queue_ms, @ttft_ms, @e2e_ms, @itl_ms, @prompt_chars, @error, @profile_json,
         @prompt_text, @completion_text)`,
    );
    const tx = this.db.transaction((rs: readonly RequestRow[]) => {
      for (const r of rs) stmt.run(r);
    });
    tx.immediate(rows);
  }

  listRequests(deploymentId: string, limit = 1000): Array<RequestRow & {id: number}> {
    return this.db
      .prepare('SELECT * FROM requests WHERE deployment_id = ? ORDER BY id LIMIT ?')
      .all(deploymentId, limit) as Array<RequestRow & {id: number}>;
  }

  /** Number of recorded requests per deployment id. */
  requestCountsByDeployment(): Record<string, number> {
    const rows = this.db.prepare('SELECT deployment_id, count(*) AS n FROM requests GROUP BY deployment_id').all() as Array<{deployment_id: string; n: number}>;
    return Object.fromEntries(rows.map((r) => [r.deployment_id, r.n]));
  }
}
