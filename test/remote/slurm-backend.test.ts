/**
 * The Slurm backend through src/lib, against the real one-node cluster of .ci/services/start.sh
 * (munge, slurmctld, slurmd, two fake GPUs as gres) and the real trainer.
 */
import {execFileSync} from 'node:child_process';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {parseConfigText, type LoadedConfig} from '../../src/lib/config/load.js';
import {SlurmBackend} from '../../src/lib/runtime/backends/slurm.js';
import {renderSbatch} from '../../src/lib/runtime/slurm/script.js';
import {mapSlurmState, parseExitCode} from '../../src/lib/runtime/slurm/states.js';
import type {BackendHandle, BackendStatus} from '../../src/lib/runtime/backend.js';
import {PYTHON, tempDir} from '../helpers/cli.js';
import {makeProject, services, slurmUnavailable, sshUnavailable, trainerRunSpec, until, type Project} from './helpers.js';

const skip = slurmUnavailable();
const d = skip ? describe.skip : describe;

function backendFor(root: string, extra: Record<string, unknown> = {}): SlurmBackend {
  const file = path.join(root, 'llmops.yaml');
  const config = parseConfigText(
    JSON.stringify({python: PYTHON, backends: {cluster: {type: 'slurm', python: PYTHON, partition: 'debug', time: '00:10:00', poll_interval_s: 0.5, ...extra}}}),
    file,
  );
  const loaded: LoadedConfig = {config, root, file};
  return new SlurmBackend('cluster', config.backends.cluster!, loaded);
}

async function waitExit(b: SlurmBackend, h: BackendHandle, ms = 120_000): Promise<BackendStatus> {
  return until(async () => {
    const s = await b.status(h);
    return s.state === 'exited' ? s : undefined;
  }, ms, 'the job to end', 500);
}

describe('Slurm state mapping (pure)', () => {
  it('maps every Slurm state the issue names, keeping the scheduler word', () => {
    const expected: Record<string, string> = {
      PENDING: 'queued',
      RUNNING: 'running',
      COMPLETED: 'exited',
      FAILED: 'exited',
      CANCELLED: 'exited',
      TIMEOUT: 'exited',
      PREEMPTED: 'exited',
      NODE_FAIL: 'exited',
      OUT_OF_MEMORY: 'exited',
      REQUEUED: 'queued',
      CONFIGURING: 'starting',
    };
    for (const [slurm, ours] of Object.entries(expected)) expect(mapSlurmState(slurm).state, slurm).toBe(ours);
    expect(mapSlurmState('CANCELLED by 0')).toMatchObject({slurm: 'CANCELLED', outcome: 'stopped'});
    expect(mapSlurmState('TIMEOUT').outcome).toBe('failed');
    expect(mapSlurmState('WEIRD').state).toBe('unknown');
    expect(parseExitCode('0:15')).toEqual({exitCode: null, signal: 'SIGTERM'});
    expect(parseExitCode('3:0')).toEqual({exitCode: 3, signal: null});
  });
});

