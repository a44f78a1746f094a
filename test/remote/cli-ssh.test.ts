/**
 * `llmops train --backend <ssh>` through the real CLI (bin/run.js) against the loopback sshd of
 * .ci/services/start.sh, with the real trainer: a run to succeeded, a dropped connection and
 * `runs logs --follow`, `runs stop`, and --dry-run.
 */
import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {sshTarget} from '../../src/lib/system/ssh.js';
import {runCli, spawnCli, tempDir} from '../helpers/cli.js';
import {makeProject, waitFinal, waitFor, withLedger} from '../runtime/helpers.js';
import {services, sshBackendConfig, sshMasterPid, sshUnavailable} from './helpers.js';
import {sqlite} from '../helpers/sqlite.js';

const skip = sshUnavailable();
const d = skip ? describe.skip : describe;

function project(pricePerHour = 1.79) {
  const workdir = tempDir('llmops-cli-ssh-wd-');
  const box = sshBackendConfig(workdir, {price_per_hour: pricePerHour});
  const p = makeProject({yaml: `backends:\n  box: ${JSON.stringify(box)}\n`});
  return {...p, workdir};
}

function metricCount(dbFile: string, id: string): number {
  return withLedger(dbFile, (l) => (sqlite(l).prepare("SELECT count(*) AS n FROM metrics WHERE run_id = ? AND key = 'loss'").get(id) as {n: number}).n);
}

d(`llmops train --backend ssh (real CLI, real sshd${skip ? `; skipped: ${skip}` : ''})`, () => {
  it('trains the tiny preset (micro overrides) on the ssh host to succeeded: metrics in the ledger, model fetched back, cost priced', async () => {
    const p = project();
    const r = await runCli(['train', '--backend', 'box', '--max-steps', '30', '--json'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({status: 'succeeded', backend: 'box', pricePerHour: 1.79});
    const id = r.json.id as string;
    const run = withLedger(p.dbFile, (l) => l.getRun(id));
    expect(run.backend_type).toBe('ssh');
    expect(run.backend_ref).toMatch(/^root@127\.0\.0\.1:\d+$/);
    expect(metricCount(p.dbFile, id)).toBeGreaterThan(5);
    expect(existsSync(path.join(run.run_dir, 'model', 'onnx', 'model.onnx'))).toBe(true);
    const artifacts = withLedger(p.dbFile, (l) => l.artifacts(id));
    expect(artifacts.some((a) => a.path.startsWith(run.run_dir))).toBe(true);
    expect(artifacts.every((a) => !a.path.startsWith(p.workdir))).toBe(true);
    const cost = withLedger(p.dbFile, (l) => l.runCost(id));
    expect(cost.usd).toBeGreaterThan(0);
    // The remote log was mirrored into the local run dir.
    expect(readFileSync(path.join(run.run_dir, 'logs', 'run.log'), 'utf8')).toMatch(/step \d+\/30/);
    // The project's .llmops/ (ledger) never reached the host.
    expect(existsSync(path.join(p.workdir, '.llmops'))).toBe(false);
  });

  it('survives a dropped ssh connection mid-run; `runs logs --follow` reattaches and ends with the run', async () => {
    const p = project();
    const start = await runCli(['train', '--backend', 'box', '--max-steps', '150', '--detach', '--json'], {cwd: p.dir});
    expect(start.code, start.stderr).toBe(0);
    const id = start.json.id as string;
    await waitFor('the first metrics', () => metricCount(p.dbFile, id) > 0, 90_000);
    const s = services().ssh;
    const target = sshTarget({host: s.host, port: s.port, identity_file: s.identity_file, ssh_options: [`UserKnownHostsFile=${s.known_hosts}`]});
    const master = sshMasterPid(target);
    expect(master).toBeGreaterThan(0);
    process.kill(master!, 'SIGKILL');
    const follow = spawnCli(['runs', 'logs', id, '--follow'], {cwd: p.dir});
    let out = '';
    follow.stdout!.on('data', (b) => (out += b));
    const code = await new Promise<number | null>((res) => follow.on('exit', res));
    expect(code).toBe(0);
    expect(out).toMatch(/step 150\/150/);
    const run = withLedger(p.dbFile, (l) => l.getRun(id));
    expect(run.status).toBe('succeeded');
    expect(existsSync(path.join(run.run_dir, 'model', 'config.json'))).toBe(true);
  });

  it('`runs fetch` brings checkpoints home mid-run; `runs stop` stops the remote process group and the run is recorded stopped', async () => {
    const p = project();
    const start = await runCli(['train', '--backend', 'box', '--max-steps', '100000', '--detach', '--json'], {cwd: p.dir});
    expect(start.code, start.stderr).toBe(0);
    const id = start.json.id as string;
    await waitFor('a checkpoint', () => withLedger(p.dbFile, (l) => l.events(id).some((e) => e.type === 'checkpoint')), 90_000);
    // On demand, mid-run: the checkpoints written so far come home.
    const fetched = await runCli(['runs', 'fetch', id, '--json'], {cwd: p.dir});
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.json.checkpoints.length).toBeGreaterThan(0);
    expect(existsSync(path.join(fetched.json.runDir, 'checkpoints', fetched.json.checkpoints[0]))).toBe(true);
    const stop = await runCli(['runs', 'stop', id], {cwd: p.dir});
    expect(stop.code, stop.stderr).toBe(0);
    const run = await waitFinal(p.dbFile, id, 90_000);
    expect(run.status).toBe('stopped');
    const remoteRun = path.join(p.workdir, id);
    expect(readFileSync(path.join(remoteRun, 'events.jsonl'), 'utf8')).toContain('"status":"stopped"');
  });

  it('a budget stops the remote run the same way as a local one (exit 6, budget_exceeded)', async () => {
    const p = project(3600); // $1 per second of run time
    const r = await runCli(['train', '--backend', 'box', '--max-steps', '100000', '--budget', '15', '--json'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(6);
    expect(r.json.status).toBe('budget_exceeded');
    // The remote trainer got the graceful stop: it checkpointed and said so.
    const events = readFileSync(path.join(p.workdir, r.json.id, 'events.jsonl'), 'utf8');
    expect(events).toContain('"status":"stopped"');
    expect(withLedger(p.dbFile, (l) => l.runCost(r.json.id)).usd).toBeGreaterThanOrEqual(15);
  });

  it('--dry-run prints the launcher and the spec with remote paths, and starts nothing', async () => {
    const p = project();
    const r = await runCli(['train', '--backend', 'box', '--dry-run', '--json'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.dryRun).toBe(true);
    expect(r.json.rendered['launch.sh']).toContain('exit_code');
    const spec = JSON.parse(r.json.rendered['spec.json']);
    expect(spec.run_dir).toBe(path.join(p.workdir, r.json.id));
    expect(spec.dataset.dir).toBe(path.join(p.workdir, 'datasets', p.datasetId));
    expect(existsSync(path.join(p.workdir, r.json.id))).toBe(false);
  });
});
