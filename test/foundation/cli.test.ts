import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';

describe('the CLI', () => {
  it('--version prints the version on stdout', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^llmops\/\d+\.\d+\.\d+ linux-x64 node-v20/);
  });

  it('--help lists the topics and commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const t of ['init', 'doctor', 'cost', 'config', 'runs']) expect(r.stdout).toContain(t);
  });

  it('a usage error exits 2, under --json too, with the error as JSON on stdout', async () => {
    const human = await runCli(['runs', 'list', '--status', 'nope']);
    expect(human.code).toBe(2);
    const json = await runCli(['runs', 'list', '--status', 'nope', '--json']);
    expect(json.code).toBe(2);
    expect(json.json.error.code).toBe('USAGE');
    expect(json.json.error.message).toMatch(/nope/);
  });

  it('prints no colour codes when NO_COLOR is set or output is not a TTY', async () => {
    const r = await runCli(['doctor'], {env: {NO_COLOR: '1', FORCE_COLOR: undefined}});
    expect(r.stdout + r.stderr).not.toMatch(/\u001B\[/);
  });
});

describe('llmops init', () => {
  it('scaffolds a valid project without prompting when there is no TTY (--yes not needed for flags given)', async () => {
    const dir = path.join(tempDir(), 'proj');
    const r = await runCli(['init', dir, '--name', 'demo', '--template', 'starter', '--python', '/usr/bin/python3', '--json']);
    expect(r.code).toBe(0);
    expect(r.json.name).toBe('demo');
    const created = r.json.files.map((f: {path: string}) => f.path);
    for (const f of ['llmops.yaml', 'llmops.schema.json', '.gitignore', 'README.md', 'data/sample/corpus.jsonl', 'data/sample/instructions.jsonl']) {
      expect(created).toContain(f);
    }
    expect(readFileSync(path.join(dir, 'llmops.yaml'), 'utf8')).toMatch(/^# yaml-language-server: \$schema=\.\/llmops\.schema\.json/);
    expect(readFileSync(path.join(dir, '.gitignore'), 'utf8')).toContain('.llmops/');
    // The scaffolded config is valid and resolves the python given.
    const shown = await runCli(['config', 'show', '--json'], {cwd: dir});
    expect(shown.code).toBe(0);
    expect(shown.json.config).toMatchObject({name: 'demo', python: '/usr/bin/python3'});
    expect(shown.json.config.data.inputs).toEqual(['data/sample/*.jsonl']);
    // The sample is the same bytes every time (generated, deterministic).
    const dir2 = path.join(tempDir(), 'proj2');
    await runCli(['init', dir2, '--yes']);
    expect(readFileSync(path.join(dir2, 'data/sample/corpus.jsonl'))).toEqual(readFileSync(path.join(dir, 'data/sample/corpus.jsonl')));
  });

  it('refuses a non-empty directory, and with --force keeps existing files', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'README.md'), 'mine\n');
    const refused = await runCli(['init', dir, '--yes']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not empty/);
    expect(refused.stderr).toMatch(/--force/);
    expect(existsSync(path.join(dir, 'llmops.yaml'))).toBe(false);
    const forced = await runCli(['init', dir, '--yes', '--force', '--json']);
    expect(forced.code).toBe(0);
    expect(forced.json.files).toContainEqual({path: 'README.md', action: 'skipped'});
    expect(readFileSync(path.join(dir, 'README.md'), 'utf8')).toBe('mine\n');
    expect(existsSync(path.join(dir, 'llmops.yaml'))).toBe(true);
  });

  it('asks nothing without a TTY: missing answers take the defaults only with --yes or flags', async () => {
    const dir = path.join(tempDir(), 'named-by-dir');
    const r = await runCli(['init', dir, '--json'], {env: {CI: '1'}});
    // Without a TTY nothing is asked; the defaults are used and stated in the result.
    expect(r.code).toBe(0);
    expect(r.json.name).toBe('named-by-dir');
    expect(r.json.template).toBe('starter');
  });
});

describe('runs list and cost read the ledger', () => {
  it('lists runs newest first with filters, and reports costs as CSV', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: x\n');
    const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
    l.insertRun({id: 'r-one', kind: 'train', backend: 'local', backendType: 'local', runDir: '/x', spec: {}, preset: 'tiny'});
    l.setRunStatus('r-one', 'failed', 'exit 1', {exitCode: 1});
    l.insertRun({id: 'r-two', kind: 'finetune', backend: 'local', backendType: 'local', runDir: '/y', spec: {}});
    l.setRunStatus('r-two', 'succeeded', 'done');
    l.addCost({runId: 'r-two', stage: 'finetune', phase: 'run', backend: 'local', resource: 'cpu', seconds: 3600, pricePerHour: 0.5, priceSource: 'config'});
    l.close();
    const all = await runCli(['runs', 'list', '--json'], {cwd: dir});
    expect(all.json.runs.map((r: {id: string}) => r.id)).toEqual(['r-two', 'r-one']);
    const failed = await runCli(['runs', 'list', '--status', 'failed', '--json'], {cwd: dir});
    expect(failed.json.runs.map((r: {id: string}) => r.id)).toEqual(['r-one']);
    const human = await runCli(['runs', 'list'], {cwd: dir});
    expect(human.stdout).toMatch(/r-two\s+finetune\s+succeeded/);
    const csv = await runCli(['cost', '--by', 'stage', '--csv'], {cwd: dir});
    expect(csv.stdout.trim().split('\n')).toEqual(['stage,usd,seconds,queued_seconds,entries,prices_per_hour', 'finetune,0.500000,3600.000,0.000,1,0.5']);
  });

  it('uses LLMOPS_DB over the config, and a non-SQLite ledger exits 10 untouched', async () => {
    const dir = tempDir();
    const bogus = path.join(dir, 'bogus.db');
    writeFileSync(bogus, 'not sqlite at all, just text that is long enough to have a header\n');
    const r = await runCli(['runs', 'list', '--json'], {cwd: dir, env: {LLMOPS_DB: bogus}});
    expect(r.code).toBe(10);
    expect(r.json.error.code).toBe('LEDGER');
    expect(readFileSync(bogus, 'utf8')).toMatch(/^not sqlite/);
  });
});
