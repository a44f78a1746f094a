/**
 * A throw-away llmops project for runtime tests: llmops.yaml, the real trainer copied from
 * templates/trainer, and a small prepared dataset (train.jsonl/val.jsonl) recorded in a real ledger.
 */
import {cpSync, mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {FINAL_STATUSES, type RunRow} from '../../src/lib/ledger/ledger.js';
import {PYTHON, REPO_ROOT, tempDir} from '../helpers/cli.js';
import {sqlite} from '../helpers/sqlite.js';

/** A micro model: the behaviour under test does not need the real tiny preset. */
export const MICRO = {n_layer: 1, n_head: 2, n_embd: 32, context: 32, batch_size: 4, eval_every: 10, log_every: 1};

export function makeProject(opts: {yaml?: string; budgetYaml?: string; overrides?: Record<string, unknown>; chat?: boolean} = {}): {dir: string; dbFile: string; datasetId: string} {
  const dir = tempDir('llmops-runtime-');
  cpSync(path.join(REPO_ROOT, 'templates', 'trainer'), path.join(dir, 'trainer'), {recursive: true});
  const data = path.join(dir, 'data', 'prepared');
  mkdirSync(data, {recursive: true});
  const words = 'the cat sat on a mat and the dog ran in the park while birds sang songs'.split(' ');
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const text = () => Array.from({length: 24}, () => words[Math.floor(rnd() * words.length)]).join(' ');
  for (const [split, n] of [['train', 200], ['val', 20]] as const) {
    const lines = Array.from({length: n}, (_, i) =>
      opts.chat
        ? JSON.stringify({id: `${split}-${i}`, messages: [{role: 'user', content: text()}, {role: 'assistant', content: text()}]})
        : JSON.stringify({id: `${split}-${i}`, text: text()}),
    );
    writeFileSync(path.join(data, `${split}.jsonl`), lines.join('\n') + '\n');
  }
  const overrides = {...MICRO, ...opts.overrides};
  const ov = `{${Object.entries(overrides).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
  writeFileSync(
    path.join(dir, 'llmops.yaml'),
    `python: ${PYTHON}\ntrain:\n  overrides: ${ov}\nfinetune:\n  overrides: ${ov}\nbudget:\n  sample_interval_s: 0.5\n${opts.budgetYaml ?? ''}${opts.yaml ?? ''}`,
  );
  const dbFile = path.join(dir, '.llmops', 'llmops.db');
  mkdirSync(path.dirname(dbFile), {recursive: true});
  const ledger = Ledger.open(dbFile);
  const datasetId = opts.chat ? 'ds-chat0001' : 'ds-test0001';
  ledger.upsertDataset({id: datasetId, path: 'data/prepared', manifestSha256: 'x'.repeat(64), manifest: {}, records: 220, kind: opts.chat ? 'chat' : 'text'});
  ledger.close();
  return {dir, dbFile, datasetId};
}

export function withLedger<T>(dbFile: string, fn: (l: Ledger) => T): T {
  const l = Ledger.open(dbFile);
  try {
    return fn(l);
  } finally {
    l.close();
  }
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function latestRun(dbFile: string): RunRow | undefined {
  return withLedger(dbFile, (l) => l.listRuns({limit: 1})[0]);
}

export function waitFinal(dbFile: string, id: string, timeoutMs = 90_000): Promise<RunRow> {
  return waitFor(`run ${id} to end`, () => {
    const r = withLedger(dbFile, (l) => l.getRun(id));
    return FINAL_STATUSES.has(r.status) ? r : undefined;
  }, timeoutMs);
}

export function maxStep(dbFile: string, id: string): number {
  return withLedger(dbFile, (l) => (sqlite(l).prepare('SELECT coalesce(max(step), 0) AS s FROM metrics WHERE run_id = ?').get(id) as {s: number}).s);
}
