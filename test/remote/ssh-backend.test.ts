/**
 * The SSH backend through src/lib, against a real sshd on 127.0.0.1:2222 (.ci/services/start.sh)
 * and the real trainer: submit -> status -> events -> fetch, stop, dropped connections, host keys.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {LoadedConfig} from '../../src/lib/config/load.js';
import {parseConfigText} from '../../src/lib/config/load.js';
import {SshBackend} from '../../src/lib/runtime/backends/ssh.js';
import type {BackendHandle} from '../../src/lib/runtime/backend.js';
import {sshCloseMaster} from '../../src/lib/system/ssh.js';
import {sshMasterPid} from './helpers.js';
import {tempDir} from '../helpers/cli.js';
import {makeProject, services, sshBackendConfig, sshUnavailable, trainerRunSpec, until, type Project} from './helpers.js';

const skip = sshUnavailable();
const d = skip ? describe.skip : describe;

function loadedWith(root: string, backend: Record<string, unknown>): LoadedConfig {
  const config = parseConfigText(JSON.stringify({python: '/usr/bin/python3', backends: {box: backend}}), path.join(root, 'llmops.yaml'));
  return {config, root, file: path.join(root, 'llmops.yaml')};
}

/** All events of a run that has exited. */
async function drain(b: SshBackend, h: BackendHandle): Promise<any[]> {
  const events: any[] = [];
  let offset = 0;
  for (;;) {
    const got = await b.readEvents(h, offset);
    offset = got.offset;
    events.push(...got.lines.map((l) => JSON.parse(l)));
    if (got.lines.length === 0) return events;
  }
}