describe('sbatch scripts (rendered, not run: the one-node cluster cannot run two nodes)', () => {
  const base = parseConfigText(JSON.stringify({backends: {c: {type: 'slurm', nodes: 2, gpus_per_node: 8, partition: 'gpu', account: 'ml', qos: 'high', time: '12:00:00', sbatch_extra: ['--constraint=a100']}}})).backends.c as any;
  const input = {runId: 'r-x', workdir: '/shared/w', runDir: '/shared/w/r-x', command: ['python3', 'trainer/train.py', '--spec', '/shared/w/r-x/spec.json'], env: {LLMOPS_EVENTS: '/shared/w/r-x/events.jsonl'}, specFile: '/shared/w/r-x/spec.json', python: 'python3', port: 29500};

  it('multi-node: srun torchrun on every node with its own node rank and the first node as rendezvous', () => {
    const s = renderSbatch(base, input);
    for (const opt of ['--nodes=2', '--ntasks-per-node=1', '--gpus-per-node=8', '--partition=gpu', '--account=ml', '--qos=high', '--time=12:00:00', '--constraint=a100', '--output=/shared/w/r-x/logs/job.log', '--requeue']) {
      expect(s).toContain(`#SBATCH ${opt}\n`);
    }
    expect(s).toContain('MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)');
    expect(s).toMatch(/srun --ntasks-per-node=1 --kill-on-bad-exit=1 bash -c '.*torch\.distributed\.run --nnodes="\$SLURM_NNODES" --nproc_per_node=8 --node_rank="\$SLURM_NODEID" .*--rdzv_endpoint="\$MASTER_ADDR:\$MASTER_PORT" trainer\/train\.py --spec \/shared\/w\/r-x\/spec\.json'/);
    // $SLURM_NODEID must reach each node unexpanded: it sits inside single quotes.
    execFileSync('bash', ['-n'], {input: s});
  });

  it('requeued jobs resume from the last checkpoint', () => {
    const s = renderSbatch(base, input);
    expect(s).toContain('SLURM_RESTART_COUNT');
    expect(s).toContain('s["resume_from"]=sys.argv[2]');
  });

  it('one node, one GPU: the trainer runs as is', () => {
    const one = {...base, nodes: 1, gpus_per_node: 1, gpu_gres: 'fake'};
    const s = renderSbatch(one, input);
    expect(s).toContain('#SBATCH --gpus-per-node=fake:1\n');
    expect(s).not.toContain('srun');
    expect(s).toContain("python3 trainer/train.py --spec /shared/w/r-x/spec.json &");
    execFileSync('bash', ['-n'], {input: s});
  });
});

