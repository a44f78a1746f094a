/**
 * The ledger: the project's SQLite file, reached through one store per table family (runs and
 * their events and artifacts, metrics, costs, datasets, deployments and requests, the model
 * registry, pipelines). All SQL lives
 * in those stores (src/lib/ledger/*-store.ts); the database handle itself is private, so no other
 * module writes SQL (test/foundation/layers.test.ts checks it).
 *
 * The methods on Ledger below are the short names the rest of llmops has always used; each is one
 * call to a store.
 */
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {notFoundError} from '../errors.js';
import {CostsStore} from './costs-store.js';
import {DatasetsStore} from './datasets-store.js';
import {openLedgerDb, schemaVersion, type Database, type OpenOptions} from './db.js';
import {DeploymentsStore, type DeploymentFields} from './deployments-store.js';
import {EvalStore} from './eval-store.js';
import {ImageStore} from './image-store.js';
import {MetricsStore, type MetricStats} from './metrics-store.js';
import {PipelineStore} from './pipeline-store.js';
import {RegistryStore} from './registry-store.js';
import {RunsStore, type RunFields} from './runs-store.js';
import type {ArtifactRow, CostEntry, DatasetRow, DeploymentRow, EventRow, MetricPoint, NewRun, RequestRow, RunFilter, RunRow, RunStatus} from './types.js';

export * from './types.js';

/** Path of the ledger for a project: LLMOPS_DB, else ledger.path relative to the project root. */
export function ledgerPath(loaded: Pick<LoadedConfig, 'config' | 'root'>): string {
  const env = process.env.LLMOPS_DB;
  if (env) return path.resolve(env);
  return path.resolve(loaded.root, loaded.config.ledger.path);
}

export class Ledger {
  readonly file: string;
  readonly runs: RunsStore;
  readonly metrics: MetricsStore;
  readonly costs: CostsStore;
  readonly datasets: DatasetsStore;
  readonly deployments: DeploymentsStore;
  readonly #db: Database;

  constructor(db: Database, file: string) {
    this.#db = db;
    this.file = file;
    this.runs = new RunsStore(db);
    this.metrics = new MetricsStore(db);
    this.costs = new CostsStore(db);
    this.datasets = new DatasetsStore(db);
    this.deployments = new DeploymentsStore(db);
  }

  static open(file: string, opts: OpenOptions = {}): Ledger {
    return new Ledger(openLedgerDb(file, opts), file);
  }

