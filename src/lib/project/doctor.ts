/**
 * `llmops doctor`: what this machine has for the configured project, and the exact fix for what
 * it lacks. A check is `required` when the configured backends need it; only required failures
 * make doctor exit non-zero.
 */
import {existsSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {LATEST_SCHEMA_VERSION} from '../ledger/migrations.js';
import {probe} from '../system/exec.js';
import {describePython} from './python.js';

export interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
  /** Shell commands that would install what is missing on this platform (apt on Debian/Ubuntu). */
  install: string[];
}

const APT = '/usr/bin/apt-get';

export async function runDoctor(loaded: LoadedConfig, ledgerFile: string): Promise<DoctorReport> {
  const {config} = loaded;
  const types = new Set(Object.values(config.backends).map((b) => b.type));
  const needsLocal = !config.backends.local || config.backends.local.type === 'local';
  const checks: Check[] = [];
  const apt: Set<string> = new Set();
  const hasApt = existsSync(APT);

  const major = Number(process.versions.node.split('.')[0]);
  checks.push({
    name: 'node',
    ok: major >= 20,
    required: true,
    detail: `Node.js ${process.versions.node}`,
    fix: major >= 20 ? undefined : 'Install Node.js 20 or newer (https://nodejs.org).',
  });

  const py = await describePython(config.python);
  const pyFix = hasApt
    ? 'apt-get install -y python3 python3-torch python3-onnx libopenblas0-pthread, then set `python: /usr/bin/python3` in llmops.yaml'
    : 'python3 -m venv .venv && .venv/bin/pip install torch onnx, then set `python: .venv/bin/python` in llmops.yaml';
  checks.push({
    name: 'python',
    ok: py.found,
    required: needsLocal,
    detail: py.found ? `${config.python}: Python ${py.version}` : `${config.python}: ${py.error ?? 'not found'}`,
    fix: py.found ? undefined : pyFix,
  });
  if (!py.found && hasApt) apt.add('python3');
  checks.push({
    name: 'torch',
    ok: Boolean(py.torch),
    required: needsLocal,
    detail: py.torch ? `torch ${py.torch}${py.cuda ? ` (CUDA ${py.cuda}, ${py.gpuCount} GPU)` : ' (CPU)'}` : `not importable by ${config.python}`,
    fix: py.torch ? undefined : pyFix,
  });
  if (!py.torch && hasApt) {
    apt.add('python3-torch');
    apt.add('python3-onnx');
    apt.add('libopenblas0-pthread');
  }

  const smi = await probe('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], {timeoutMs: 10_000});
  const gpus = smi.ok ? smi.stdout.trim().split('\n').filter(Boolean) : [];
  checks.push({
    name: 'gpu',
    ok: gpus.length > 0,
    required: false,
    detail: gpus.length > 0 ? `${gpus.length} GPU: ${gpus.join('; ')}` : 'no NVIDIA GPU (nvidia-smi not found): training runs on the CPU',
  });

  for (const [bin, args, why, pkg, needed] of [
    ['ssh', ['-V'], 'ssh backends and remote deploys', 'openssh-client', types.has('ssh') || hasSlurmLogin(config)],
    ['rsync', ['--version'], 'syncing code and data to ssh hosts', 'rsync', types.has('ssh') || hasSlurmLogin(config)],
    ['sbatch', ['--version'], 'Slurm backends', 'slurm-client', types.has('slurm') && !hasSlurmLogin(config)],
    ['squeue', ['--version'], 'Slurm backends', 'slurm-client', types.has('slurm') && !hasSlurmLogin(config)],
    ['kubectl', ['version', '--client'], 'Kubernetes backends', 'kubectl', types.has('kubernetes')],
    ['docker', ['--version'], 'docker backends and images (or podman)', 'docker.io', types.has('docker')],
  ] as const) {
    const r = await probe(bin, [...args], {timeoutMs: 10_000});
    const first = (r.stdout || r.stderr).trim().split('\n')[0] ?? '';
    const ok = !r.missing && (r.ok || first.length > 0);
    checks.push({
      name: bin,
      ok,
      required: needed,
      detail: ok ? first.slice(0, 80) : `not found (needed for ${why})`,
      fix: ok ? undefined : hasApt && pkg !== 'kubectl' ? `apt-get install -y ${pkg}` : `install ${bin} (${why})`,
    });
    if (!ok && needed && hasApt && pkg !== 'kubectl') apt.add(pkg);
  }

  const require = createRequire(import.meta.url);
  let ort = '';
  try {
    ort = (require('onnxruntime-node/package.json') as {version: string}).version;
  } catch {
    /* reported below */
  }
  checks.push({
    name: 'onnxruntime',
    ok: Boolean(ort),
    required: false,
    detail: ort ? `onnxruntime-node ${ort}` : 'onnxruntime-node is not installed (needed by llmops deploy)',
    fix: ort ? undefined : 'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node',
  });

  checks.push(await ledgerCheck(ledgerFile));

  const ok = checks.every((c) => c.ok || !c.required);
  const install = apt.size > 0 ? ['apt-get update', `apt-get install -y ${[...apt].join(' ')}`] : [];
  return {ok, checks, install};
}

function hasSlurmLogin(config: LoadedConfig['config']): boolean {
  return Object.values(config.backends).some((b) => b.type === 'slurm' && Boolean(b.login));
}

async function ledgerCheck(file: string): Promise<Check> {
  if (!existsSync(file)) {
    return {name: 'ledger', ok: true, required: true, detail: `${file} (not created yet; the first command that records creates it)`};
  }
  try {
    const {Ledger} = await import('../ledger/ledger.js');
    const l = Ledger.open(file, {readonly: true});
    const v = l.schemaVersion();
    const runs = l.countRuns();
    l.close();
    return {name: 'ledger', ok: true, required: true, detail: `${path.relative(process.cwd(), file) || file}: schema ${v}/${LATEST_SCHEMA_VERSION}, ${runs} runs`};
  } catch (error) {
    const e = error as {message: string; fix?: string};
    return {name: 'ledger', ok: false, required: true, detail: e.message, fix: e.fix?.replace(/^Try this: /, '')};
  }
}
