/**
 * `llmops deploy --target SSH_BACKEND` against the loopback sshd of .ci/services (a real ssh, rsync
 * and remote process; the "host" is this machine, reached as root@127.0.0.1:2222).
 */
import {rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {stringify} from 'yaml';
import {describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {sshTarget} from '../../src/lib/system/ssh.js';
import {throughTunnel} from '../../src/lib/serve/ssh-target.js';
import {isAlive} from '../../src/lib/system/process.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {sshBackendConfig, sshUnavailable} from '../remote/helpers.js';
import {tinyModel} from './helpers/model.js';
import {sqlite} from '../helpers/sqlite.js';

const why = sshUnavailable();

describe.skipIf(why)(`deploy to an ssh backend${why ? ` (skipped: ${why})` : ''}`, () => {
  it('copies model and server, starts it detached, checks /health through a tunnel, serves, shows logs, stops it there', async () => {
    const {modelDir} = await tinyModel();
    const dir = tempDir();
    const workdir = tempDir('llmops-serve-remote-');
    const backend = sshBackendConfig(workdir, {price_per_hour: 1.8});
    writeFileSync(path.join(dir, 'llmops.yaml'), stringify({backends: {box: backend}}));
    const env = {LLMOPS_DB: path.join(dir, 'l.db'), REMOTE_KEY: 'remote-secret-key-1'};
    const up = await runCli(['deploy', '--target', 'box', '--model', modelDir, '--name', 'remote', '--api-key-env', 'REMOTE_KEY', '--json'], {cwd: dir, env, timeoutMs: 240_000});
    expect(up.code, up.stderr + up.stdout).toBe(0);
    expect(up.json).toMatchObject({name: 'remote', target: 'box', status: 'running', host: '127.0.0.1'});
    expect(up.stdout + up.stderr).not.toContain('remote-secret-key-1');
    try {
      const t = sshTarget(backend as any);
      const statuses = await throughTunnel(t, up.json.port, async (url) => {
        const ask = (key?: string) =>
          fetch(url + '/v1/chat/completions', {
            method: 'POST',
            headers: {'content-type': 'application/json', ...(key ? {authorization: `Bearer ${key}`} : {})},
            body: JSON.stringify({model: 'remote', messages: [{role: 'user', content: 'hi'}], max_tokens: 3}),
          }).then((r) => r.status);
        return [await ask(), await ask('remote-secret-key-1')];
      });
      expect(statuses).toEqual([401, 200]);
      const logs = await runCli(['deploy', 'logs', 'remote'], {cwd: dir, env});
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stdout).toContain('serving remote at');
    } finally {
      const stop = await runCli(['deploy', 'stop', 'remote', '--json'], {cwd: dir, env});
      expect(stop.code, stop.stderr).toBe(0);
      expect(stop.json).toMatchObject({wasRunning: true, deployment: {status: 'stopped'}});
    }
    // The "host" is this machine, so the remote pid can be checked directly.
    expect(isAlive(up.json.pid)).toBe(false); // gone, or a zombie nobody reaps (PID 1 here does not)
    const ledger = Ledger.open(env.LLMOPS_DB);
    const cost = sqlite(ledger).prepare('SELECT * FROM cost_entries WHERE deployment_id = ?').get(up.json.id) as any;
    expect(cost).toMatchObject({stage: 'serve', phase: 'serve', backend: 'box', price_per_hour: 1.8});
    expect(ledger.findDeployment('remote')!.config_json).not.toContain('remote-secret-key-1');
    ledger.close();
    rmSync(workdir, {recursive: true, force: true});
  }, 300_000);
});
