/**
 * Shared set-up for the remote-backend tests: the services that `.ci/services/start.sh` runs on
 * loopback (sshd on :2222, a one-node Slurm with fake GPUs), and a small project with the real
 * trainer and a prepared dataset.
 */
import {execFileSync} from 'node:child_process';
import {cpSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {RunSpec} from '../../src/lib/runtime/backend.js';
import {sshOptions, type SshTarget} from '../../src/lib/system/ssh.js';
import {spawnSync} from 'node:child_process';
import {PYTHON, REPO_ROOT, tempDir} from '../helpers/cli.js';

export interface Services {
  ssh: {host: string; port: number; identity_file: string; known_hosts: string};
  slurm: {partition: string; gpus: number; gpu_type: string; conf: string};
}

const DIR = process.env.LLMOPS_SERVICES_DIR ?? '/tmp/llmops-services';

function readServices(): Services | undefined {
  const file = path.join(DIR, 'services.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as Services;
}

/** Why the ssh tests cannot run here, or undefined when sshd answers. */
export function sshUnavailable(): string | undefined {
  const s = readServices();
  if (!s) return `no ${DIR}/services.json: run .ci/services/start.sh`;
  try {
    execFileSync('ssh', ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${s.ssh.known_hosts}`, '-o', 'ControlMaster=no', '-i', s.ssh.identity_file, '-p', String(s.ssh.port), s.ssh.host, 'true'], {
      stdio: 'ignore',
      timeout: 10_000,
    });
    return undefined;
  } catch {
    return `sshd on 127.0.0.1:${s.ssh.port} does not answer: run .ci/services/start.sh`;
  }
}

/** Why the Slurm tests cannot run here, or undefined when the cluster answers. */
export function slurmUnavailable(): string | undefined {
  const s = readServices();
  if (!s) return `no ${DIR}/services.json: run .ci/services/start.sh`;
  try {
    const out = execFileSync('sinfo', ['-h', '-N', '-o', '%T'], {encoding: 'utf8', timeout: 10_000});
    if (!/idle|mixed|allocated|completing/.test(out)) return `the Slurm node is not up (${out.trim()}): run .ci/services/start.sh`;
    return undefined;
  } catch {
    return 'slurmctld does not answer: run .ci/services/start.sh';
  }
}

export const services = (): Services => readServices()!;

/** The ssh backend block for llmops.yaml pointing at the loopback sshd. */
export function sshBackendConfig(workdir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const s = services().ssh;
  return {
    type: 'ssh',
    host: s.host,
    port: s.port,
    identity_file: s.identity_file,
    workdir,
    python: PYTHON,
    ssh_options: [`UserKnownHostsFile=${s.known_hosts}`],
    ...extra,
  };
}

export interface Project {
  root: string;
  trainerDir: string;
  datasetDir: string;
  datasetId: string;
}

/** A project with the real trainer and a small prepared text dataset (train.jsonl / val.jsonl). */
export function makeProject(prefix = 'llmops-remote-'): Project {
  const root = tempDir(prefix);
  const trainerDir = path.join(root, 'trainer');
  cpSync(path.join(REPO_ROOT, 'templates', 'trainer'), trainerDir, {recursive: true});
  const datasetId = `ds-${path.basename(root).slice(-8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  const datasetDir = path.join(root, 'data', 'prepared');
  mkdirSync(datasetDir, {recursive: true});
  const words = ['the', 'model', 'learns', 'small', 'words', 'from', 'a', 'tiny', 'corpus', 'of', 'text', 'lines'];
  const line = (i: number) => Array.from({length: 12}, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ');
  const rows = (n: number, off: number) => Array.from({length: n}, (_, i) => JSON.stringify({id: `r${off + i}`, text: line(off + i)})).join('\n') + '\n';
  writeFileSync(path.join(datasetDir, 'train.jsonl'), rows(200, 0));
  writeFileSync(path.join(datasetDir, 'val.jsonl'), rows(20, 1000));
  // A file that must never travel to a remote host.
  mkdirSync(path.join(root, '.llmops'), {recursive: true});
  writeFileSync(path.join(root, '.llmops', 'secret.txt'), 'do-not-sync\n');
  return {root, trainerDir, datasetDir, datasetId};
}

/** Micro model settings: the behaviour under test does not need the real tiny preset's size. */
export const MICRO = {n_layer: 1, n_head: 2, n_embd: 32, batch_size: 4, context: 32, log_every: 2, warmup_steps: 2};

/** A RunSpec as the runtime builds it for our trainer (used by the src/lib-level tests). */
export function trainerRunSpec(p: Project, runId: string, opts: {maxSteps?: number; overrides?: Record<string, unknown>; checkpointEvery?: number} = {}): RunSpec {
  const runDir = path.join(p.root, '.llmops', 'runs', runId);
  mkdirSync(runDir, {recursive: true});
  const trainerSpec = {
    version: 1,
    run_id: runId,
    kind: 'train',
    run_dir: runDir,
    dataset: {id: p.datasetId, dir: p.datasetDir},
    preset: 'tiny',
    max_steps: opts.maxSteps ?? 20,
    seed: 1,
    overrides: opts.overrides ?? MICRO,
    eval_every: null,
    checkpoint_every: opts.checkpointEvery ?? null,
    resume_from: null,
    finetune: null,
    tokenizer: 'byte',
    export: true,
    threads: 1,
  };
  writeFileSync(path.join(runDir, 'spec.json'), JSON.stringify(trainerSpec, null, 2));
  return {
    runId,
    kind: 'train',
    runDir,
    projectRoot: p.root,
    command: [PYTHON, path.join(p.trainerDir, 'train.py'), '--spec', path.join(runDir, 'spec.json')],
    env: {},
    passEnv: ['LLMOPS_TEST_SECRET'],
    inputs: [
      {local: p.trainerDir, kind: 'trainer'},
      {local: p.datasetDir, kind: 'dataset', id: p.datasetId},
    ],
    trainerSpec,
    gpus: 0,
  };
}

export async function until<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The pid of the shared ControlMaster connection to a host (to kill it: a dropped link). */
export function sshMasterPid(t: SshTarget): number | undefined {
  const r = spawnSync('ssh', [...sshOptions(t), '-O', 'check', t.host], {encoding: 'utf8', timeout: 10_000});
  const m = /pid=(\d+)/.exec(r.stderr ?? '');
  return m ? Number(m[1]) : undefined;
}
