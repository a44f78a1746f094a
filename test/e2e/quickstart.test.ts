/**
 * The main job, exactly as the README says, in a fresh copy of the repository: the README's first
 * Quickstart command runs there and must finish the whole lifecycle (slow: a few minutes).
 * node_modules is linked rather than reinstalled: setup.sh sees it matches package-lock.json.
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {REPO_ROOT, tempDir} from '../helpers/cli.js';
import {sqlite} from '../helpers/sqlite.js';

function quickstartCommand(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /#+\s*Quickstart[\s\S]*?```[a-z]*\n([\s\S]*?)```/i.exec(readme)![1]!;
  const lines = block.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  expect(lines).toHaveLength(2);
  return lines[0]!.trim();
}

describe('the main job (slow)', () => {
  it('runs end to end from the README in a fresh copy of the repo', {timeout: 15 * 60_000}, () => {
    const command = quickstartCommand();
    const copy = path.join(tempDir('llmops-e2e-'), 'llmops');
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {cwd: REPO_ROOT, encoding: 'utf8'})
      .split('\0')
      .filter((f) => f && existsSync(path.join(REPO_ROOT, f)));
    for (const f of files) {
      mkdirSync(path.dirname(path.join(copy, f)), {recursive: true});
      cpSync(path.join(REPO_ROOT, f), path.join(copy, f));
    }
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    // The linked node_modules is the one this test runs from, installed from this package-lock:
    // say so, so that setup.sh does not `npm ci` (which would empty it under the running suite).
    const lockSha = createHash('sha256').update(readFileSync(path.join(REPO_ROOT, 'package-lock.json'))).digest('hex');
    writeFileSync(path.join(REPO_ROOT, 'node_modules', '.llmops-lock-sha'), lockSha + '\n');
    const demo = path.join(copy, 'demo');
    const r = spawnSync('bash', ['-c', command], {
      cwd: copy,
      encoding: 'utf8',
      env: {...process.env, CI: '1', NO_COLOR: '1', LLMOPS_DEMO_DIR: demo},
      timeout: 14 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = r.stdout + r.stderr;
    expect(r.status, out.slice(-4000)).toBe(0);
    // Each stage ran and said how long it took, and the end says where things are.
    for (const s of ['Prepare the data', 'Train the tiny preset', 'Fine-tune it with LoRA', 'Deploy it on loopback', 'Send real requests', 'Write the HTML report', 'What it cost', 'Where the model came from']) {
      expect(out).toContain(s);
    }
    expect(out).toMatch(/Model: +\S+\/model/);
    expect(out).toMatch(/Report: +\S+monitor-report\.html/);
    // The ledger holds the whole story.
    const ledger = Ledger.open(path.join(demo, '.llmops', 'llmops.db'), {readonly: true});
    const runs = ledger.listRuns();
    expect(runs.map((x) => [x.kind, x.status]).sort()).toEqual([
      ['finetune', 'succeeded'],
      ['train', 'succeeded'],
    ]);
    const ft = runs.find((x) => x.kind === 'finetune')!;
    expect(ft.parent_run_id).toBe(runs.find((x) => x.kind === 'train')!.id);
    expect((sqlite(ledger).prepare('SELECT count(*) AS n FROM requests').get() as {n: number}).n).toBeGreaterThanOrEqual(5);
    expect(ledger.listDeployments()[0]!.status).toBe('stopped');
    ledger.close();
    const timings = JSON.parse(readFileSync(path.join(demo, 'demo-timings.json'), 'utf8'));
    expect(timings.total).toBeLessThan(600);
  });
});
