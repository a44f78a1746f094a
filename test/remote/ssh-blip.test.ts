/**
 * Issue 15, item 2 (remote side): a network blip never ends a remote run. The real CLI, the real
 * trainer on the loopback sshd; the link is cut for a while by the one part we control, the network
 * path: ssh reaches the host through a ProxyCommand that refuses to connect while a flag file
 * exists, and the shared ControlMaster connection is killed. Every status check, event read and log
 * read then fails (ssh exit 255) or answers "unknown"; the run must stay running and, once the link
 * is back, reach its true state with every step recorded.
 */
import {chmodSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {sshTarget} from '../../src/lib/system/ssh.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {sqlite} from '../helpers/sqlite.js';
import {makeProject, waitFinal, waitFor, withLedger} from '../runtime/helpers.js';
import {services, sshBackendConfig, sshMasterPid, sshUnavailable} from './helpers.js';

const skip = sshUnavailable();
const d = skip ? describe.skip : describe;

const maxLossStep = (dbFile: string, id: string) =>
  withLedger(dbFile, (l) => (sqlite(l).prepare("SELECT coalesce(max(step), 0) AS s FROM metrics WHERE run_id = ? AND key = 'loss'").get(id) as {s: number}).s);

let ctlDir: string | undefined;
afterAll(() => {
  // The test's own ControlMaster (in its private control dir) is not left behind.
  if (ctlDir) rmSync(ctlDir, {recursive: true, force: true});
});

d(`a network blip never ends a remote run (real CLI, real sshd, link cut by a ProxyCommand${skip ? `; skipped: ${skip}` : ''})`, () => {
  it('status checks and reads fail for ~10 s mid-run: the run stays running (also through `runs list`), the outage is recorded once, and the run then succeeds with every step', async () => {
    const dir = tempDir('llmops-blip-');
    const flag = path.join(dir, 'link-down');
    const proxy = path.join(dir, 'proxy.sh');
    writeFileSync(
      proxy,
      [
        '#!/bin/bash',
        `# The network between llmops and the host: down while ${flag} exists.`,
        `if [ -e ${flag} ]; then echo "connect to host $1 port $2: Network is unreachable" >&2; exit 255; fi`,
        'exec 3<>"/dev/tcp/$1/$2"',
        'cat <&3 &',
        'exec cat >&3',
        '',
      ].join('\n'),
    );
    chmodSync(proxy, 0o755);
    // A control dir of its own: no other test's ControlMaster (which would bypass the proxy) is reused.
    ctlDir = path.join(dir, 'ctl');
    const env = {LLMOPS_SSH_CONTROL_DIR: ctlDir};
    const s = services().ssh;
    const options = [`UserKnownHostsFile=${s.known_hosts}`, `ProxyCommand=${proxy} %h %p`];
    const workdir = tempDir('llmops-blip-wd-');
    const box = sshBackendConfig(workdir, {price_per_hour: 3600, ssh_options: options});
    const p = makeProject({yaml: `backends:\n  box: ${JSON.stringify(box)}\n`});

    // Long enough to be still training when the link goes down, on a quiet machine too (120 steps
    // were all done before the outage was noticed there).
    const STEPS = 3000;
    const start = await runCli(['train', '--backend', 'box', '--max-steps', String(STEPS), '--detach', '--json'], {cwd: p.dir, env});
    expect(start.code, start.stderr).toBe(0);
    const id = start.json.id as string;
    await waitFor('the first metrics', () => maxLossStep(p.dbFile, id) > 0, 120_000);

    // The link goes down: new connections are refused, and the open one is cut.
    writeFileSync(flag, '');
    const saved = process.env.LLMOPS_SSH_CONTROL_DIR;
    process.env.LLMOPS_SSH_CONTROL_DIR = ctlDir;
    const master = sshMasterPid(sshTarget({host: s.host, port: s.port, identity_file: s.identity_file, ssh_options: options}));
    if (saved === undefined) delete process.env.LLMOPS_SSH_CONTROL_DIR;
    else process.env.LLMOPS_SSH_CONTROL_DIR = saved;
    expect(master).toBeGreaterThan(0);
    process.kill(master!, 'SIGKILL');
    await waitFor('the outage to be noticed', () => withLedger(p.dbFile, (l) => l.events(id).some((e) => e.type === 'status_unknown')), 30_000);
    const during = maxLossStep(p.dbFile, id);

    // Still running, seen directly and through `runs list` (which reconciles) while the link is down.
    const list = await runCli(['runs', 'list', '--json'], {cwd: p.dir, env});
    expect(list.code, list.stderr).toBe(0);
    expect(list.json.runs.find((r: {id: string}) => r.id === id).status).toBe('running');
    await new Promise((r) => setTimeout(r, 6000));
    expect(withLedger(p.dbFile, (l) => l.getRun(id).status)).toBe('running');

    // The link comes back: the run reaches its true state, with the steps trained during the outage.
    rmSync(flag);
    const final = await waitFinal(p.dbFile, id, 360_000);
    expect(final.status, final.reason ?? '').toBe('succeeded');
    expect(maxLossStep(p.dbFile, id)).toBe(STEPS);
    expect(during).toBeLessThan(STEPS);
    withLedger(p.dbFile, (l) => {
      const events = l.events(id);
      expect(events.filter((e) => e.type === 'status_unknown')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'status_known')).toHaveLength(1);
      expect(events.some((e) => e.type === 'supervisor_restarted')).toBe(false);
    });
  }, 600_000);
});