d(`Slurm backend via src/lib (real one-node cluster${skip ? `; skipped: ${skip}` : ''})`, () => {
  let project: Project;
  beforeAll(() => {
    project = makeProject('llmops-slurm-');
  });

  it('trains on one fake GPU to COMPLETED, with events in the shared run dir and queue time recorded', async () => {
    const b = backendFor(project.root, {gpus_per_node: 1, gpu_type: 'A100-80GB', gpu_gres: services().slurm.gpu_type});
    await b.check();
    const spec = trainerRunSpec(project, 'r-slurm-ok', {maxSteps: 10});
    const h = await b.submit(spec);
    expect(h.ref).toMatch(/^slurm:\d+$/);
    const st = await waitExit(b, h);
    expect(st).toMatchObject({state: 'exited', exitCode: 0, detail: 'Slurm COMPLETED'});
    expect(st.queuedSeconds).toBeGreaterThanOrEqual(0);
    const ev = await b.readEvents(h, 0);
    const events = ev.lines.map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({type: 'status', status: 'succeeded'});
    expect(existsSync(path.join(spec.runDir, 'model', 'onnx', 'model.onnx'))).toBe(true);
    const log = readFileSync(path.join(spec.runDir, 'logs', 'job.log'), 'utf8');
    // The fake gres handed the job one GPU.
    expect(log).toMatch(/\[llmops\] job \d+ on .* gpus 0/);
    expect(b.pricing().resource).toBe('A100-80GB x1');
  });

  it('a GPU request the cluster cannot satisfy fails at check and at submit with Slurm\'s own message', async () => {
    const b = backendFor(project.root, {gpus_per_node: services().slurm.gpus + 2});
    const early = await b.check().catch((e) => e);
    expect(early.code).toBe('BACKEND');
    expect(early.message).toContain('Requested node configuration is not available');
    const err = await b.submit(trainerRunSpec(project, 'r-slurm-toomany')).catch((e) => e);
    expect(err.code).toBe('BACKEND');
    expect(err.exitCode).toBe(11);
    expect(err.message).toContain('Requested node configuration is not available');
    expect(err.fix).toMatch(/gpus_per_node/);
  });

  it('an unknown partition is refused with Slurm\'s message', async () => {
    const b = backendFor(project.root, {partition: 'no-such-partition'});
    const err = await b.submit(trainerRunSpec(project, 'r-slurm-nopart')).catch((e) => e);
    expect(err.code).toBe('BACKEND');
    expect(err.message).toMatch(/invalid partition/i);
  });

  it('refuses sbatch_extra options that would break llmops, naming the key', async () => {
    const b = backendFor(project.root, {sbatch_extra: ['--exclusive', '--output=/tmp/x.log', '--parsable']});
    const err = await b.check().catch((e) => e);
    expect(err.code).toBe('CONFIG');
    expect(err.message).toContain('backends.cluster.sbatch_extra.1: --output cannot be overridden');
    expect(err.message).toContain('backends.cluster.sbatch_extra.2: --parsable cannot be overridden');
    expect(err.message).not.toContain('sbatch_extra.0');
  });

  it('a job cancelled from outside (scancel) is seen as CANCELLED', async () => {
    const b = backendFor(project.root, {gpus_per_node: 1});
    const spec = trainerRunSpec(project, 'r-slurm-cancel', {maxSteps: 100000});
    const h = await b.submit(spec);
    await until(async () => (await b.readEvents(h, 0)).lines.some((l) => l.includes('"metric"')), 90_000, 'the first metric');
    execFileSync('scancel', [String(h.state.jobId)]);
    const st = await waitExit(b, h, 60_000);
    expect(st.detail).toMatch(/^Slurm CANCELLED/);
    expect(mapSlurmState('CANCELLED').outcome).toBe('stopped');
  });

  it('stop(graceful) sends SIGTERM through the batch script: the trainer checkpoints and reports stopped', async () => {
    const b = backendFor(project.root);
    const spec = trainerRunSpec(project, 'r-slurm-stop', {maxSteps: 100000});
    const h = await b.submit(spec);
    await until(async () => (await b.readEvents(h, 0)).lines.some((l) => l.includes('"metric"')), 90_000, 'the first metric');
    await b.stop(h, {graceful: true});
    const st = await waitExit(b, h, 60_000);
    expect(st.exitCode).toBe(0);
    const events = (await b.readEvents(h, 0)).lines.map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({type: 'status', status: 'stopped'});
    expect(events.some((e) => e.type === 'checkpoint')).toBe(true);
  });

  it('a requeued job (as after preemption) resumes from its last checkpoint and completes', async () => {
    const b = backendFor(project.root);
    const spec = trainerRunSpec(project, 'r-slurm-requeue', {maxSteps: 400, checkpointEvery: 20});
    const h = await b.submit(spec);
    await until(async () => (await b.readEvents(h, 0)).lines.some((l) => l.includes('"checkpoint"')), 90_000, 'a checkpoint');
    const jobId = String(h.state.jobId);
    execFileSync('scontrol', ['requeue', jobId]);
    // Slurm holds a requeued job for a while (BeginTime); release it at once for the test.
    await until(async () => {
      const st = await b.status(h);
      return st.state === 'queued' ? st : undefined;
    }, 30_000, 'the job to be pending again');
    execFileSync('scontrol', ['update', `JobId=${jobId}`, 'StartTime=now']);
    const st = await waitExit(b, h, 180_000);
    expect(st.detail).toBe('Slurm COMPLETED');
    const events = (await b.readEvents(h, 0)).lines.map((l) => JSON.parse(l));
    const starts = events.filter((e) => e.type === 'status' && e.status === 'running');
    expect(starts).toHaveLength(2);
    expect(starts[1].start_step).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({type: 'status', status: 'succeeded'});
    expect(readFileSync(path.join(spec.runDir, 'logs', 'job.log'), 'utf8')).toContain('restart 1: resuming from step-');
  });

  it.skipIf(Boolean(sshUnavailable()))('submits through a login node over ssh, syncing inputs there and fetching the model back', async () => {
    const s = services().ssh;
    const workdir = tempDir('llmops-slurm-login-');
    const b = backendFor(project.root, {login: s.host, port: s.port, identity_file: s.identity_file, ssh_options: [`UserKnownHostsFile=${s.known_hosts}`], workdir});
    await b.check();
    const spec = trainerRunSpec(project, 'r-slurm-login', {maxSteps: 6});
    const h = await b.submit(spec);
    expect(h.state.clusterRunDir).toBe(path.join(workdir, 'r-slurm-login'));
    const st = await waitExit(b, h);
    expect(st.exitCode).toBe(0);
    const events = (await b.readEvents(h, 0)).lines.map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === 'artifact' && e.kind === 'model').path).toBe(path.join(spec.runDir, 'model'));
    await b.fetchArtifacts(h, spec);
    expect(existsSync(path.join(spec.runDir, 'model', 'onnx', 'model.onnx'))).toBe(true);
    writeFileSync(path.join(workdir, 'done'), '');
  });
});