  static forProject(loaded: Pick<LoadedConfig, 'config' | 'root'>, opts: OpenOptions = {}): Ledger {
    return Ledger.open(ledgerPath(loaded), opts);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  private evalStore?: EvalStore;
  /** eval_results (llmops eval). */
  get evals(): EvalStore {
    this.evalStore ??= new EvalStore(this.#db);
    return this.evalStore;
  }

  private imageStore?: ImageStore;
  /** Container images built by `llmops image build` (image-store.ts). */
  get images(): ImageStore {
    return (this.imageStore ??= new ImageStore(this.#db));
  }

  private registryStore?: RegistryStore;
  private pipelineStore?: PipelineStore;

  /** Named models, their versions and aliases (registry-store.ts). */
  get registry(): RegistryStore {
    this.registryStore ??= new RegistryStore(this.#db);
    return this.registryStore;
  }

  /** Pipeline executions and stage decisions (pipeline-store.ts). */
  get pipeline(): PipelineStore {
    this.pipelineStore ??= new PipelineStore(this.#db);
    return this.pipelineStore;
  }

  /** Folds the write-ahead log into the main file (a backup or a file-level copy then has everything). */
  checkpoint(): void {
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
  }

  schemaVersion(): number {
    return schemaVersion(this.#db);
  }

  /** Runs `fn` in one write transaction (taken at once: BEGIN IMMEDIATE), so its writes land together. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  // ---- runs ---------------------------------------------------------------------------------

  insertRun(run: NewRun): RunRow {
    this.runs.insert(run);
    return this.getRun(run.id);
  }

  /** The run with this id (or unique id prefix); a NOT_FOUND error (details.entity 'run') otherwise. */
  getRun(id: string): RunRow {
    const row = this.findRun(id);
    if (!row) throw notFoundError(`No run with id "${id}" in the ledger (${this.file}).`, {details: {entity: 'run', id}});
    return row;
  }

  /** Exact id, or a unique prefix of one (as git accepts short hashes). */
  findRun(id: string): RunRow | undefined {
    return this.runs.find(id);
  }

  listRuns(filter: RunFilter = {}): RunRow[] {
    return this.runs.list(filter);
  }

  countRuns(): number {
    return this.runs.count();
  }

  /** See RunsStore.setStatus: atomic, final statuses are sticky. */
  setRunStatus(id: string, status: RunStatus, reason: string, extra: {exitCode?: number | null; signal?: string | null; summary?: unknown} = {}): boolean {
    return this.runs.setStatus(id, status, reason, extra);
  }

  updateRun(id: string, fields: RunFields): void {
    this.runs.update(id, fields);
  }

  // ---- events, metrics, artifacts -----------------------------------------------------------

  appendEvent(runId: string, type: string, data: unknown = {}, ts?: string): void {
    this.runs.appendEvent(runId, type, data, ts);
  }

  events(runId: string, afterId = 0): EventRow[] {
    return this.runs.events(runId, afterId);
  }

  insertMetrics(points: MetricPoint[]): void {
    this.metrics.insert(points);
  }

  metricSeries(runId: string, key: string): Array<{step: number; value: number; ts: number}> {
    return this.metrics.series(runId, key);
  }

  /** Per key: count, last step, last value, min and max. */
  metricSummary(runId: string): Record<string, MetricStats> {
    return this.metrics.summary(runId);
  }

  addArtifact(a: {runId: string; kind: string; path: string; sha256?: string; sizeBytes?: number; meta?: unknown}): void {
    this.runs.addArtifact(a);
  }

  artifacts(runId: string): ArtifactRow[] {
    return this.runs.artifacts(runId);
  }

  // ---- costs --------------------------------------------------------------------------------

  addCost(e: CostEntry): number {
    return this.costs.add(e);
  }

  runCost(runId: string): {usd: number; seconds: number; byPhase: Record<string, {usd: number; seconds: number}>} {
    return this.costs.runCost(runId);
  }

  /** Billed USD since an ISO timestamp (the monthly budget check). */
  spentSince(sinceIso: string): number {
    return this.costs.spentSince(sinceIso);
  }

  // ---- datasets -----------------------------------------------------------------------------

  upsertDataset(d: {id: string; path: string; manifestSha256: string; manifest: unknown; records: number; kind: string}): void {
    this.datasets.upsert(d);
  }

  getDataset(id: string): DatasetRow | undefined {
    return this.datasets.get(id);
  }

  latestDataset(kind?: string): DatasetRow | undefined {
    return this.datasets.latest(kind);
  }

  listDatasets(): DatasetRow[] {
    return this.datasets.list();
  }

  // ---- deployments and requests -------------------------------------------------------------

  insertDeployment(d: Omit<DeploymentRow, 'created_at' | 'started_at' | 'stopped_at'> & {started_at?: string | null}): void {
    this.deployments.insert(d);
  }

  updateDeployment(id: string, fields: DeploymentFields): void {
    this.deployments.update(id, fields);
  }

  /** By id, or the newest deployment with that name. */
  findDeployment(idOrName: string): DeploymentRow | undefined {
    return this.deployments.find(idOrName);
  }

  listDeployments(): DeploymentRow[] {
    return this.deployments.list();
  }

  insertRequests(rows: readonly RequestRow[]): void {
    this.deployments.insertRequests(rows);
  }

  listRequests(deploymentId: string, limit = 1000): Array<RequestRow & {id: number}> {
    return this.deployments.listRequests(deploymentId, limit);
  }

  /** Number of recorded requests per deployment id. */
  requestCountsByDeployment(): Record<string, number> {
    return this.deployments.requestCounts();
  }
}
