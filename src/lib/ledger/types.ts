/**
 * The rows of the ledger's tables as the stores return them, and what callers pass in to write
 * them. The run domain types (kinds, statuses) live in domain/run.ts and are re-exported here.
 */
import type {RunKind, RunStatus} from '../domain/run.js';

export {ACTIVE_STATUSES, FINAL_STATUSES, RUN_STATUSES, type RunKind, type RunStatus} from '../domain/run.js';

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

export interface EventRow {
  id: number;
  run_id: string;
  ts: string;
  type: string;
  data_json: string;
}

export interface ArtifactRow {
  id: number;
  kind: string;
  path: string;
  sha256: string | null;
  size_bytes: number | null;
  created_at: string;
  meta_json: string;
}
