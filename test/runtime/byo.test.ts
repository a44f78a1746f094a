/**
 * Brought-your-own commands (`llmops train -- CMD ARGS...`) as tracked runs, through the real CLI:
 * metrics from plain prints to $LLMOPS_EVENTS, 100,000 events without loss, failures, Ctrl-C
 * without a TTY, and reconcile of a run whose processes died without a word.
 */
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {PYTHON, runCli, spawnCli} from '../helpers/cli.js';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {latestRun, makeProject, waitFor, withLedger} from './helpers.js';

const EMITTER = `
import json, os, sys, time
n = int(sys.argv[1])
with open(os.environ["LLMOPS_EVENTS"], "a") as f:
    f.write(json.dumps({"type": "status", "status": "running", "total_steps": n}) + "\\n")
    for i in range(1, n + 1):
        f.write(json.dumps({"type": "metric", "step": i, "values": {"loss": 1.0 / i, "acc": i / n}}) + "\\n")
    f.write("this line is not JSON\\n")
print("emitted", n, "run", os.environ["LLMOPS_RUN_ID"])
`;
import {sqlite} from '../helpers/sqlite.js';

describe('brought-your-own commands (real processes)', () => {
  it('a Python script speaking the protocol with plain prints reports its metrics; 100,000 events lose none', async () => {
    const p = makeProject();
    writeFileSync(path.join(p.dir, 'emit.py'), EMITTER);
    const r = await runCli(['train', '--json', '--', PYTHON, 'emit.py', '100000'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.kind).toBe('command');
    expect(r.json.status).toBe('succeeded');
    withLedger(p.dbFile, (l) => {
      const counts = sqlite(l).prepare('SELECT key, count(*) AS n, count(DISTINCT step) AS steps FROM metrics WHERE run_id = ? GROUP BY key ORDER BY key').all(r.json.id);
      expect(counts).toEqual([
        {key: 'acc', n: 100_000, steps: 100_000},
        {key: 'loss', n: 100_000, steps: 100_000},
      ]);
      const errors = l.events(r.json.id).filter((e) => e.type === 'protocol_error');
      expect(errors).toHaveLength(1);
      expect(JSON.parse(errors[0]!.data_json).line).toBe('this line is not JSON');
    });
    const logs = await runCli(['runs', 'logs', r.json.id], {cwd: p.dir});
    expect(logs.stdout).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z emitted 100000 run ${r.json.id}$`, 'm'));
  });

  it('a shell command that fails: failed with its exit code and last log lines, exit 5', async () => {
    const p = makeProject();
    const r = await runCli(['train', '--json', '--', 'sh', '-c', 'echo about to fail; echo "{\\"type\\":\\"metric\\",\\"step\\":1,\\"values\\":{\\"x\\":2}}" >> "$LLMOPS_EVENTS"; exit 3'], {cwd: p.dir});
    expect(r.code).toBe(5);
    expect(r.json.status).toBe('failed');
    expect(r.json.reason).toContain('exited with code 3');
    expect(r.json.reason).toContain('about to fail');
    expect(r.json.metrics.x).toBe(2);
  });

  it('a command that cannot be started fails with a clear reason', async () => {
    const p = makeProject();
    const r = await runCli(['train', '--json', '--', './no-such-program'], {cwd: p.dir});
    expect(r.code).toBe(5);
    expect(r.json.status).toBe('failed');
    expect(r.json.reason).toMatch(/could not start/i);
  });

  it('Ctrl-C on an attached run without a TTY stops the run (graceful) and exits 12', async () => {
    const p = makeProject();
    const cli = spawnCli(['train', '--json', '--', 'sh', '-c', 'while true; do echo tick; sleep 0.2; done'], {cwd: p.dir});
    let out = '';
    cli.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number>((resolve) => cli.on('exit', (code) => resolve(code ?? -1)));
    const run = await waitFor('the command to run', () => {
      const r = latestRun(p.dbFile);
      return r && r.status === 'running' ? r : undefined;
    });
    cli.kill('SIGINT');
    expect(await exited).toBe(12);
    const result = JSON.parse(out);
    expect(result.id).toBe(run.id);
    expect(result.status).toBe('stopped');
    expect(result.reason).toMatch(/interrupted/);
  });

  it('reconcile: a run whose supervisor and process died without a final status becomes lost, its events ingested', async () => {
    const p = makeProject();
    const runDir = path.join(p.dir, '.llmops', 'runs', 'r-dead-0001');
    mkdirSync(path.join(runDir, 'logs'), {recursive: true});
    writeFileSync(path.join(runDir, 'events.jsonl'), '{"type":"metric","step":7,"values":{"loss":1.5}}\n');
    writeFileSync(path.join(runDir, 'logs', 'run.log'), 'last words\n');
    const l = Ledger.open(p.dbFile);
    l.insertRun({
      id: 'r-dead-0001',
      kind: 'command',
      backend: 'local',
      backendType: 'local',
      runDir,
      spec: {runId: 'r-dead-0001', kind: 'command', runDir, projectRoot: p.dir, command: ['true'], env: {}, passEnv: [], inputs: [], gpus: 0},
    });
    l.setRunStatus('r-dead-0001', 'running', 'test');
    // A pid that is certainly gone: a process that already exited.
    l.updateRun('r-dead-0001', {pid: 2 ** 22 + 17, backend_state_json: JSON.stringify({handle: {ref: '999999', state: {pid: 2 ** 22 + 17, runDir}}, eventsOffset: 0, logOffset: 0})});
    l.close();
    const r = await runCli(['runs', 'show', 'r-dead-0001', '--json'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.status).toBe('lost');
    expect(r.json.reason).toContain('last words');
    expect(r.json.metrics.loss.last).toBe(1.5);
  });
});
