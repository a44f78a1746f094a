/**
 * `llmops doctor`: what this machine has for the configured project, and the exact fix for what
 * it lacks. A check is `required` when the configured backends need it; only required failures
 * make doctor exit non-zero.
 */
import {existsSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {LATEST_SCHEMA_VERSION} from '../ledger/migrations.js';
import {probe} from '../system/exec.js';
import {NATIVE_FAMILIES} from '../runtime/sft-tokens.js';
import {probeVerdict} from './probe-output.js';
import {describePython, type PythonInfo} from './python.js';

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

  const hfBase = huggingFaceBase(loaded);
  const py = await describePython(config.python, {hf: Boolean(hfBase)});
  const pyFix = hasApt
    ? 'apt-get install -y python3 python3-torch python3-onnx libopenblas0-pthread, then set `python: /usr/bin/python3` in llmops.yaml'
    : 'python3 -m venv .venv && .venv/bin/pip install torch onnx, then set `python: .venv/bin/python` in llmops.yaml';
  checks.push(...pythonChecks(config.python, py, pyFix, needsLocal));
  if (!py.found && hasApt) apt.add('python3');
  if (!py.torch && hasApt) {
    apt.add('python3-torch');
    apt.add('python3-onnx');
    apt.add('libopenblas0-pthread');
  }
  if (hfBase) checks.push(...huggingFaceChecks(config.python, py, hfBase));

  checks.push(await gpuCheck());
  checks.push(...(await toolChecks(config, hasApt, apt)));
  checks.push(onnxruntimeCheck());
  checks.push(await ledgerCheck(ledgerFile));

  const ok = checks.every((c) => c.ok || !c.required);
  const install = apt.size > 0 ? ['apt-get update', `apt-get install -y ${[...apt].join(' ')}`] : [];
  return {ok, checks, install};
}

