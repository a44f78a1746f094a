/**
 * The docker backend: the run's process is `docker run` of the trainer image on this machine,
 * started and followed exactly as the local backend follows a process (the supervisor reads its
 * output into logs/run.log, exit.json records how it ended). The run folder is mounted at the same
 * path in the container, so events.jsonl, checkpoints and the exported model land where a local
 * run puts them; the dataset (and a fine-tune's base model, a resumed run's checkpoint, a
 * tokenizer file) are mounted read-only. The container runs as the run folder's owner.
 *
 * The trainer is the image's own (/opt/llmops/trainer/train.py), which is the point: the
 * environment is pinned by the image, not by this machine's Python.
 */
import {existsSync, readFileSync, statSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {priceBackend} from '../../cost/prices.js';
import {environmentError, usageError} from '../../errors.js';
import {containerState, engineCapture, findEngine, imageExists} from '../../image/engine.js';
import {packageRoot} from '../../util/package-root.js';
import type {Backend, BackendHandle, BackendStatus, Pricing, RunSpec} from '../backend.js';
import {sampleGpus} from '../gpu.js';
import {runPaths} from '../paths.js';
import {LocalBackend} from './local.js';

type DockerConfig = Extract<BackendConfig, {type: 'docker'}>;

interface DockerState extends Record<string, unknown> {
  pid: number;
  runDir: string;
  container: string;
  engine: 'docker' | 'podman';
}

/** Where the trainer image keeps the trainer (templates/docker/trainer.Dockerfile). */
const IMAGE_TRAINER = '/opt/llmops/trainer/train.py';

/** `llmops image build --target trainer`'s default tag for this llmops. */
export function defaultTrainerImage(): string {
  const {version} = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {version: string};
  return `llmops-trainer:${version}`;
}

export class DockerBackend implements Backend {
  readonly type = 'docker' as const;
  private readonly config: DockerConfig;
  private readonly local: LocalBackend;

  constructor(
    readonly name: string,
    config: BackendConfig,
    private readonly loaded: LoadedConfig,
  ) {
    if (config.type !== 'docker') throw usageError(`Backend "${name}" is not a docker backend.`);
    this.config = config;
    this.local = new LocalBackend(name, {type: 'local'}, loaded);
  }

  get image(): string {
    return this.config.image ?? defaultTrainerImage();
  }

  async check(): Promise<void> {
    const engine = await findEngine();
    if (!(await imageExists(engine, this.image))) {
      throw environmentError(`Backend ${this.name}: the trainer image ${this.image} is not on this machine.`, {
        fix: `Try this: llmops image build --target trainer${this.config.image ? ` --tag ${this.config.image}` : ''} (with --base for a CUDA image), or set backends.${this.name}.image.`,
      });
    }
  }

  async submit(spec: RunSpec): Promise<BackendHandle> {
    await this.check();
    const engine = await findEngine();
    const container = `llmops-${spec.runId}`;
    const args = this.runArgs(spec, container);
    const handle = await this.local.submit({...spec, command: [engine.bin, ...args], env: {}});
    const state: DockerState = {...(handle.state as {pid: number; runDir: string}), container, engine: engine.bin};
    return {ref: handle.ref, state};
  }

  /** `docker run` arguments: mounts, environment, GPUs, then the trainer's own arguments. */
  runArgs(spec: RunSpec, container: string): string[] {
    const paths = runPaths(spec.runDir);
    const owner = statSync(spec.runDir);
    const args = [
      'run', '--rm', '--init', '--name', container,
      '--label', 'dev.llmops.kind=run', '--label', `dev.llmops.run=${spec.runId}`,
      '--user', `${owner.uid}:${owner.gid}`,
      '--volume', `${spec.runDir}:${spec.runDir}`,
    ];
    const mounted = new Set<string>([spec.runDir]);
    const mountRo = (p: string) => {
      const abs = path.resolve(spec.projectRoot, p);
      if (!existsSync(abs) || [...mounted].some((m) => abs === m || abs.startsWith(m + path.sep))) return;
      mounted.add(abs);
      args.push('--volume', `${abs}:${abs}:ro`);
    };
    for (const input of spec.inputs) if (input.kind !== 'trainer') mountRo(input.local);
    const tokenizer = spec.trainerSpec?.tokenizer;
    if (typeof tokenizer === 'string' && tokenizer !== 'byte') mountRo(tokenizer);
    const env: Record<string, string> = {
      ...spec.env,
      HOME: '/tmp',
      LLMOPS_EVENTS: paths.events,
      LLMOPS_RUN_ID: spec.runId,
      LLMOPS_RUN_DIR: spec.runDir,
      PYTHONUNBUFFERED: '1',
    };
    for (const [k, v] of Object.entries(env)) args.push('--env', `${k}=${v}`);
    // By name: the value comes from the CLI's environment and is on no command line (HF_TOKEN).
    for (const k of spec.passEnv) if (process.env[k]) args.push('--env', k);
    const gpus = this.config.gpus?.count ?? 0;
    if (gpus > 0) args.push('--gpus', String(gpus), '--shm-size', '2g');
    if (spec.trainerSpec) {
      // Our trainer: the image's, with the arguments the local backend would give the script.
      args.push(this.image, ...spec.command.slice(2));
    } else {
      // A brought-your-own command runs in the project folder, mounted at its own path.
      mountRo(spec.projectRoot);
      const [file, ...rest] = spec.command;
      args.push('--workdir', spec.projectRoot, '--entrypoint', file!, this.image, ...rest);
    }
    return args;
  }

  async status(handle: BackendHandle): Promise<BackendStatus> {
    const s = await this.local.status(handle);
    if (s.state !== 'exited') return s;
    // `docker run` exits 128+N when the trainer died of signal N (137: SIGKILL, 143: SIGTERM).
    const code = s.exitCode ?? null;
    if (code !== null && code > 128 && code <= 128 + 31 && !s.signal) {
      const {constants} = await import('node:os');
      const name = Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0];
      if (name) return {...s, exitCode: null, signal: name, detail: s.detail ?? `the container's process was killed by ${name}`};
    }
    return s;
  }

  async waitExit(handle: BackendHandle): Promise<void> {
    await this.local.waitExit(handle);
  }

  readEvents(handle: BackendHandle, offset: number): Promise<{lines: string[]; offset: number}> {
    return this.local.readEvents(handle, offset);
  }

  readLog(handle: BackendHandle, offset: number): Promise<{text: string; offset: number}> {
    return this.local.readLog(handle, offset);
  }

  /** Signals go to the container (docker kill), which --init passes on to the trainer. */
  async stop(handle: BackendHandle, opts: {graceful: boolean}): Promise<void> {
    const {container} = handle.state as DockerState;
    const engine = await findEngine();
    if (await containerState(engine, container)) {
      await engineCapture(engine, ['kill', '--signal', opts.graceful ? 'TERM' : 'KILL', container], 30_000);
    }
    if (!opts.graceful) await this.local.stop(handle, {graceful: false});
  }

  async fetchArtifacts(): Promise<void> {
    // The run folder is mounted: everything is already here.
  }

  pricing(): Pricing {
    return priceBackend(this.config, this.loaded.config.pricing);
  }

  async sampleGpus(): Promise<Array<{index: number; name: string; utilPct: number; memMb: number; powerW: number}>> {
    return (this.config.gpus?.count ?? 0) > 0 ? sampleGpus() : [];
  }
}

export default DockerBackend;
