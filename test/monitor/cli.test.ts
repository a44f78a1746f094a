/** `llmops monitor` and `llmops runs watch` through the real built CLI (bin/run.js -> dist/). */
import {execFileSync} from 'node:child_process';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {cleanupProjects, HOUR, insertRequests, makeProject, promptRequest, rng, TRAIN_PROMPTS, type Project} from './fixture.js';

let project: Project;
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+/);

beforeAll(() => {
  project = makeProject({monitor: {slo: {p95_latency_ms: 500, error_rate: 0.2}}});
  const r = rng(5);
  insertRequests(
    project.ledger,
    Array.from({length: 400}, (_, i) =>
      promptRequest('dep-1', project.now - HOUR + i * 8000, TRAIN_PROMPTS[i % 8]!, {
        status: i % 50 === 0 ? 'error' : 'ok',
        e2e_ms: 200 + r() * 800,
        ttft_ms: 10 + r() * 30,
        itl_ms: 5,
      }),
    ),
  );
  project.ledger.close();
});
afterAll(() => {
  project.ledger.close();
  cleanupProjects();
});

describe('llmops monitor DEPLOYMENT', () => {
  it('--json returns the documented result object', async () => {
    // --since 2h: the fixture's oldest request is an hour old when written, and time passes.
    const res = await runCli(['monitor', 'support-bot', '--since', '2h', '--json'], {cwd: project.dir});
    expect(res.code, res.stderr).toBe(0);
    const j = res.json;
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['deployment', 'window', 'requests', 'rps', 'error_rate', 'latency_ms', 'ttft_ms', 'itl_ms', 'tokens', 'cost', 'drift']));
    expect(j.deployment.id).toBe('dep-1');
    expect(j.requests).toBe(400);
    expect(j.error_rate).toBeCloseTo(8 / 400, 5);
    expect(Object.keys(j.latency_ms)).toEqual(['p50', 'p95', 'p99']);
    expect(Object.keys(j.ttft_ms)).toEqual(['p50', 'p95']);
    expect(j.itl_ms.p50).toBe(5);
    expect(Object.keys(j.tokens)).toEqual(expect.arrayContaining(['in', 'out', 'per_s']));
    expect(Object.keys(j.cost)).toEqual(expect.arrayContaining(['usd', 'per_1k_tokens', 'price_per_hour']));
    expect(j.drift.status).toBe('ok');
    expect(j.slo).toBeUndefined();
    expect(Date.parse(j.window.until) - Date.parse(j.window.since)).toBe(2 * HOUR);
  });

  it('prints a human summary for the newest running deployment when none is named', async () => {
    const res = await runCli(['monitor'], {cwd: project.dir});
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('support-bot (dep-1)');
    expect(res.stdout).toMatch(/latency\s+p50 \d+ms\s+p95 \d+ms\s+p99/);
    expect(res.stdout).toMatch(/per 1k tokens/);
  });

  it('--check prints a pass/fail table, exits 7 on a breach and posts it to --alert-webhook', async () => {
    const bodies: any[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        bodies.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as {port: number}).port}/alert?token=s3cret`;
      const res = await runCli(['monitor', 'support-bot', '--check', '--alert-webhook', url], {cwd: project.dir});
      expect(res.code).toBe(7);
      expect(res.stdout).toMatch(/p95_latency_ms .* FAIL/);
      expect(res.stdout).toMatch(/error_rate .* pass/);
      expect(res.stdout).toContain('1 of 2 SLO checks failed');
      expect(res.stderr).toContain('SLO breached: p95_latency_ms');
      expect(res.stdout + res.stderr).not.toContain('s3cret');
      expect(bodies).toHaveLength(1);
      expect(bodies[0].breaches[0].slo).toBe('p95_latency_ms');

      const j = await runCli(['monitor', 'support-bot', '--check', '--json'], {cwd: project.dir});
      expect(j.code).toBe(7);
      expect(j.json.slo.passed).toBe(false);
      expect(j.json.slo.breaches.map((b: {slo: string}) => b.slo)).toEqual(['p95_latency_ms']);
    } finally {
      server.close();
    }
  });

  it('--check passes with exit 0 when every SLO holds', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'monitor:\n  slo:\n    p95_latency_ms: 5000\n    error_rate: 0.5\n');
    const res = await runCli(['monitor', 'support-bot', '--check', '--config', path.join(dir, 'llmops.yaml')], {cwd: project.dir, env: {LLMOPS_DB: project.dbFile}});
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('All 2 SLO checks passed.');
  });

  it('--check with no SLOs configured says so and exits 0', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: x\n');
    const res = await runCli(['monitor', 'dep-1', '--check'], {cwd: dir, env: {LLMOPS_DB: project.dbFile}});
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('No SLOs configured');
  });
});

describe('bad input', () => {
  it('an unknown deployment: NOT_FOUND (9), the known ones suggested, no stack', async () => {
    const res = await runCli(['monitor', 'no-such-dep'], {cwd: project.dir});
    expect(res.code).toBe(9);
    expect(res.stderr).toContain('No deployment "no-such-dep"');
    expect(res.stderr).toContain('Try this:');
    expect(res.stderr).toContain('dep-1 (support-bot)');
    noStack(res.stderr);
    const j = await runCli(['monitor', 'no-such-dep', '--json'], {cwd: project.dir});
    expect(j.code).toBe(9);
    expect(j.json.error.code).toBe('NOT_FOUND');
  });

  it('no deployment at all in a new project: NOT_FOUND with a next step', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: empty\n');
    const res = await runCli(['monitor'], {cwd: dir});
    expect(res.code).toBe(9);
    expect(res.stderr).toContain('No deployments in the ledger');
  });

  it('an unknown run: NOT_FOUND (9)', async () => {
    for (const args of [['monitor', '--run', 'nope-run'], ['runs', 'watch', 'nope-run']]) {
      const res = await runCli(args, {cwd: project.dir});
      expect(res.code).toBe(9);
      expect(res.stderr).toContain('No run with id "nope-run"');
      noStack(res.stderr);
    }
  });

  it('an empty window (--since not before --until): USAGE (2)', async () => {
    const res = await runCli(['monitor', 'dep-1', '--since', '1h', '--until', '2h'], {cwd: project.dir});
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('The window is empty');
    const bad = await runCli(['monitor', 'dep-1', '--since', 'yesterday'], {cwd: project.dir});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"yesterday" is not a duration');
  });

  it('a window without traffic is not an error: zeros and a note', async () => {
    const res = await runCli(['monitor', 'dep-1', '--since', '10d', '--until', '9d', '--json'], {cwd: project.dir});
    expect(res.code).toBe(0);
    expect(res.json.requests).toBe(0);
    expect(res.json.notes[0]).toMatch(/No requests between/);
  });

  it('a malformed SLO in llmops.yaml: CONFIG (3) naming the file, line and key', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: x\nmonitor:\n  slo:\n    p95_latency_ms: fast\n    p99_latency_ms: 100\n');
    const res = await runCli(['monitor', 'dep-1', '--check'], {cwd: dir, env: {LLMOPS_DB: project.dbFile}});
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/llmops\.yaml:4:\d+ monitor\.slo\.p95_latency_ms/);
    expect(res.stderr).toMatch(/monitor\.slo\.p99_latency_ms: unknown key \(did you mean "p95_latency_ms"\?\)/);
    noStack(res.stderr);
  });

  it('--watch with --json is refused (USAGE)', async () => {
    const res = await runCli(['monitor', 'dep-1', '--watch', '--json'], {cwd: project.dir});
    expect(res.code).toBe(2);
    expect(res.json.error.message).toContain('--watch');
  });
});

describe('llmops monitor --run / runs watch', () => {
  it('shows loss curves, tokens/s and dollars against the budget; runs watch gives the same object', async () => {
    const a = await runCli(['monitor', '--run', 'train-1'], {cwd: project.dir});
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/loss\s+1\.\d{4}\s+[▁▂▃▄▅▆▇█]{10,}/);
    expect(a.stdout).toMatch(/cost\s+\$1\.50\s+of \$5\.00 budget \(30\.00%\)/);
    expect(a.stdout).toMatch(/tokens\/s\s+41\d{3}/);
    expect(a.stdout).toMatch(/GPU\s+util \d+%/);
    const j1 = await runCli(['monitor', '--run', 'train-1', '--json'], {cwd: project.dir});
    const j2 = await runCli(['runs', 'watch', 'train-1', '--json'], {cwd: project.dir});
    expect(j1.json.curves.loss).toHaveLength(21);
    expect(j2.json).toEqual(j1.json);
  });

  it('marks a running run with no new step as stalled, in the ledger and on stderr', async () => {
    const l = Ledger.open(project.dbFile);
    l.insertRun({id: 'stuck-1', kind: 'train', backend: 'local', backendType: 'local', runDir: '/tmp/stuck', spec: {}});
    l.setRunStatus('stuck-1', 'running', 'started');
    l.insertMetrics([{runId: 'stuck-1', step: 3, key: 'loss', value: 2, ts: Date.now() - 3600_000}]);
    l.close();
    const res = await runCli(['monitor', '--run', 'stuck-1'], {cwd: project.dir});
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('STALLED');
    expect(res.stderr).toMatch(/run stuck-1 is stalled: no new step for 36\d\ds/);
    const l2 = Ledger.open(project.dbFile, {readonly: true});
    expect(l2.getRun('stuck-1').stalled_at).not.toBeNull();
    expect(l2.events('stuck-1').filter((e) => e.type === 'stalled')).toHaveLength(1);
    l2.close();
  });
});

const HAVE_TMUX = existsSync('/usr/bin/tmux');
describe.skipIf(!HAVE_TMUX)(HAVE_TMUX ? '--watch in a real terminal (tmux)' : '--watch (skipped: no tmux)', () => {
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', 'llmops-monitor-test', ...args], {encoding: 'utf8'});
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function waitFor(check: () => boolean, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (check()) return;
      await sleep(150);
    }
    throw new Error('timed out');
  }
  const BIN = path.resolve(__dirname, '../../bin/run.js');

  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      // no server left: fine
    }
  });

  it('draws on the alternate screen, refreshes, and restores the terminal on Ctrl-C (exit 0)', async () => {
    const done = path.join(project.dir, 'watch.exit');
    tmux('new-session', '-d', '-s', 'dep', '-x', '120', '-y', '40', `cd ${project.dir} && NO_COLOR=1 node ${BIN} monitor support-bot --since 3h --watch --interval 500ms; echo EXIT=$? > ${done}; sleep 30`);
    await waitFor(() => tmux('capture-pane', '-p', '-t', 'dep').includes('Ctrl-C to quit'));
    expect(tmux('display', '-p', '-t', 'dep', '#{alternate_on} #{cursor_flag}').trim()).toBe('1 0');
    const screen = tmux('capture-pane', '-p', '-t', 'dep');
    expect(screen).toContain('support-bot (dep-1)');
    expect(screen).toMatch(/[▁▂▃▄▅▆▇█]{20,}/); // sparklines
    // New traffic shows up on a later refresh.
    const l = Ledger.open(project.dbFile);
    insertRequests(l, Array.from({length: 100}, (_, i) => promptRequest('dep-1', Date.now() - i, 'late request')));
    l.close();
    await waitFor(() => /requests\s+500 /.test(tmux('capture-pane', '-p', '-t', 'dep')));
    tmux('send-keys', '-t', 'dep', 'C-c');
    await waitFor(() => existsSync(done));
    expect(readFileSync(done, 'utf8').trim()).toBe('EXIT=0');
    expect(tmux('display', '-p', '-t', 'dep', '#{alternate_on} #{cursor_flag}').trim()).toBe('0 1');
    tmux('kill-session', '-t', 'dep');
  });

  it('runs watch follows a run live and exits by itself when the run ends', async () => {
    const l = Ledger.open(project.dbFile);
    l.insertRun({id: 'live-2', kind: 'train', backend: 'local', backendType: 'local', runDir: '/tmp/live', spec: {}, budgetUsd: 2});
    l.setRunStatus('live-2', 'running', 'started');
    l.insertMetrics([{runId: 'live-2', step: 1, key: 'loss', value: 4, ts: Date.now()}]);
    const done = path.join(project.dir, 'runwatch.exit');
    tmux('new-session', '-d', '-s', 'run', '-x', '120', '-y', '40', `cd ${project.dir} && NO_COLOR=1 node ${BIN} runs watch live-2 --interval 300ms; echo EXIT=$? > ${done}; sleep 30`);
    await waitFor(() => tmux('capture-pane', '-p', '-t', 'run').includes('run live-2'));
    l.insertMetrics([{runId: 'live-2', step: 2, key: 'loss', value: 3.1234, ts: Date.now()}]);
    await waitFor(() => tmux('capture-pane', '-p', '-t', 'run').includes('3.1234'));
    l.setRunStatus('live-2', 'succeeded', 'done');
    l.close();
    await waitFor(() => existsSync(done));
    expect(readFileSync(done, 'utf8').trim()).toBe('EXIT=0');
    const screen = tmux('capture-pane', '-p', '-t', 'run');
    expect(screen).toContain('succeeded'); // the final frame stays on the normal screen
    expect(tmux('display', '-p', '-t', 'run', '#{alternate_on} #{cursor_flag}').trim()).toBe('0 1');
    tmux('kill-session', '-t', 'run');
  });
});
