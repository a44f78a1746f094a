/**
 * The local backend: the run is a process group on this machine, started by the supervisor.
 *
 * The supervisor reads the process's stdout and stderr and writes them to logs/run.log with a
 * timestamp per line. When the process exits, exit.json records its exit code and signal, so a
 * later reconcile (in another process) still knows how it ended.
 */
import {createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync, type WriteStream} from 'node:fs';
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {environmentError} from '../../errors.js';
import {priceBackend} from '../../cost/prices.js';
import type {Backend, BackendHandle, BackendStatus, Pricing, RunSpec} from '../backend.js';
import {spawnGroup, type SpawnedProcess} from '../../system/exec.js';
import {sampleGpus} from '../gpu.js';
import {runPaths} from '../paths.js';
import {groupAlive, isAlive, signalGroup} from '../../system/process.js';
import {readLinesFrom, readTextFrom} from '../../system/tail.js';


interface LocalState extends Record<string, unknown> {
  pid: number;
  runDir: string;
}

interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  error?: string;
  ts: string;
}

export class LocalBackend implements Backend {
  readonly type = 'local' as const;
  private readonly children = new Map<number, {proc: SpawnedProcess; done?: ExitInfo; log: WriteStream; flushed: Promise<void>}>();

  constructor(
    readonly name: string,
    private readonly config: BackendConfig,
    private readonly loaded: LoadedConfig,
  ) {}

  async check(): Promise<void> {
    // Nothing to check for a local process: a missing interpreter is reported by submit().
  }

  async submit(spec: RunSpec): Promise<BackendHandle> {
    const paths = runPaths(spec.runDir);
    mkdirSync(paths.logsDir, {recursive: true});
    if (!existsSync(paths.events)) writeFileSync(paths.events, '');
    const log = createWriteStream(paths.log, {flags: 'a'});
    const [file, ...args] = spec.command;
    if (!file) throw environmentError('The run has no command to start.');
    let proc: SpawnedProcess;
    try {
      proc = await spawnGroup(file, args, {
        cwd: spec.projectRoot,
        env: {
          ...spec.env,
          LLMOPS_EVENTS: paths.events,
          LLMOPS_RUN_ID: spec.runId,
          LLMOPS_RUN_DIR: spec.runDir,
          // Python buffers a pipe's output in 8 KB blocks: the log would lag minutes behind.
          PYTHONUNBUFFERED: '1',
        },
      });
    } catch (error) {
      log.end(`${new Date().toISOString()} [llmops] could not start ${file}: ${(error as Error).message}\n`);
      throw environmentError(`Could not start \`${file}\`: ${(error as Error).message}`, {
        fix: file.includes('python')
          ? 'Try this: set `python:` in llmops.yaml to an interpreter with torch (e.g. /usr/bin/python3); `llmops doctor` checks it.'
          : 'Try this: check that the command exists and is executable (use an absolute path or one on PATH).',
      });
    }
    proc.onLine((line, stream) => {
      log.write(`${new Date().toISOString()} ${stream === 'stderr' ? 'E ' : ''}${line}\n`);
    });
    const entry: {proc: SpawnedProcess; done?: ExitInfo; log: WriteStream; flushed: Promise<void>} = {
      proc,
      log,
      flushed: Promise.resolve(),
    };
    entry.flushed = proc.exited.then(async (r) => {
      const info: ExitInfo = {exitCode: r.exitCode, signal: r.signal, ...(r.error ? {error: r.error} : {}), ts: new Date().toISOString()};
      await new Promise<void>((resolve) => log.end(resolve));
      writeFileSync(paths.exit, JSON.stringify(info) + '\n');
      entry.done = info;
    });
    this.children.set(proc.pid, entry);
    const state: LocalState = {pid: proc.pid, runDir: spec.runDir};
    return {ref: String(proc.pid), state};
  }

  async status(handle: BackendHandle): Promise<BackendStatus> {
    const {pid, runDir} = handle.state as LocalState;
    const child = this.children.get(pid);
    if (child) {
      if (!child.done) return {state: 'running'};
      return {state: 'exited', exitCode: child.done.exitCode, signal: child.done.signal, detail: child.done.error};
    }
    // Not our child (another CLI process, after a restart): the group and exit.json tell us.
    if (isAlive(pid) || groupAlive(pid)) return {state: 'running'};
    const exitFile = runPaths(runDir).exit;
    if (existsSync(exitFile)) {
      const info = JSON.parse(readFileSync(exitFile, 'utf8')) as ExitInfo;
      return {state: 'exited', exitCode: info.exitCode, signal: info.signal, detail: info.error};
    }
    return {state: 'exited', exitCode: null, signal: null, detail: 'process gone; its exit status was not recorded'};
  }

  /** Settles once the process has exited and its log is flushed (the supervisor waits on it). */
  async waitExit(handle: BackendHandle): Promise<void> {
    const child = this.children.get((handle.state as LocalState).pid);
    if (child) await child.flushed;
  }

  async readEvents(handle: BackendHandle, offset: number): Promise<{lines: string[]; offset: number}> {
    return readLinesFrom(runPaths((handle.state as LocalState).runDir).events, offset);
  }

  async readLog(handle: BackendHandle, offset: number): Promise<{text: string; offset: number}> {
    return readTextFrom(runPaths((handle.state as LocalState).runDir).log, offset);
  }

  async stop(handle: BackendHandle, opts: {graceful: boolean}): Promise<void> {
    const {pid} = handle.state as LocalState;
    signalGroup(pid, opts.graceful ? 'SIGTERM' : 'SIGKILL');
  }

  async fetchArtifacts(): Promise<void> {
    // The run dir is already local.
  }

  pricing(): Pricing {
    return priceBackend(this.config, this.loaded.config.pricing);
  }

  async sampleGpus(): Promise<Array<{index: number; name: string; utilPct: number; memMb: number; powerW: number}>> {
    if (this.config.type === 'local' && this.config.gpus === undefined && !process.env.CUDA_VISIBLE_DEVICES && !existsSync('/dev/nvidiactl')) {
      return [];
    }
    return sampleGpus();
  }
}

export default LocalBackend;
