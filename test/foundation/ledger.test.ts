import {execFile} from 'node:child_process';
import {createHash} from 'node:crypto';
import {readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {promisify} from 'node:util';
import Database from 'better-sqlite3';
import {describe, expect, it} from 'vitest';
import {costReport, costReportCsv} from '../../src/lib/cost/report.js';
import {LlmopsError} from '../../src/lib/errors.js';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {LATEST_SCHEMA_VERSION} from '../../src/lib/ledger/migrations.js';
import {REPO_ROOT, tempDir} from '../helpers/cli.js';
import {sqlite} from '../helpers/sqlite.js';

const pexec = promisify(execFile);
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('ledger', () => {
  it('creates the schema with WAL on open, and records a run with its status history', () => {
    const file = path.join(tempDir(), 'sub', 'llmops.db');
    const l = Ledger.open(file);
    expect(l.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    expect(sqlite(l).pragma('journal_mode', {simple: true})).toBe('wal');
    l.insertRun({id: 'r1', kind: 'train', backend: 'local', backendType: 'local', runDir: '/tmp/r1', spec: {a: 1}});
    l.setRunStatus('r1', 'running', 'started');
    l.setRunStatus('r1', 'succeeded', 'done', {exitCode: 0});
    // Final statuses are sticky: a late reconcile cannot turn a success into "lost".
    expect(l.setRunStatus('r1', 'lost', 'late')).toBe(false);
    const run = l.getRun('r1');
    expect(run.status).toBe('succeeded');
    expect(run.ended_at).not.toBeNull();
    expect(JSON.parse(run.spec_json)).toEqual({a: 1});
    expect(l.events('r1').map((e) => JSON.parse(e.data_json).status)).toEqual(['queued', 'running', 'succeeded']);
    l.close();
  });

  it('refuses to update or delete append-only history (events, costs)', () => {
    const l = Ledger.open(path.join(tempDir(), 'l.db'));
    l.insertRun({id: 'r1', kind: 'train', backend: 'local', backendType: 'local', runDir: '/x', spec: {}});
    l.addCost({runId: 'r1', stage: 'train', phase: 'run', backend: 'local', resource: 'cpu', seconds: 60, pricePerHour: 2, priceSource: 'test'});
    expect(() => sqlite(l).prepare('UPDATE run_events SET type = ?').run('x')).toThrow(/append-only/);
    expect(() => sqlite(l).prepare('DELETE FROM run_events').run()).toThrow(/append-only/);
    expect(() => sqlite(l).prepare('UPDATE cost_entries SET usd = 0').run()).toThrow(/append-only/);
    expect(() => sqlite(l).prepare('DELETE FROM cost_entries').run()).toThrow(/append-only/);
    expect(l.runCost('r1').usd).toBeCloseTo(2 / 60, 10);
    l.close();
  });

  it('refuses a ledger written by a newer schema and leaves the file byte-for-byte unchanged', () => {
    const file = path.join(tempDir(), 'newer.db');
    const raw = new Database(file);
    raw.pragma('journal_mode = DELETE');
    raw.exec('CREATE TABLE x (a)');
    raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 5}`);
    raw.close();
    const before = sha(file);
    let err: unknown;
    try {
      Ledger.open(file);
    } catch (error) {
      err = error;
    }
    expect(err).toBeInstanceOf(LlmopsError);
    expect((err as LlmopsError).code).toBe('LEDGER');
    expect((err as LlmopsError).message).toMatch(/newer llmops/);
    expect(sha(file)).toBe(before);
  });

  it('refuses a file that is not SQLite and leaves it unchanged', () => {
    const file = path.join(tempDir(), 'notes.db');
    writeFileSync(file, 'these are my notes, not a database\n'.repeat(50));
    const before = sha(file);
    expect(() => Ledger.open(file)).toThrow(/not an SQLite database/);
    expect(sha(file)).toBe(before);
  });

  it('finds runs by unique id prefix and filters lists newest first', () => {
    const l = Ledger.open(path.join(tempDir(), 'l.db'));
    for (const [id, kind] of [['r-aaaa-1', 'train'], ['r-bbbb-2', 'finetune'], ['r-bbbb-3', 'train']] as const) {
      l.insertRun({id, kind, backend: 'local', backendType: 'local', runDir: '/x', spec: {}});
    }
    expect(l.findRun('r-aaaa')?.id).toBe('r-aaaa-1');
    expect(l.findRun('r-bbbb')).toBeUndefined(); // ambiguous
    expect(l.listRuns().map((r) => r.id)).toEqual(['r-bbbb-3', 'r-bbbb-2', 'r-aaaa-1']);
    expect(l.listRuns({kind: 'finetune'}).map((r) => r.id)).toEqual(['r-bbbb-2']);
    expect(l.listRuns({since: '2999-01-01T00:00:00Z'})).toEqual([]);
    l.close();
  });

  it('groups costs by day, stage and backend with the price used at the time, and writes CSV', () => {
    const l = Ledger.open(path.join(tempDir(), 'l.db'));
    l.addCost({stage: 'train', phase: 'run', backend: 'gpu-box', resource: 'A100-80GB x1', seconds: 3600, pricePerHour: 1.79, priceSource: 'config', ts: '2026-11-01T10:00:00.000Z'});
    l.addCost({stage: 'train', phase: 'run', backend: 'gpu-box', resource: 'A100-80GB x1', seconds: 1800, pricePerHour: 2.5, priceSource: 'config', ts: '2026-11-02T10:00:00.000Z'});
    l.addCost({stage: 'train', phase: 'queue', backend: 'cluster', resource: 'H100 x8', seconds: 600, pricePerHour: 30, priceSource: 'table', billed: false, ts: '2026-11-02T11:00:00.000Z'});
    l.addCost({stage: 'serve', phase: 'serve', backend: 'local', resource: 'cpu', seconds: 7200, pricePerHour: 0, priceSource: 'default', ts: '2026-11-02T12:00:00.000Z'});
    const byBackend = costReport(l, {groupBy: 'backend'});
    const box = byBackend.rows.find((r) => r.group === 'gpu-box')!;
    expect(box.usd).toBeCloseTo(1.79 + 1.25, 6);
    expect(box.prices).toEqual([1.79, 2.5]);
    const cluster = byBackend.rows.find((r) => r.group === 'cluster')!;
    expect(cluster.usd).toBe(0); // queue time is recorded, not billed
    expect(cluster.queuedSeconds).toBe(600);
    expect(costReport(l, {groupBy: 'day'}).rows.map((r) => r.group)).toEqual(['2026-11-01', '2026-11-02']);
    expect(costReport(l, {groupBy: 'stage', since: '2026-11-02T00:00:00.000Z'}).rows.map((r) => [r.group, r.entries])).toEqual([
      ['serve', 1],
      ['train', 2],
    ]);
    const csv = costReportCsv(byBackend).trim().split('\n');
    expect(csv[0]).toBe('backend,usd,seconds,queued_seconds,entries,prices_per_hour');
    expect(csv).toHaveLength(4);
    l.close();
  });

  it('8 processes writing runs, events and metrics at once lose no row and raise no error', async () => {
    const file = path.join(tempDir(), 'concurrent.db');
    Ledger.open(file).close();
    const workers = 8;
    const runs = 25;
    const metrics = 200;
    const outs = await Promise.all(
      Array.from({length: workers}, (_, w) =>
        pexec(process.execPath, [path.join(REPO_ROOT, 'test/fixtures/ledger-writer.mjs'), file, String(w), String(runs), String(metrics)]),
      ),
    );
    for (const o of outs) expect(JSON.parse(o.stdout.trim())).toEqual({errors: 0});
    const l = Ledger.open(file);
    expect(l.countRuns()).toBe(workers * runs);
    expect((sqlite(l).prepare('SELECT count(*) AS n FROM metrics').get() as {n: number}).n).toBe(workers * runs * metrics);
    // created + running + succeeded status events, plus one checkpoint event, per run.
    expect((sqlite(l).prepare('SELECT count(*) AS n FROM run_events').get() as {n: number}).n).toBe(workers * runs * 4);
    expect((sqlite(l).prepare("SELECT count(*) AS n FROM runs WHERE status = 'succeeded'").get() as {n: number}).n).toBe(workers * runs);
    expect((sqlite(l).prepare('SELECT count(*) AS n FROM cost_entries').get() as {n: number}).n).toBe(workers * runs);
    l.close();
  });
});