/** nvidia-smi's GPUs; never required (training falls back to the CPU). */
async function gpuCheck(): Promise<Check> {
  const smi = await probe('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], {timeoutMs: 10_000});
  const smiVerdict = probeVerdict(smi);
  const gpus = smiVerdict.ok ? smi.stdout.trim().split('\n').filter(Boolean) : [];
  return {
    name: 'gpu',
    ok: gpus.length > 0,
    required: false,
    detail:
      gpus.length > 0
        ? `${gpus.length} GPU: ${gpus.join('; ')}`
        : smi.missing
          ? 'no NVIDIA GPU (nvidia-smi not found): training runs on the CPU'
          : `no usable NVIDIA GPU (nvidia-smi ${smiVerdict.ok ? 'listed none' : smiVerdict.detail}): training runs on the CPU`,
  };
}

/** ssh, rsync, Slurm, kubectl and docker: required when a configured backend uses them. */
async function toolChecks(config: LoadedConfig['config'], hasApt: boolean, apt: Set<string>): Promise<Check[]> {
  const types = new Set(Object.values(config.backends).map((b) => b.type));
  const checks: Check[] = [];
  for (const [bin, args, why, pkg, needed] of [
    ['ssh', ['-V'], 'ssh backends and remote deploys', 'openssh-client', types.has('ssh') || hasSlurmLogin(config)],
    ['rsync', ['--version'], 'syncing code and data to ssh hosts', 'rsync', types.has('ssh') || hasSlurmLogin(config)],
    ['sbatch', ['--version'], 'Slurm backends', 'slurm-client', types.has('slurm') && !hasSlurmLogin(config)],
    ['squeue', ['--version'], 'Slurm backends', 'slurm-client', types.has('slurm') && !hasSlurmLogin(config)],
    ['kubectl', ['version', '--client'], 'Kubernetes backends', 'kubectl', types.has('kubernetes')],
    ['docker', ['--version'], 'docker backends and images (or podman)', 'docker.io', types.has('docker')],
  ] as const) {
    const r = await probe(bin, [...args], {timeoutMs: 10_000});
    const {ok, detail} = probeVerdict(r);
    checks.push({
      name: bin,
      ok,
      required: needed,
      detail: ok ? detail.slice(0, 80) : r.missing ? `not found (needed for ${why})` : `\`${bin} ${args.join(' ')}\`: ${detail} (needed for ${why})`,
      fix: ok ? undefined : !r.missing ? `run \`${bin} ${args.join(' ')}\` to see the whole message, and fix what it names` : hasApt && pkg !== 'kubectl' ? `apt-get install -y ${pkg}` : `install ${bin} (${why})`,
    });
    // A program that is there but reports an error is not fixed by installing it again.
    if (!ok && r.missing && needed && hasApt && pkg !== 'kubectl') apt.add(pkg);
  }
  return checks;
}

/** onnxruntime-node, which llmops deploy needs (optional here: training does not). */
function onnxruntimeCheck(): Check {
  const require = createRequire(import.meta.url);
  let ort = '';
  try {
    ort = (require('onnxruntime-node/package.json') as {version: string}).version;
  } catch {
    /* reported below */
  }
  return {
    name: 'onnxruntime',
    ok: Boolean(ort),
    required: false,
    detail: ort ? `onnxruntime-node ${ort}` : 'onnxruntime-node is not installed (needed by llmops deploy)',
    fix: ort ? undefined : 'ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node',
  };
}

/** python and torch: found, and nothing printed an error on the way (exit 0 is not enough). */
function pythonChecks(python: string, py: PythonInfo, pyFix: string, required: boolean): Check[] {
  const startup = py.printed?.startup;
  const pythonOk = py.found && !startup;
  const torchPrinted = py.printed?.torch;
  const torchOk = Boolean(py.torch) && !torchPrinted;
  const seeIt = (code: string) => `run \`${python} -c "${code}"\` to see the whole message, and fix what it names`;
  return [
    {
      name: 'python',
      ok: pythonOk,
      required,
      detail: !py.found
        ? `${python}: ${py.error ?? 'not found'}`
        : startup
          ? `${python}: Python ${py.version}, but it printed an error on start: ${startup}`
          : `${python}: Python ${py.version}`,
      fix: pythonOk ? undefined : py.found ? seeIt('pass') : pyFix,
    },
    {
      name: 'torch',
      ok: torchOk,
      required,
      detail: torchPrinted
        ? `import torch${py.torch ? ` (${py.torch})` : ''} printed an error: ${torchPrinted}`
        : py.torch
          ? `torch ${py.torch}${py.cuda ? ` (CUDA ${py.cuda}, ${py.gpuCount} GPU)` : ' (CPU)'}`
          : `not importable by ${python}${py.found && py.error ? ` (${py.error})` : ''}`,
      fix: torchOk ? undefined : torchPrinted ? `${seeIt('import torch')} (a NumPy or CUDA library built for another version is the usual cause)` : pyFix,
    },
  ];
}

/**
 * The Hugging Face base the project fine-tunes, when it names one: `finetune.base: hf:OWNER/NAME`
 * or a model folder with a config.json (a run id or llmops's own GPT export is not one).
 */
function huggingFaceBase(loaded: LoadedConfig): string | undefined {
  const base = loaded.config.finetune.base;
  if (!base) return undefined;
  if (base.startsWith('hf:')) return base;
  try {
    const cfg = JSON.parse(readFileSync(path.join(path.resolve(loaded.root, base), 'config.json'), 'utf8')) as {model_type?: unknown};
    return typeof cfg.model_type === 'string' && cfg.model_type !== 'llmops-gpt' ? base : undefined;
  } catch {
    return undefined; // a run id, llmops's own export, or a folder `llmops finetune` will complain about
  }
}

/**
 * transformers and peft, reported but never required: the trainer fine-tunes the common families
 * with its own plain-torch modules; only other families go through transformers (and peft for LoRA).
 */
function huggingFaceChecks(python: string, py: PythonInfo, base: string): Check[] {
  const why = `optional for ${base}: the trainer fine-tunes ${NATIVE_FAMILIES.join(', ')} bases with its own torch modules; other families need it`;
  return (['transformers', 'peft'] as const).map((name) => {
    const version = py[name];
    const printed = py.printed?.[name];
    const ok = Boolean(version) && !printed;
    return {
      name,
      ok,
      required: false,
      detail: printed
        ? `import ${name} printed an error: ${printed} (${why})`
        : version
          ? `${name} ${version} (${why})`
          : `not importable by ${python} (${why})`,
      fix: ok ? undefined : printed ? `run \`${python} -c "import ${name}"\` to see the whole message` : `${python} -m pip install ${name} (only for families outside ${NATIVE_FAMILIES.join(', ')})`,
    };
  });
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
