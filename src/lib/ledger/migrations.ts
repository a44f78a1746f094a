/**
 * Forward-only schema migrations. The schema version lives in `PRAGMA user_version`; each
 * migration runs once, in its own transaction, in order. Never edit a migration that has shipped:
 * add a new one.
 *
 * Conventions: JSON is stored as JSON text (columns named *_json), never as blobs. Human-facing
 * timestamps are ISO-8601 UTC text (sortable); high-volume rows (metrics, requests) use integer
 * epoch milliseconds in `ts`. Append-only tables (run_events, cost_entries) refuse UPDATE and DELETE
 * with triggers, so a bug cannot rewrite history.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const appendOnly = (table: string) => `
CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table} BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END;
CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table} BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END;
`;

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE datasets (
  id TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  path TEXT NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  manifest_json TEXT NOT NULL,
  records INTEGER NOT NULL DEFAULT 0,
  kind TEXT NOT NULL DEFAULT 'text'          -- text | chat (what the records hold)
);

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,                        -- train | finetune | command | export
  status TEXT NOT NULL,                      -- queued | running | succeeded | failed | stopped | budget_exceeded | lost
  name TEXT,
  backend TEXT NOT NULL DEFAULT 'local',
  backend_type TEXT NOT NULL DEFAULT 'local',
  preset TEXT,
  dataset_id TEXT,
  parent_run_id TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  ended_at TEXT,
  updated_at TEXT NOT NULL,
  exit_code INTEGER,
  signal TEXT,
  reason TEXT,                               -- why the run is in its status (human text)
  run_dir TEXT NOT NULL,
  budget_usd REAL,
  pid INTEGER,
  backend_ref TEXT,                          -- pgid, remote pid, Slurm job id, k8s job name
  backend_state_json TEXT,
  spec_json TEXT NOT NULL,
  lineage_json TEXT NOT NULL DEFAULT '{}',
  summary_json TEXT NOT NULL DEFAULT '{}',   -- last metrics, totals (filled when the run ends)
  stalled_at TEXT
);
CREATE INDEX runs_created ON runs(created_at DESC);
CREATE INDEX runs_status ON runs(status);
CREATE INDEX runs_dataset ON runs(dataset_id);
CREATE INDEX runs_parent ON runs(parent_run_id);

CREATE TABLE run_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  ts TEXT NOT NULL,
  type TEXT NOT NULL,                        -- status | checkpoint | artifact | heartbeat | log | ...
  data_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX run_events_run ON run_events(run_id, id);
${appendOnly('run_events')}

CREATE TABLE metrics (
  run_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  key TEXT NOT NULL,
  value REAL NOT NULL,
  ts INTEGER NOT NULL
);
CREATE INDEX metrics_run_key_step ON metrics(run_id, key, step);

CREATE TABLE artifacts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,                        -- checkpoint | model | onnx | report | log | other
  path TEXT NOT NULL,
  sha256 TEXT,
  size_bytes INTEGER,
  created_at TEXT NOT NULL,
  meta_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX artifacts_run ON artifacts(run_id);

CREATE TABLE cost_entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL,
  run_id TEXT,
  deployment_id TEXT,
  stage TEXT NOT NULL,                       -- data | train | finetune | command | serve
  phase TEXT NOT NULL,                       -- queue | setup | run | serve
  backend TEXT NOT NULL,
  resource TEXT NOT NULL,                    -- e.g. "cpu", "A100-80GB x1"
  seconds REAL NOT NULL,
  price_per_hour REAL NOT NULL,              -- the price in force when the cost was incurred
  price_source TEXT NOT NULL,
  usd REAL NOT NULL,
  billed INTEGER NOT NULL DEFAULT 1,         -- queue time is recorded but not billed
  meta_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX cost_entries_ts ON cost_entries(ts);
CREATE INDEX cost_entries_run ON cost_entries(run_id);
${appendOnly('cost_entries')}

CREATE TABLE deployments (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL,                      -- starting | running | stopped | failed
  model_run_id TEXT,
  model_dir TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT 'local',
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  url TEXT NOT NULL,
  pid INTEGER,
  log_path TEXT,
  price_per_hour REAL NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  started_at TEXT,
  stopped_at TEXT,
  config_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX deployments_name ON deployments(name, created_at DESC);

CREATE TABLE requests (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  deployment_id TEXT NOT NULL,
  model_run_id TEXT,
  ts INTEGER NOT NULL,                       -- arrival, epoch ms
  endpoint TEXT NOT NULL,                    -- chat | completions
  stream INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,                      -- ok | error | cancelled
  http_status INTEGER NOT NULL,
  finish_reason TEXT,                        -- stop | length | error | cancelled
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  queue_ms REAL,
  ttft_ms REAL,
  e2e_ms REAL,
  itl_ms REAL,                               -- mean inter-token latency of this request
  prompt_chars INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  profile_json TEXT,                         -- compact prompt profile for drift (lengths, term sketch)
  prompt_text TEXT,                          -- only with deploy.log_text
  completion_text TEXT
);
CREATE INDEX requests_dep_ts ON requests(deployment_id, ts);
CREATE INDEX requests_ts ON requests(ts);
`,
  },
  {
    version: 2,
    name: 'requests-covering-index',
    // monitor's window summary reads only these columns of requests: with them in the index it
    // scans the index, not the wide rows (profile_json, texts): about 25% faster at 1M requests
    // (docs/benchmarks.md, "Monitor"). It replaces requests_dep_ts, its prefix.
    sql: `
CREATE INDEX requests_summary ON requests(deployment_id, ts, status, prompt_tokens, completion_tokens, e2e_ms, ttft_ms, itl_ms);
DROP INDEX requests_dep_ts;
`,
  },
  {
    version: 3,
    name: 'model-registry',
    // Named models (registry-store.ts): versions are runs, folders or hf: refs; an alias's moves are
    // an append-only history (its current version is its newest row), so a move can always be
    // explained and undone. deployment_models records which version a deployment served, and when.
    sql: `
CREATE TABLE model_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,                  -- 1, 2, 3... per name ("v3")
  source TEXT NOT NULL,                      -- run | dir | hf
  run_id TEXT,
  dir TEXT,
  hf_ref TEXT,
  created_at TEXT NOT NULL,
  note TEXT,
  PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX model_versions_run ON model_versions(name, run_id) WHERE run_id IS NOT NULL;
${appendOnly('model_versions')}

CREATE TABLE alias_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  ts TEXT NOT NULL,
  action TEXT NOT NULL,                      -- move | rollback
  from_version INTEGER,                      -- null: the alias did not exist
  to_version INTEGER NOT NULL,
  reason TEXT,
  actor TEXT NOT NULL DEFAULT 'cli',         -- cli | pipeline:<execution id>
  eval_json TEXT NOT NULL DEFAULT '{}'       -- the eval summary the move was made with
);
CREATE INDEX alias_history_alias ON alias_history(name, alias, id);
${appendOnly('alias_history')}

CREATE TABLE deployment_models (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  deployment_id TEXT NOT NULL,
  ts TEXT NOT NULL,
  model_ref TEXT NOT NULL,                   -- what the user asked for: chat@prod, chat@v3
  name TEXT NOT NULL,
  alias TEXT,
  version INTEGER NOT NULL
);
CREATE INDEX deployment_models_dep ON deployment_models(deployment_id, id);
${appendOnly('deployment_models')}
`,
  },
  {
    version: 4,
    name: 'pipeline',
    // pipeline-store.ts: one row per `pipeline run`, one per stage decision. A stage is up to date
    // when a succeeded stage row has the same input hash (pipeline_stages_hash).
    sql: `
CREATE TABLE pipeline_executions (
  id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  status TEXT NOT NULL,                      -- running | succeeded | failed | interrupted
  options_json TEXT NOT NULL DEFAULT '{}',
  pid INTEGER
);
CREATE INDEX pipeline_executions_started ON pipeline_executions(started_at DESC);

CREATE TABLE pipeline_stages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  execution_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  kind TEXT NOT NULL,
  decision TEXT NOT NULL,                    -- run | skip | blocked
  reason TEXT NOT NULL,
  input_hash TEXT NOT NULL,
  inputs_json TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL,                      -- running | succeeded | failed | skipped | blocked
  output_json TEXT NOT NULL DEFAULT '{}',
  reused_from INTEGER,                       -- the stage row a skip reused
  started_at TEXT NOT NULL,
  ended_at TEXT,
  error TEXT
);
CREATE INDEX pipeline_stages_hash ON pipeline_stages(stage, input_hash, status);
CREATE INDEX pipeline_stages_exec ON pipeline_stages(execution_id, id);
CREATE INDEX pipeline_stages_last ON pipeline_stages(stage, id);
`,
  },
  {
    version: 5,
    name: 'eval-results',
    // `llmops eval`: one row per metric measured on a model (eval-store.ts).
    sql: `
CREATE TABLE eval_results (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  eval_id TEXT NOT NULL,                     -- one llmops eval invocation
  model TEXT NOT NULL,                       -- model folder
  run_id TEXT,                               -- the run that made the model, when known
  suite TEXT NOT NULL,                       -- perplexity | choices | generate | pairs
  metric TEXT NOT NULL,
  value REAL,
  n INTEGER,
  data TEXT,                                 -- eval file or dataset id
  data_sha256 TEXT,
  baseline TEXT,                             -- baseline model folder compared with
  role TEXT NOT NULL DEFAULT 'model',        -- model | baseline
  created_at TEXT NOT NULL
);
CREATE INDEX eval_results_run ON eval_results(run_id, suite, metric);
CREATE INDEX eval_results_model ON eval_results(model, suite, metric);
`,
  },
  {
    version: 6,
    name: 'images',
    // Container images from `llmops image build` (src/lib/ledger/image-store.ts).
    sql: `
CREATE TABLE images (
  id INTEGER PRIMARY KEY AUTOINCREMENT,      -- one row per build (a cached rebuild is another row)
  image_id TEXT NOT NULL,                    -- the engine's image id (sha256:...)
  tag TEXT NOT NULL,
  target TEXT NOT NULL,                      -- server | trainer
  engine TEXT NOT NULL,                      -- docker | podman
  base TEXT NOT NULL,                        -- FROM
  size_bytes INTEGER NOT NULL,
  llmops_version TEXT NOT NULL,
  model_run_id TEXT,                         -- the model baked in (server, --model)
  model_sha256 TEXT,
  build_seconds REAL NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX images_target ON images(target, created_at);
`,
  },
  {
    version: 7,
    name: 'run leases',
    sql: `
-- Who supervises a run, and since when it last said so (lease-store.ts). A supervisor renews its
-- lease every second; another takes the run over only by a compare-and-swap on this row.
CREATE TABLE run_leases (
  run_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,                       -- a random token per supervisor (or adopter)
  host TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  pid_ns TEXT NOT NULL,
  pid INTEGER NOT NULL,
  pid_start TEXT NOT NULL,                   -- /proc/PID/stat starttime: a recycled pid differs
  heartbeat_at INTEGER NOT NULL              -- ms since the epoch
);
`,
  },
  {
    version: 8,
    name: 'requests-summary-index-http-status',
    // monitor tells client errors (4xx) from server errors (5xx) by http_status: with it in the
    // covering index the window scan still reads the index only, never the wide rows.
    sql: `
DROP INDEX requests_summary;
CREATE INDEX requests_summary ON requests(deployment_id, ts, status, http_status, prompt_tokens, completion_tokens, e2e_ms, ttft_ms, itl_ms);
`,
  },
];

export const LATEST_SCHEMA_VERSION = migrations.at(-1)!.version;
