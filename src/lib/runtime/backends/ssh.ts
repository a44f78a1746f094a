/**
 * The SSH backend: a run on a machine we reach with the system `ssh` (a rented GPU box).
 *
 * submit() syncs the trainer, the dataset (once per id) and a spec.json with remote paths, then
 * starts launch.sh detached in its own session (setsid), so the run survives the connection. The
 * launcher records its pid (= process group) and, when the run's process ends, its exit code;
 * status() reads those over the shared ControlMaster connection. Events and logs are read by byte
 * offset, so a dropped connection or a restarted CLI resumes exactly where it stopped.
 */
import path from 'node:path';
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {priceBackend} from '../../cost/prices.js';
import {backendError, environmentError, usageError} from '../../errors.js';
import type {Backend, BackendHandle, BackendStatus, Pricing, RunSpec} from '../backend.js';
import {
  localizeLine,
  passEnvScript,
  planRemoteRun,
  pullArtifacts,
  readRemoteBytes,
  resolveWorkdir,
  syncRun,
  wholeLines,
  wholeText,
  type RemotePlan,
} from '../remote-run.js';
import {classifySshFailure, describeTarget, shq, sshCheck, sshError, sshRun, sshTarget, type SshTarget} from '../../system/ssh.js';

type SshConfig = Extract<BackendConfig, {type: 'ssh'}>;

export interface SshState extends Record<string, unknown> {
  host: string;
  workdir: string;
  remoteRunDir: string;
  localRunDir: string;
  pgid: number;
}

const MAX_READ = 4 * 1024 * 1024;

