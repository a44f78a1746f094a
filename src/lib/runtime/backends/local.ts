/**
 * The local backend: the run is a process group on this machine, started by the supervisor.
 *
 * The run's stdout and stderr go straight to logs/run.log (a file, never a pipe: a supervisor that
 * dies takes no reader with it, so the trainer never meets EPIPE and outlives it). A small `sh`
 * leads the group, waits for the command and writes exit.json with its exit code or signal, so
 * whoever supervises the run next (a restarted supervisor, a reconcile) knows how it ended. The
 * handle records the leader's pid and start time; a recycled pid is not mistaken for the run.
 */
import {accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {environmentError} from '../../errors.js';
import {priceBackend} from '../../cost/prices.js';
import type {Backend, BackendHandle, BackendStatus, Pricing, RunSpec} from '../backend.js';
import {spawnDetached, type DetachedProcess} from '../../system/exec.js';
import {groupRunning, hostIdentity, processStartTime, processState} from '../../system/host.js';
import {sampleGpus} from '../gpu.js';
import {runPaths} from '../paths.js';
import {groupAlive, signalGroup} from '../../system/process.js';
import {readLinesFrom, readTextFrom} from '../../system/tail.js';

// The group leader: ignores HUP, lets the command take TERM/INT (the trap runs after it ends), then
// records how the command ended. $? is 128+N for a command killed by signal N.
const WRAPPER = [
  'trap "" HUP',
  'trap ":" TERM INT',
  '"$@"',
  'rc=$?',
  'sig=null',
  'if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then sig="\\"SIG$(kill -l $((rc - 128)))\\""; code=null; else code=$rc; fi',
  'printf \'{"exitCode":%s,"signal":%s,"ts":"%s"}\\n\' "$code" "$sig" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" > "$LLMOPS_EXIT_FILE.tmp" && mv "$LLMOPS_EXIT_FILE.tmp" "$LLMOPS_EXIT_FILE"',
  'exit $rc',
].join('\n');

function findExecutable(file: string, envPath: string | undefined): boolean {
  const candidates = file.includes('/') ? [file] : (envPath ?? '').split(':').filter(Boolean).map((d) => path.join(d, file));
  return candidates.some((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

interface LocalState extends Record<string, unknown> {
  pid: number;
  runDir: string;
  /** Start time of the group leader (processStartTime), with the host it runs on. */
  pidStart?: string;
  host?: string;
  bootId?: string;
  pidNs?: string;
}

function readExit(file: string): ExitInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ExitInfo;
  } catch {
    return undefined;
  }
}

interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  error?: string;
  ts: string;
}

export class LocalBackend implements Backend {
  readonly type = 'local' as const;
  private readonly children = new Map<number, {proc: DetachedProcess; done?: ExitInfo; flushed: Promise<void>}>();

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
    const [file, ...args] = spec.command;
    if (!file) throw environmentError('The run has no command to start.');
    const env = {
      ...process.env,
      ...spec.env,
      LLMOPS_EVENTS: paths.events,
      LLMOPS_RUN_ID: spec.runId,
      LLMOPS_RUN_DIR: spec.runDir,
      LLMOPS_EXIT_FILE: paths.exit,
      // Written to a file, Python would otherwise buffer its output in 8 KB blocks.
      PYTHONUNBUFFERED: '1',
    };
    if (!findExecutable(file, (env as NodeJS.ProcessEnv).PATH)) {
      writeFileSync(paths.log, `${new Date().toISOString()} [llmops] could not start ${file}: not found or not executable\n`, {flag: 'a'});
      throw environmentError(`Could not start \`${file}\`: not found or not executable.`, {
        fix: file.includes('python')
          ? 'Try this: set `python:` in llmops.yaml to an interpreter with torch (e.g. /usr/bin/python3); `llmops doctor` checks it.'
          : 'Try this: check that the command exists and is executable (use an absolute path or one on PATH).',
      });
    }
    const proc = spawnDetached('/bin/sh', ['-c', WRAPPER, 'llmops-run', file, ...args], {cwd: spec.projectRoot, logFile: paths.log, env});
    if (!proc.pid) throw environmentError(`Could not start \`${file}\` under /bin/sh.`);
    const entry: {proc: DetachedProcess; done?: ExitInfo; flushed: Promise<void>} = {proc, flushed: Promise.resolve()};
    entry.flushed = proc.exited.then((r) => {
      // The wrapper wrote exit.json unless it was killed itself (kill -9 of the group): then we do.
      const written = readExit(paths.exit);
      const info: ExitInfo = written ?? {exitCode: r.exitCode, signal: r.signal, ...(r.error ? {error: r.error} : {}), ts: new Date().toISOString()};
      if (!written) writeFileSync(paths.exit, JSON.stringify(info) + '\n');
      entry.done = info;
    });
    this.children.set(proc.pid, entry);
    const me = hostIdentity();
    const state: LocalState = {pid: proc.pid, runDir: spec.runDir, pidStart: processStartTime(proc.pid) ?? 'unknown', host: me.host, bootId: me.bootId, pidNs: me.pidNs};
    return {ref: String(proc.pid), state};
  }

  async status(handle: BackendHandle): Promise<BackendStatus> {
    const st = handle.state as LocalState;
    const {pid, runDir} = st;
    const child = this.children.get(pid);
    if (child) {
      if (!child.done) return {state: 'running'};
      return {state: 'exited', exitCode: child.done.exitCode, signal: child.done.signal, detail: child.done.error};
    }
    // Not our child (a supervisor that took the run over): exit.json, else the leader's pid + start time.
    const info = readExit(runPaths(runDir).exit);
    if (info) {
      return {state: 'exited', exitCode: info.exitCode, signal: info.signal, detail: info.error};
    }
    const alive = localRunState(st);
    if (alive === 'alive') return {state: 'running'};
    if (alive === 'unknown') return {state: 'unknown'};
    return {state: 'exited', exitCode: null, signal: null, detail: 'process gone; its exit status was not recorded (killed with its process group?)'};
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
    const st = handle.state as LocalState;
    // Never signal a recycled pid's group.
    if (localRunState(st) !== 'gone') signalGroup(st.pid, opts.graceful ? 'SIGTERM' : 'SIGKILL');
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

/**
 * Whether a local run's process group still runs: its leader by pid and start time where we can see
 * it (same host, boot and pid namespace), else 'unknown'. Handles from before start times were
 * recorded fall back to the group check.
 */
export function localRunState(st: {pid: number; pidStart?: string; host?: string; bootId?: string; pidNs?: string}): 'alive' | 'gone' | 'unknown' {
  if (!st.pidStart || !st.host || st.pidStart === 'unknown') return groupAlive(st.pid) ? 'alive' : 'gone';
  const leader = processState({host: st.host, boot_id: st.bootId ?? '', pid_ns: st.pidNs ?? '', pid: st.pid, pid_start: st.pidStart});
  // The leader gone but members left (it was killed alone): the group still runs.
  if (leader === 'gone' && (groupRunning(st.pid) ?? groupAlive(st.pid))) return 'alive';
  return leader;
}

export default LocalBackend;
