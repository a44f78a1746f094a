/**
 * Container images with a real Docker daemon: `llmops image build` of the server and the trainer
 * (from the locally made base image, passed with --base), `deploy --target docker` answering the
 * openai client, requests in `monitor`, `train` on a docker backend, and the clear errors.
 * One build is shared by every test (docker's layer cache keeps rebuilds quick).
 */
import {execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runCli, tempDir} from '../helpers/cli.js';
import {makeProject, waitFinal, withLedger} from '../runtime/helpers.js';
import {tinyModel} from '../serve/helpers/model.js';
import {BASE, dockerOut, dockerUnavailable, llmopsContainers} from './docker.js';

const why = dockerUnavailable();
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}).version;
const SERVER = `llmops-server:${VERSION}`;
const TRAINER = `llmops-trainer:${VERSION}`;

let project: {dir: string; dbFile: string; datasetId: string};
let built: any;
let model: {modelDir: string; runDir: string; runId: string};
const mine: string[] = [];

describe.skipIf(why !== '')(`container images with a real docker${why ? ` (skipped: ${why})` : ''}`, () => {
  beforeAll(async () => {
    project = makeProject({yaml: 'backends:\n  box:\n    type: docker\n'});
    model = await tinyModel();
    withLedger(project.dbFile, (l) =>
      l.insertRun({id: model.runId, kind: 'train', status: 'succeeded', backend: 'local', backendType: 'local', runDir: model.runDir, spec: {}}),
    );
    const r = await runCli(['image', 'build', '--target', 'all', '--base', BASE, '--json'], {cwd: project.dir, timeoutMs: 1_500_000});
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    built = r.json;
  }, 1_600_000);

  // Only this file's containers: another test run may share the daemon.
  afterAll(() => {
    for (const label of mine) for (const c of llmopsContainers(label)) execFileSync('docker', ['rm', '-f', c], {stdio: 'ignore'});
  });

  it('image build: both images, labelled, measured, recorded in the ledger; the server non-root with only its platform\'s onnxruntime', () => {
    expect(built.engine).toBe('docker');
    const [server, trainer] = built.images;
    expect(server).toMatchObject({target: 'server', tag: SERVER, base: BASE, modelRunId: null});
    expect(trainer).toMatchObject({target: 'trainer', tag: TRAINER, base: BASE});
    expect(server.labels['dev.llmops.version']).toBe(VERSION);
    expect(server.sizeBytes).toBeGreaterThan(50e6);
    const cfg = JSON.parse(dockerOut(['image', 'inspect', '--format', '{{json .Config}}', SERVER]));
    expect(cfg.User).toBe('llmops');
    expect(cfg.Healthcheck.Test.join(' ')).toContain('/health');
    expect(cfg.Entrypoint).toEqual(['llmops']);
    // The server runs with the server's Node flags (an 8 MB young generation, src/lib/serve/deployments.ts).
    expect(cfg.Env).toContain('NODE_OPTIONS=--max-semi-space-size=8');
    // Only linux/x64 (this machine) of onnxruntime's six platform folders; no dev dependencies.
    const ls = (p: string) => dockerOut(['run', '--rm', '--entrypoint', 'ls', SERVER, p]).split('\n');
    expect(ls('/opt/llmops/node_modules/onnxruntime-node/bin/napi-v6')).toEqual(['linux']);
    expect(ls('/opt/llmops/node_modules/onnxruntime-node/bin/napi-v6/linux')).toEqual([process.arch]);
    const mods = ls('/opt/llmops/node_modules');
    expect(mods).toContain('better-sqlite3');
    for (const dev of ['vitest', 'typescript', 'openai', 'esbuild']) expect(mods).not.toContain(dev);
    expect(dockerOut(['run', '--rm', '--entrypoint', 'id', SERVER, '-un'])).toBe('llmops');
    expect(dockerOut(['run', '--rm', SERVER, '--version'])).toContain(`llmops/${VERSION}`);
    expect(dockerOut(['run', '--rm', '--entrypoint', 'python3', TRAINER, '-c', 'import torch; print(torch.__version__)'])).toMatch(/^\d+\.\d+/);
    const rows = withLedger(project.dbFile, (l) => l.images.list());
    expect(rows.map((r) => r.tag).sort()).toEqual([SERVER, TRAINER]);
    expect(rows.find((r) => r.target === 'server')!.size_bytes).toBe(server.sizeBytes);
  });

  it('deploy --target docker: the openai client gets chat and streamed completions; monitor shows the requests; stop leaves no container', async () => {
    const env = {LLMOPS_DB: undefined};
    const up = await runCli(['deploy', '--target', 'docker', '--model', model.runId, '--name', 'boxed', '--port', '0', '--json'], {cwd: project.dir, env});
    expect(up.code, up.stderr).toBe(0);
    expect(up.json).toMatchObject({name: 'boxed', status: 'running', target: 'docker', host: '127.0.0.1', modelRunId: model.runId});
    const container = `llmops-${up.json.id}`;
    mine.push(`dev.llmops.deployment=${up.json.id}`);
    try {
      expect(llmopsContainers(`dev.llmops.deployment=${up.json.id}`)).toEqual([container]);
      // Published on loopback only.
      expect(dockerOut(['port', container, '8000/tcp'])).toMatch(/^127\.0\.0\.1:\d+$/);
      const client = new OpenAI({baseURL: up.json.url + '/v1', apiKey: 'unused', maxRetries: 0});
      const chat = await client.chat.completions.create({model: 'boxed', messages: [{role: 'user', content: 'say cat'}], max_tokens: 5});
      expect(chat.choices[0]!.message.role).toBe('assistant');
      expect(chat.usage!.completion_tokens).toBeGreaterThan(0);
      const stream = await client.completions.create({model: 'boxed', prompt: 'the cat', max_tokens: 6, stream: true});
      let text = '';
      let chunks = 0;
      for await (const c of stream) {
        text += c.choices[0]?.text ?? '';
        chunks++;
      }
      expect(chunks).toBeGreaterThan(1);
      expect(typeof text).toBe('string');

      // The server in the container writes its requests to the project's ledger (flushed every 250 ms).
      const {waitFor} = await import('../runtime/helpers.js');
      await waitFor('2 requests in the ledger', () => withLedger(project.dbFile, (l) => l.requestCountsByDeployment()[up.json.id] === 2), 10_000);
      const mon = await runCli(['monitor', 'boxed', '--json'], {cwd: project.dir, env});
      expect(mon.code, mon.stderr).toBe(0);
      expect(mon.json.deployment.id).toBe(up.json.id);
      expect(mon.json.requests).toBe(2);
      const logs = await runCli(['deploy', 'logs', 'boxed'], {cwd: project.dir, env});
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stdout).toContain('serving boxed');
    } finally {
      const stop = await runCli(['deploy', 'stop', 'boxed', '--json'], {cwd: project.dir, env});
      expect(stop.code, stop.stderr).toBe(0);
      expect(stop.json).toMatchObject({wasRunning: true, killed: false, deployment: {status: 'stopped', requests: 2}});
    }
    expect(llmopsContainers(`dev.llmops.deployment=${up.json.id}`)).toEqual([]);
    // The server recorded its own stop and serving cost in the project's ledger.
    withLedger(project.dbFile, (l) => {
      const row = l.findDeployment('boxed')!;
      expect(row.stopped_at).not.toBeNull();
      expect(readFileSync(row.log_path!, 'utf8')).toContain('serving boxed');
    });
  }, 300_000);

  it('train --backend box (type docker) runs the trainer image to success: events, log, checkpoint and model in the run folder', async () => {
    const r = await runCli(['train', '--backend', 'box', '--max-steps', '12', '--json'], {cwd: project.dir, timeoutMs: 280_000});
    expect(r.code, r.stderr.slice(-2000) + r.stdout.slice(-2000)).toBe(0);
    expect(r.json).toMatchObject({status: 'succeeded', backend: 'box'});
    mine.push(`dev.llmops.run=${r.json.id}`);
    const run = withLedger(project.dbFile, (l) => l.getRun(r.json.id));
    expect(run.backend_type).toBe('docker');
    expect(existsSync(path.join(run.run_dir, 'model', 'onnx', 'model.onnx'))).toBe(true);
    expect(readFileSync(path.join(run.run_dir, 'logs', 'run.log'), 'utf8')).toMatch(/step/);
    withLedger(project.dbFile, (l) => {
      expect(l.metricSeries(run.id, 'loss').at(-1)!.step).toBe(12);
      expect(l.events(run.id).some((e) => e.type === 'checkpoint')).toBe(true);
    });
    expect(llmopsContainers(`dev.llmops.run=${run.id}`)).toEqual([]);
  }, 300_000);

  it('the attached CLI killed with -9 during a docker run: the supervisor carries on and the run succeeds', async () => {
    const {spawnCli} = await import('../helpers/cli.js');
    const {waitFor, latestRun, maxStep} = await import('../runtime/helpers.js');
    const before = latestRun(project.dbFile)?.id;
    const cli = spawnCli(['train', '--backend', 'box', '--max-steps', '25'], {cwd: project.dir});
    const run = await waitFor('the docker run to start', () => {
      const r = latestRun(project.dbFile);
      return r && r.id !== before && r.status === 'running' ? r : undefined;
    }, 120_000);
    mine.push(`dev.llmops.run=${run.id}`);
    cli.kill('SIGKILL');
    const final = await waitFinal(project.dbFile, run.id, 200_000);
    expect(final.status).toBe('succeeded');
    expect(maxStep(project.dbFile, run.id)).toBe(25);
    expect(llmopsContainers(`dev.llmops.run=${run.id}`)).toEqual([]);
  }, 300_000);

  it('runs stop of a docker run stops its container; --resume continues in a new one', async () => {
    const r = await runCli(['train', '--backend', 'box', '--max-steps', '100000', '--detach', '--json'], {cwd: project.dir});
    expect(r.code, r.stderr).toBe(0);
    const id = r.json.id as string;
    mine.push(`dev.llmops.run=${id}`);
    const {waitFor, maxStep} = await import('../runtime/helpers.js');
    await waitFor('a few steps in the container', () => maxStep(project.dbFile, id) >= 3, 120_000);
    expect(llmopsContainers(`dev.llmops.run=${id}`)).toEqual([`llmops-${id}`]);
    const stop = await runCli(['runs', 'stop', id, '--json'], {cwd: project.dir});
    expect(stop.code, stop.stderr + stop.stdout).toBe(0);
    expect(stop.json.status).toBe('stopped');
    const final = await waitFinal(project.dbFile, id);
    expect(final.status).toBe('stopped');
    expect(llmopsContainers(`dev.llmops.run=${id}`)).toEqual([]);
    const ckpt = withLedger(project.dbFile, (l) => l.events(id).filter((e) => e.type === 'checkpoint').map((e) => JSON.parse(e.data_json)).at(-1));
    const resumed = await runCli(['train', '--resume', id, '--max-steps', String(ckpt.step + 3), '--json'], {cwd: project.dir, timeoutMs: 200_000});
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    expect(resumed.json).toMatchObject({status: 'succeeded', parentRunId: id});
  }, 400_000);

  it('errors: a base image that cannot be pulled, and a failing build step, are named with a fix', async () => {
    const bad = await runCli(['image', 'build', '--target', 'trainer', '--base', 'llmops-test/not-here:1'], {cwd: project.dir, timeoutMs: 200_000});
    expect(bad.code).toBe(8);
    expect(bad.stderr).toContain('The base image llmops-test/not-here:1 is not on this machine and cannot be pulled');
    expect(bad.stderr).toContain('--base');
    // An image with no shell: the trainer's first RUN step cannot start.
    const dir = tempDir();
    mkdirSync(path.join(dir, 'root', 'etc'), {recursive: true});
    writeFileSync(path.join(dir, 'root', 'etc', 'hostname'), 'x\n');
    execFileSync('sh', ['-c', `tar -C ${dir}/root -c . | docker import - llmops-test/no-shell:1`], {stdio: 'ignore'});
    const failing = await runCli(['image', 'build', '--target', 'trainer', '--base', 'llmops-test/no-shell:1', '--tag', 'llmops-test/broken:1'], {cwd: project.dir, timeoutMs: 200_000});
    expect(failing.code).toBe(5);
    expect(failing.stderr).toMatch(/Building the trainer image llmops-test\/broken:1 failed at Step \d+\/\d+ : RUN /);
    expect(failing.stderr).toMatch(/no such file or directory|not found/i);
  }, 300_000);
});

describe('container engine errors (no docker needed)', () => {
  it('neither docker nor podman on PATH: exit 8, and how to install one', async () => {
    const dir = tempDir();
    const r = await runCli(['image', 'build', '--target', 'trainer'], {cwd: dir, env: {PATH: path.join(dir, 'empty-bin'), LLMOPS_CONTAINER_ENGINE: undefined}});
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('Neither docker nor podman is installed');
    expect(r.stderr).toContain('Try this: install Docker');
  });

  it('a docker whose daemon does not answer: exit 8, naming it', async () => {
    const dir = tempDir();
    const r = await runCli(['image', 'build', '--target', 'trainer'], {cwd: dir, env: {DOCKER_HOST: `unix://${dir}/no.sock`, LLMOPS_CONTAINER_ENGINE: 'docker'}});
    if (r.stderr.includes('Neither docker nor podman')) return; // no docker CLI here: the case above covers it
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('docker is installed but its daemon does not answer');
    expect(r.stderr).toContain('Try this: start it');
  });
});