const SIGNALS: Record<number, string> = {1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM'};

/** The launcher: its own session leader, so `kill -- -PGID` reaches the trainer and its children. */
export function renderLauncher(plan: RemotePlan): string {
  const R = shq(plan.runDir);
  const exports = Object.entries(plan.env).map(([k, v]) => `export ${k}=${shq(v)}`);
  return [
    '#!/bin/sh',
    '# Written by llmops: starts the run detached from the ssh session and records how it ended.',
    `cd ${shq(plan.workdir)} || exit 97`,
    `R=${R}`,
    'mkdir -p "$R/logs"',
    'echo $$ > "$R/pid.tmp" && mv "$R/pid.tmp" "$R/pid"',
    ...exports,
    // A handler (not an ignore, which the child would inherit) lets the launcher outlive the
    // SIGTERM sent to the group, so it can still write the exit code once the trainer has finished.
    "trap 'stopping=1' TERM INT HUP",
    `${plan.command.map(shq).join(' ')} >> "$R/logs/run.log" 2>&1 < /dev/null &`,
    'child=$!',
    'rc=0',
    // wait returns early when a trapped signal arrives; an unreaped child still answers kill -0.
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done',
    'echo "$rc" > "$R/exit_code.tmp" && mv "$R/exit_code.tmp" "$R/exit_code"',
    '',
  ].join('\n');
}

export class SshBackend implements Backend {
  readonly type = 'ssh' as const;
  readonly target: SshTarget;
  private readonly cfg: SshConfig;

  constructor(
    readonly name: string,
    config: BackendConfig,
    private readonly loaded: LoadedConfig,
  ) {
    if (config.type !== 'ssh') throw usageError(`Backend "${name}" is not an ssh backend.`);
    this.cfg = config;
    this.target = sshTarget(config);
  }

  async check(): Promise<void> {
    const py = shq(this.cfg.python);
    const out = await sshCheck(
      this.target,
      `command -v rsync >/dev/null || echo MISSING rsync; command -v setsid >/dev/null || echo MISSING setsid; command -v ${py} >/dev/null || echo MISSING python; true`,
      'check the remote host',
      {timeoutMs: 30_000},
    );
    const missing = out.split('\n').filter((l) => l.startsWith('MISSING ')).map((l) => l.slice(8));
    if (missing.includes('python')) {
      throw environmentError(`The Python interpreter "${this.cfg.python}" was not found on ${describeTarget(this.target)}.`, {
        fix: `Try this: set backends.${this.name}.python in llmops.yaml to an interpreter with torch on that host (e.g. /usr/bin/python3).`,
      });
    }
    if (missing.length > 0) {
      throw environmentError(`${missing.join(' and ')} not found on ${describeTarget(this.target)}.`, {
        fix: 'Try this: install them on the remote host (apt-get install rsync util-linux).',
      });
    }
  }

  async plan(spec: RunSpec, workdir = this.cfg.workdir): Promise<RemotePlan> {
    return planRemoteRun(spec, workdir, {python: this.cfg.python, localPython: this.loaded.config.python});
  }

  async submit(spec: RunSpec): Promise<BackendHandle> {
    const workdir = await resolveWorkdir(this.target, this.cfg.workdir);
    const plan = await this.plan(spec, workdir);
    const staged: Record<string, string> = {'launch.sh': renderLauncher(plan)};
    if (plan.spec) staged['spec.json'] = JSON.stringify(plan.spec, null, 2) + '\n';
    await syncRun(this.target, plan, staged);
    const R = shq(plan.runDir);
    // Secrets arrive on stdin and live only in the launcher's environment: never on disk or in argv.
    const script = [
      'eval "$(cat)"',
      `rm -f ${R}/pid ${R}/exit_code`,
      `setsid -f sh ${R}/launch.sh > /dev/null 2>&1 < /dev/null`,
      `i=0; while [ ! -s ${R}/pid ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done`,
      `cat ${R}/pid`,
    ].join('\n');
    const out = await sshCheck(this.target, script, 'start the run', {input: passEnvScript(spec.passEnv), retries: 0});
    const pgid = Number.parseInt(out.trim().split('\n').pop() ?? '', 10);
    if (!Number.isInteger(pgid) || pgid <= 0) {
      throw backendError(`The run did not start on ${describeTarget(this.target)} (no pid after 10 s).`, {
        fix: `Try this: look at ${plan.runDir}/logs/run.log on the host.`,
      });
    }
    const state: SshState = {host: this.target.host, workdir, remoteRunDir: plan.runDir, localRunDir: path.resolve(spec.runDir), pgid};
    return {ref: `${this.target.host}:${pgid}`, state};
  }

  async status(handle: BackendHandle): Promise<BackendStatus> {
    const s = handle.state as SshState;
    const R = shq(s.remoteRunDir);
    const r = await sshRun(
      this.target,
      `if [ -s ${R}/exit_code ]; then echo "exited $(cat ${R}/exit_code)"; elif kill -0 -${s.pgid} 2>/dev/null || kill -0 ${s.pgid} 2>/dev/null; then echo running; else echo gone; fi`,
      {timeoutMs: 30_000},
    );
    if (!r.ok) {
      // A dropped link is not the run's end: say so and let the caller poll again.
      if (r.exitCode === 255 && classifySshFailure(r) === 'connect') return {state: 'unknown', detail: `connection lost: ${r.stderr.trim().split('\n').pop() ?? ''}`};
      throw sshError(this.target, r, 'read the run status');
    }
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (line === 'running') return {state: 'running'};
    if (line.startsWith('exited ')) {
      const code = Number.parseInt(line.slice(7), 10);
      if (code > 128 && code < 160) return {state: 'exited', exitCode: null, signal: SIGNALS[code - 128] ?? `signal ${code - 128}`};
      return {state: 'exited', exitCode: Number.isNaN(code) ? null : code, signal: null};
    }
    return {state: 'exited', exitCode: null, signal: null, detail: 'the remote process group is gone and left no exit code (killed with SIGKILL, or the host rebooted)'};
  }

  async readEvents(handle: BackendHandle, offset: number): Promise<{lines: string[]; offset: number}> {
    const s = handle.state as SshState;
    const buf = await readRemoteBytes(this.target, path.posix.join(s.remoteRunDir, 'events.jsonl'), offset, MAX_READ);
    const got = wholeLines(buf, offset, MAX_READ);
    return {lines: got.lines.map((l) => localizeLine(l, s.remoteRunDir, s.localRunDir)), offset: got.offset};
  }

  async readLog(handle: BackendHandle, offset: number): Promise<{text: string; offset: number}> {
    const s = handle.state as SshState;
    const buf = await readRemoteBytes(this.target, path.posix.join(s.remoteRunDir, 'logs', 'run.log'), offset, MAX_READ);
    return wholeText(buf, offset);
  }

  async stop(handle: BackendHandle, opts: {graceful: boolean}): Promise<void> {
    const s = handle.state as SshState;
    const sig = opts.graceful ? 'TERM' : 'KILL';
    await sshCheck(this.target, `kill -${sig} -${s.pgid} 2>/dev/null || kill -${sig} ${s.pgid} 2>/dev/null; true`, 'stop the run');
  }

  async fetchArtifacts(handle: BackendHandle, spec: RunSpec): Promise<void> {
    const s = handle.state as SshState;
    await pullArtifacts(this.target, s.remoteRunDir, spec.runDir);
  }

  pricing(): Pricing {
    return priceBackend(this.cfg, this.loaded.config.pricing);
  }

  async render(spec: RunSpec): Promise<Record<string, string>> {
    const workdir = this.cfg.workdir.startsWith('/') ? this.cfg.workdir : `$HOME/${this.cfg.workdir.replace(/^~\/?/, '')}`;
    const plan = await this.plan(spec, workdir);
    return {
      'launch.sh': renderLauncher(plan),
      ...(plan.spec ? {'spec.json': JSON.stringify(plan.spec, null, 2) + '\n'} : {}),
      'sync.txt': plan.syncs.map((s) => `${s.local} -> ${this.target.host}:${s.remote}${s.once ? ' (skipped if present)' : ''}`).join('\n') + '\n',
    };
  }
}

export default SshBackend;
