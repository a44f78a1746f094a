/**
 * A real project for monitor tests: llmops.yaml, a real SQLite ledger with a dataset, a train run
 * and its finetune, metrics, costs, a deployment and requests written directly (the server and
 * trainer that fill these tables in production are separate engineers' work).
 */
import {mkdirSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {stringify} from 'yaml';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {ReferenceProfileBuilder, requestProfile} from '../../src/lib/profile/profile.js';
import {tempDir} from '../helpers/cli.js';
import {prng} from '../../src/lib/util/prng.js';
import {sqlite} from '../helpers/sqlite.js';

export const TRAIN_PROMPTS = [
  'How do I reset my password for the billing portal?',
  'My invoice shows the wrong amount, can you help?',
  'Where can I download last month invoice as a PDF?',
  'How do I change the email address on my account?',
  'The password reset link has expired, what should I do?',
  'Can I get a refund for a duplicate payment on my card?',
  'How do I add a second user to my billing account?',
  'Why was my card declined when paying the invoice?',
];

export const DRIFTED_PROMPTS = [
  'Write a long poem about dragons and castles and the sea at night, with many verses and a chorus about the moon rising over the mountains',
  'Translate this recipe for chocolate cake into French and explain each step of baking in detail for a beginner who has never baked before',
  'Summarise the plot of a science fiction novel about robots exploring distant galaxies and meeting strange alien civilisations on their journey',
];

/** Deterministic PRNG (mulberry32) so fixtures are the same on every run. */
export const rng = prng;

export interface RequestRow {
  deployment_id: string;
  model_run_id?: string | null;
  ts: number;
  endpoint?: string;
  stream?: number;
  status: 'ok' | 'error' | 'cancelled';
  http_status?: number;
  finish_reason?: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  queue_ms?: number | null;
  ttft_ms: number | null;
  e2e_ms: number | null;
  itl_ms: number | null;
  prompt_chars?: number;
  error?: string | null;
  profile_json?: string | null;
}

/** Batched inserts in one transaction (the server's own insertRequests is written elsewhere). */
export function insertRequests(ledger: Ledger, rows: RequestRow[]): void {
  const stmt = sqlite(ledger).prepare(
    `INSERT INTO requests (deployment_id, model_run_id, ts, endpoint, stream, status, http_status, finish_reason,
       prompt_tokens, completion_tokens, queue_ms, ttft_ms, e2e_ms, itl_ms, prompt_chars, error, profile_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  sqlite(ledger).transaction(() => {
    for (const r of rows) {
      stmt.run(
        r.deployment_id,
        r.model_run_id ?? null,
        r.ts,
        r.endpoint ?? 'chat',
        r.stream ?? 1,
        r.status,
        r.http_status ?? (r.status === 'error' ? 500 : r.status === 'cancelled' ? 499 : 200),
        r.finish_reason ?? (r.status === 'ok' ? 'stop' : r.status),
        r.prompt_tokens,
        r.completion_tokens,
        r.queue_ms ?? 0,
        r.ttft_ms,
        r.e2e_ms,
        r.itl_ms,
        r.prompt_chars ?? 0,
        r.error ?? null,
        r.profile_json ?? null,
      );
    }
  })();
}

export function promptRequest(depId: string, ts: number, prompt: string, over: Partial<RequestRow> = {}): RequestRow {
  return {
    deployment_id: depId,
    ts,
    status: 'ok',
    prompt_tokens: prompt.length,
    completion_tokens: 20,
    ttft_ms: 15,
    e2e_ms: 120,
    itl_ms: 5,
    prompt_chars: prompt.length,
    profile_json: JSON.stringify(requestProfile(prompt)),
    ...over,
  };
}

const created: string[] = [];

/** Removes every project made by makeProject() in this test file (call from afterAll). */
export function cleanupProjects(): void {
  for (const dir of created.splice(0)) rmSync(dir, {recursive: true, force: true});
}

export interface Project {
  dir: string;
  dbFile: string;
  ledger: Ledger;
  datasetDir: string;
  modelDir: string;
  now: number;
}

export const HOUR = 3_600_000;

/**
 * dataset ds-1 (profile.json from TRAIN_PROMPTS) <- run train-1 <- finetune ft-1 <- deployment dep-1
 * ("support-bot", $2/h, started 2 h before `now`). No requests: each test writes its own.
 */
export function makeProject(
  opts: {monitor?: Record<string, unknown>; referenceInModel?: boolean; now?: number; ids?: {train?: string; finetune?: string; deployment?: string; name?: string}} = {},
): Project {
  const train = opts.ids?.train ?? 'train-1';
  const ft = opts.ids?.finetune ?? 'ft-1';
  const dir = tempDir('llmops-monitor-');
  created.push(dir);
  const now = opts.now ?? Date.now();
  writeFileSync(path.join(dir, 'llmops.yaml'), stringify({name: 'monitor-test', ...(opts.monitor ? {monitor: opts.monitor} : {})}));
  const dbFile = path.join(dir, '.llmops', 'llmops.db');
  const ledger = Ledger.open(dbFile);

  const builder = new ReferenceProfileBuilder();
  for (let i = 0; i < 25; i++) for (const p of TRAIN_PROMPTS) builder.add(p);
  const profile = builder.build();
  const datasetDir = path.join(dir, 'data', 'prepared');
  mkdirSync(datasetDir, {recursive: true});
  writeFileSync(path.join(datasetDir, 'profile.json'), JSON.stringify(profile));
  ledger.upsertDataset({id: 'ds-1', path: datasetDir, manifestSha256: 'x', manifest: {}, records: 200, kind: 'text'});

  ledger.insertRun({id: train, kind: 'train', backend: 'local', backendType: 'local', runDir: path.join(dir, 'runs', train), datasetId: 'ds-1', preset: 'tiny', spec: {}, budgetUsd: 5});
  ledger.setRunStatus(train, 'running', 'started');
  ledger.setRunStatus(train, 'succeeded', 'done');
  ledger.insertRun({id: ft, kind: 'finetune', backend: 'local', backendType: 'local', runDir: path.join(dir, 'runs', ft), parentRunId: train, preset: 'tiny', spec: {}});
  ledger.setRunStatus(ft, 'running', 'started');
  ledger.setRunStatus(ft, 'succeeded', 'done');
  const pts = [];
  for (let s = 0; s <= 200; s += 10) {
    pts.push({runId: train, step: s, key: 'loss', value: 5 * Math.exp(-s / 60) + 1, ts: now - 10 * HOUR + s * 1000});
    pts.push({runId: train, step: s, key: 'tokens_per_s', value: 41_000 + ((s * 37) % 900), ts: now - 10 * HOUR + s * 1000});
    pts.push({runId: train, step: s, key: 'gpu_util', value: 88 + ((s * 13) % 10), ts: now - 10 * HOUR + s * 1000});
    if (s % 50 === 0) pts.push({runId: train, step: s, key: 'val_loss', value: 5 * Math.exp(-s / 70) + 1.2, ts: now - 10 * HOUR + s * 1000});
  }
  for (let s = 0; s <= 100; s += 10) {
    pts.push({runId: ft, step: s, key: 'loss', value: 1.5 * Math.exp(-s / 50) + 0.8, ts: now - 5 * HOUR + s * 1000});
    if (s % 25 === 0) pts.push({runId: ft, step: s, key: 'val_loss', value: 1.5 * Math.exp(-s / 60) + 0.9, ts: now - 5 * HOUR + s * 1000});
  }
  ledger.insertMetrics(pts);
  ledger.addCost({runId: train, stage: 'train', phase: 'run', backend: 'local', resource: 'A100-80GB x1', seconds: 3600, pricePerHour: 1.5, priceSource: 'test'});
  ledger.addCost({runId: ft, stage: 'finetune', phase: 'run', backend: 'local', resource: 'A100-80GB x1', seconds: 1800, pricePerHour: 1.5, priceSource: 'test'});

  const modelDir = path.join(dir, 'runs', ft, 'model');
  mkdirSync(modelDir, {recursive: true});
  if (opts.referenceInModel) writeFileSync(path.join(modelDir, 'reference_profile.json'), JSON.stringify(profile));
  ledger.insertDeployment({
    id: opts.ids?.deployment ?? 'dep-1',
    name: opts.ids?.name ?? 'support-bot',
    status: 'running',
    model_run_id: ft,
    model_dir: modelDir,
    target: 'local',
    host: '127.0.0.1',
    port: 8000,
    url: 'http://127.0.0.1:8000/v1',
    pid: null,
    log_path: null,
    price_per_hour: 2,
    config_json: '{}',
    started_at: new Date(now - 2 * HOUR).toISOString(),
  });
  return {dir, dbFile, ledger, datasetDir, modelDir, now};
}