d(`ssh backend via src/lib (real sshd on loopback${skip ? `; skipped: ${skip}` : ''})`, () => {
  let project: Project;
  let workdir: string;
  let backend: SshBackend;
  beforeAll(() => {
    project = makeProject();
    workdir = tempDir('llmops-remote-wd-');
    backend = new SshBackend('box', loadedWith(project.root, sshBackendConfig(workdir)).config.backends.box!, loadedWith(project.root, sshBackendConfig(workdir)));
  });
  afterAll(async () => {
    if (backend) await sshCloseMaster(backend.target);
  });

  it('check() passes on a host with python, rsync and setsid', async () => {
    await expect(backend.check()).resolves.toBeUndefined();
  });

  it('trains to succeeded on the remote, with events in the remote layout and the model fetched back', async () => {
    const spec = trainerRunSpec(project, 'r-ssh-ok');
    process.env.LLMOPS_TEST_SECRET = 'sekrit-value-123';
    const h = await backend.submit(spec);
    delete process.env.LLMOPS_TEST_SECRET;
    expect(h.state.remoteRunDir).toBe(path.join(workdir, 'r-ssh-ok'));
    const st = await until(async () => {
      const s = await backend.status(h);
      return s.state === 'exited' ? s : undefined;
    }, 90_000, 'the remote run to exit');
    expect(st.exitCode).toBe(0);
    const events = await drain(backend, h);
    expect(events[0]).toMatchObject({type: 'status', status: 'running'});
    expect(events.at(-1)).toMatchObject({type: 'status', status: 'succeeded'});
    expect(events.filter((e) => e.type === 'metric' && typeof e.values.loss === 'number').length).toBeGreaterThan(2);
    // Paths in events point at the local run dir, where fetchArtifacts puts them.
    const model = events.find((e) => e.type === 'artifact' && e.kind === 'model');
    expect(model.path).toBe(path.join(spec.runDir, 'model'));
    await backend.fetchArtifacts(h, spec);
    expect(existsSync(path.join(spec.runDir, 'model', 'onnx', 'model.onnx'))).toBe(true);
    expect(existsSync(path.join(spec.runDir, 'model', 'config.json'))).toBe(true);
    // The local spec keeps local paths; the remote one was rewritten.
    expect(JSON.parse(readFileSync(path.join(spec.runDir, 'spec.json'), 'utf8')).run_dir).toBe(spec.runDir);
    const remoteSpec = JSON.parse(readFileSync(path.join(workdir, 'r-ssh-ok', 'spec.json'), 'utf8'));
    expect(remoteSpec.run_dir).toBe(path.join(workdir, 'r-ssh-ok'));
    expect(remoteSpec.dataset.dir).toBe(path.join(workdir, 'datasets', project.datasetId));
    // Never synced: .llmops/ (the ledger and its neighbours); secrets never written to disk there.
    expect(existsSync(path.join(workdir, '.llmops'))).toBe(false);
    const launcher = readFileSync(path.join(workdir, 'r-ssh-ok', 'launch.sh'), 'utf8');
    expect(launcher).not.toContain('sekrit-value-123');
    const log = await backend.readLog(h, 0);
    expect(log.text).toMatch(/step|loss/i);
  });

  it('does not send a dataset again when the remote already has its id', async () => {
    const marker = path.join(workdir, 'datasets', project.datasetId, 'train.jsonl');
    expect(existsSync(marker)).toBe(true);
    // Change the local copy: a skipped sync leaves the remote file as it was.
    const before = readFileSync(marker, 'utf8');
    writeFileSync(path.join(project.datasetDir, 'extra.txt'), 'new\n');
    const spec = trainerRunSpec(project, 'r-ssh-again', {maxSteps: 2});
    const plan = await backend.plan(spec, workdir);
    const {syncRun} = await import('../../src/lib/runtime/remote-run.js');
    const report = await syncRun(backend.target, plan, {});
    expect(report.skipped).toEqual([path.join(workdir, 'datasets', project.datasetId)]);
    expect(existsSync(path.join(workdir, 'datasets', project.datasetId, 'extra.txt'))).toBe(false);
    expect(readFileSync(marker, 'utf8')).toBe(before);
  });

  it('stop(graceful) ends a remote run with the trainer\'s stopped status, and a dropped connection is survived', async () => {
    const spec = trainerRunSpec(project, 'r-ssh-stop', {maxSteps: 100000, checkpointEvery: 5});
    const h = await backend.submit(spec);
    await until(async () => (await backend.readEvents(h, 0)).lines.some((l) => JSON.parse(l).type === 'metric'), 60_000, 'the first metric');
    // Drop the shared connection: the next call opens a new one and the run is still there.
    const masterPid = sshMasterPid(backend.target);
    expect(masterPid).toBeGreaterThan(0);
    process.kill(masterPid!, 'SIGKILL');
    expect((await backend.status(h)).state).toBe('running');
    await backend.stop(h, {graceful: true});
    const st = await until(async () => {
      const s = await backend.status(h);
      return s.state === 'exited' ? s : undefined;
    }, 60_000, 'the stopped run to exit');
    expect(st.exitCode).toBe(0);
    const events = await drain(backend, h);
    expect(events.at(-1)).toMatchObject({type: 'status', status: 'stopped'});
  });

  it('refuses an unknown host key with a clear fix (strict host-key checking stays on)', async () => {
    const empty = path.join(tempDir('llmops-kh-'), 'known_hosts');
    writeFileSync(empty, '');
    const cfg = sshBackendConfig(workdir, {ssh_options: [`UserKnownHostsFile=${empty}`], port: services().ssh.port});
    // A separate ControlPath so the shared connection (already trusted) is not reused.
    process.env.LLMOPS_SSH_CONTROL_DIR = tempDir('llmops-cm-');
    try {
      const loaded = loadedWith(project.root, cfg);
      const b = new SshBackend('box', loaded.config.backends.box!, loaded);
      const err = await b.check().catch((e) => e);
      expect(err.code).toBe('BACKEND');
      expect(err.message).toMatch(/host key/i);
      expect(err.message).toContain('Host key verification failed');
      expect(err.fix).toMatch(/ssh-keyscan -p \d+ 127\.0\.0\.1/);
    } finally {
      delete process.env.LLMOPS_SSH_CONTROL_DIR;
    }
  });
});
