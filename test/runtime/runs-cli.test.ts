/**
 * Small things a new user of `llmops runs` notices (real CLI, real ledger): a run's --name is
 * shown and works as its id, a filter that matches nothing says so, and compare gives a "best"
 * only for metrics where one value is better than another.
 */
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';

describe('llmops runs (names, filters, compare)', () => {
  it('names, an empty filter, and no "best" for lr', async () => {
    const dir = tempDir('llmops-runs-cli-');
    expect((await runCli(['init', '--yes', '--template', 'empty', '--json'], {cwd: dir})).code).toBe(0);
    const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
    for (const [id, name, lr] of [['r-20260101-000000-aaaa', 'baseline', 0.001], ['r-20260101-000001-bbbb', 'warmer', 0.003]] as const) {
      l.insertRun({id, kind: 'command', name, backend: 'local', backendType: 'local', runDir: path.join(dir, id), spec: {command: ['true']}});
      l.setRunStatus(id, 'running', 'started');
      l.insertMetrics([1, 2].map((step) => ({runId: id, step, key: 'loss', value: 3 - step * lr * 100, ts: step})));
      l.insertMetrics([1, 2].map((step) => ({runId: id, step, key: 'lr', value: lr * step, ts: step})));
      l.setRunStatus(id, 'succeeded', 'done', {exitCode: 0});
    }
    l.close();

    const list = await runCli(['runs', 'list'], {cwd: dir});
    expect(list.stdout).toMatch(/NAME/);
    expect(list.stdout).toContain('baseline');

    const byName = await runCli(['runs', 'show', 'warmer', '--json'], {cwd: dir});
    expect(byName.code).toBe(0);
    expect(byName.json.id).toBe('r-20260101-000001-bbbb');

    const none = await runCli(['runs', 'list', '--status', 'failed'], {cwd: dir});
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('No runs match status failed (2 runs in the ledger)');
    expect(none.stdout).not.toContain('No runs yet');

    const cmp = await runCli(['runs', 'compare', 'baseline', 'warmer'], {cwd: dir});
    expect(cmp.code, cmp.stderr).toBe(0);
    expect(cmp.stdout).toContain('loss (last / best)');
    expect(cmp.stdout).toContain('lr (last)');
    expect(cmp.stdout).not.toContain('lr (last / best)');
    const cmpJson = await runCli(['runs', 'compare', 'baseline', 'warmer', '--json'], {cwd: dir});
    expect(cmpJson.json.metrics.lr.map((m: {best: number | null}) => m.best)).toEqual([null, null]);
  });

  it('a dataset with 0 training records is refused at launch (exit 4), before a run is recorded', async () => {
    const dir = tempDir('llmops-runs-empty-');
    expect((await runCli(['init', '--yes', '--template', 'empty', '--json'], {cwd: dir})).code).toBe(0);
    const ds = path.join(dir, 'empty-ds');
    mkdirSync(ds);
    writeFileSync(path.join(ds, 'train.jsonl'), '');
    const r = await runCli(['train', '--dataset', ds, '--dry-run'], {cwd: dir});
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('has 0 training records');
  });
});
