/**
 * Issue 15, items 1-4: runs survive the death of their supervisor, through the real CLI and real
 * processes: kill -9 of the supervisor, four concurrent `runs list`, a `runs list` from another pid
 * namespace (unshare -p), a run declared lost whose end turns up later, and the bill.
 */
import {execFile} from 'node:child_process';
import {appendFileSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {BIN, runCli} from '../helpers/cli.js';
import {makeProject, maxStep, waitFinal, waitFor, withLedger} from '../runtime/helpers.js';
import {CAN_MOUNT} from './helpers.js';

const PRICED = 'backends:\n  local: {type: local, price_per_hour: 3600, price_source: test price}\n';
// Alive and not a zombie (PID 1 in a container may never reap a killed process).
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
};

/** utime + stime of a process, in clock ticks (100 per second: ticks per second = CPU %). */
const cpuTicks = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};

async function detached(p: {dir: string}, steps: number): Promise<string> {
  const r = await runCli(['train', '--max-steps', String(steps), '--detach', '--json'], {cwd: p.dir});
  expect(r.code, r.stderr).toBe(0);
  return r.json.id as string;
}

describe('runs outlive their supervisor (real trainer, kill -9)', () => {
  it('kill -9 of the supervisor: the trainer lives on, one of 4 concurrent `runs list` adopts it, the new supervisor follows it (napping between polls, not a busy loop) and stops it, billed its measured time', async () => {
    const p = makeProject({yaml: PRICED});
    const id = await detached(p, 100_000);
    await waitFor('a few steps', () => maxStep(p.dbFile, id) >= 3, 60_000);
    const run = withLedger(p.dbFile, (l) => l.getRun(id));
    const trainerGroup = Number(run.backend_ref);
    process.kill(run.pid!, 'SIGKILL');
    await waitFor('the supervisor to die', () => !alive(run.pid!), 5000, 50);
    // The trainer never noticed: still running after its supervisor died.
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(trainerGroup)).toBe(true);
    const lists = await Promise.all([0, 1, 2, 3].map(() => runCli(['runs', 'list', '--json'], {cwd: p.dir})));
    for (const l of lists) expect(l.code, l.stderr).toBe(0);
    expect(withLedger(p.dbFile, (l) => l.events(id).filter((e) => e.type === 'supervisor_restarted'))).toHaveLength(1);
    // The adopted run goes on, and its new supervisor acts on it.
    const before = maxStep(p.dbFile, id);
    await waitFor('more steps', () => maxStep(p.dbFile, id) > before + 3, 60_000);
    // The new supervisor is not the trainer's parent: it still naps between polls (a busy loop
    // here once took a core and grew ~1.6 MB/s, 3 GB in a 30-minute run).
    const adopter = withLedger(p.dbFile, (l) => l.getRun(id).pid!);
    const cpu0 = cpuTicks(adopter);
    await new Promise((r) => setTimeout(r, 4000));
    expect((cpuTicks(adopter) - cpu0) / 4, 'adopted supervisor CPU %').toBeLessThan(10);
    const stop = await runCli(['runs', 'stop', id, '--json'], {cwd: p.dir});
    expect(stop.code, stop.stderr).toBe(0);
    const final = await waitFinal(p.dbFile, id, 120_000);
    expect(final.status, final.reason ?? '').toBe('stopped');
    const log = readFileSync(path.join(run.run_dir, 'logs', 'run.log'), 'utf8');
    expect(log).not.toMatch(/BrokenPipe|EPIPE/);
    withLedger(p.dbFile, (l) => {
      const restarts = l.events(id).filter((e) => e.type === 'supervisor_restarted');
      expect(restarts).toHaveLength(1);
      // Billed: from setup to the exit recorded by the run itself, at $1/s, within a second.
      const state = JSON.parse(l.getRun(id).backend_state_json!);
      const exit = JSON.parse(readFileSync(path.join(run.run_dir, 'exit.json'), 'utf8'));
      const measured = (Date.parse(exit.ts) - state.setupAt) / 1000;
      const cost = l.runCost(id);
      expect(Math.abs(cost.usd - measured)).toBeLessThan(1);
    });
  });

  it('a supervisor killed before it started its run: `runs list` starts a new one, which starts the run, and it succeeds (not lost)', async () => {
    const p = makeProject({yaml: PRICED});
    // A supervisor slow to start (a loaded machine), held 3 s before it runs a line of its own.
    const slow = path.join(p.dir, 'slow-start.cjs');
    writeFileSync(slow, "if ((process.argv[1] || '').endsWith('supervisor-main.js')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);\n");
    const r = await runCli(['train', '--max-steps', '20', '--detach', '--json'], {cwd: p.dir, env: {NODE_OPTIONS: `--require ${slow}`}});
    expect(r.code, r.stderr).toBe(0);
    const id = r.json.id as string;
    const run = withLedger(p.dbFile, (l) => l.getRun(id));
    process.kill(run.pid!, 'SIGKILL');
    await waitFor('the supervisor to die', () => !alive(run.pid!), 5000, 50);
    expect(withLedger(p.dbFile, (l) => l.getRun(id).backend_ref)).toBeNull();
    const list = await runCli(['runs', 'list', '--json'], {cwd: p.dir});
    expect(list.code, list.stderr).toBe(0);
    const final = await waitFinal(p.dbFile, id, 120_000);
    expect(final.status, final.reason ?? '').toBe('succeeded');
    withLedger(p.dbFile, (l) => {
      const restarts = l.events(id).filter((e) => e.type === 'supervisor_restarted').map((e) => JSON.parse(e.data_json));
      expect(restarts).toEqual([expect.objectContaining({reason: 'previous supervisor gone, run process not started yet'})]);
      expect(l.runCost(id).usd).toBeGreaterThan(0);
    });
  });

  it.skipIf(!CAN_MOUNT)(CAN_MOUNT ? '`runs list` from another pid namespace (unshare -p) sees a live run as running, and it ends succeeded' : 'unshare -p (skipped: not allowed here)', async () => {
    const p = makeProject();
    const id = await detached(p, 200);
    await waitFor('a few steps', () => maxStep(p.dbFile, id) >= 2, 60_000);
    const fromNs = await new Promise<string>((resolve) =>
      execFile('unshare', ['-p', '-f', '--mount-proc', process.execPath, BIN, 'runs', 'list', '--json'], {cwd: p.dir, env: {...process.env, CI: '1'}}, (_e, stdout) => resolve(stdout)),
    );
    const listed = JSON.parse(fromNs);
    const row = (listed.runs ?? listed).find((r: {id: string}) => r.id === id);
    expect(row.status).toBe('running');
    const final = await waitFinal(p.dbFile, id, 120_000);
    expect(final.status).toBe('succeeded');
    withLedger(p.dbFile, (l) => expect(l.events(id).some((e) => e.type === 'status' && JSON.parse(e.data_json).status === 'lost')).toBe(false));
  });

  it('a run declared lost moves to its true state when its exit.json and final event arrive later, recorded as an event', async () => {
    const p = makeProject();
    const id = await detached(p, 100_000);
    await waitFor('a few steps', () => maxStep(p.dbFile, id) >= 2, 60_000);
    const run = withLedger(p.dbFile, (l) => l.getRun(id));
    // Supervisor and the whole run group gone at once (a machine's processes killed): no exit.json.
    process.kill(run.pid!, 'SIGKILL');
    process.kill(-Number(run.backend_ref), 'SIGKILL');
    await waitFor('the processes to die', () => !alive(run.pid!) && !alive(Number(run.backend_ref)), 5000, 50);
    const list = await runCli(['runs', 'list', '--json'], {cwd: p.dir});
    expect(list.code).toBe(0);
    expect(withLedger(p.dbFile, (l) => l.getRun(id).status)).toBe('lost');
    // The real end turns up (a shared folder synced late): a final event and exit.json.
    appendFileSync(path.join(run.run_dir, 'events.jsonl'), JSON.stringify({type: 'status', ts: Date.now() / 1000, status: 'succeeded', step: 5}) + '\n');
    writeFileSync(path.join(run.run_dir, 'exit.json'), JSON.stringify({exitCode: 0, signal: null, ts: new Date().toISOString()}) + '\n');
    await runCli(['runs', 'list'], {cwd: p.dir});
    withLedger(p.dbFile, (l) => {
      const r = l.getRun(id);
      expect(r.status).toBe('succeeded');
      expect(r.reason).toContain('revised after it was declared lost');
      const revised = l.events(id).filter((e) => e.type === 'status_revised').map((e) => JSON.parse(e.data_json));
      expect(revised).toEqual([expect.objectContaining({from: 'lost', status: 'succeeded'})]);
    });
  });
});
