/**
 * The Slurm backend: a run is a batch job, submitted with `sbatch --parsable` on this machine (a
 * login node: the run dir must be on a filesystem the compute nodes share) or through ssh to the
 * configured login node (inputs synced there first, as for the SSH backend).
 *
 * Followed with squeue while Slurm knows the job as active, then sacct (or scontrol, or the job
 * completion log, whichever the cluster has) for jobs that ended between two polls. Every Slurm
 * state maps to ours (slurm/states.ts); Slurm's own word is kept as the detail.
 */
import {existsSync, mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../../config/load.js';
import type {BackendConfig} from '../../config/schema.js';
import {priceBackend} from '../../cost/prices.js';
import {backendError, environmentError, usageError} from '../../errors.js';
import type {Backend, BackendHandle, BackendStatus, Pricing, RunSpec} from '../backend.js';
import {capture, type CaptureResult} from '../../system/exec.js';
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
} from '../remote-run.js';
import {JOB_LOG, renderSbatch, checkSbatchExtra, resourceOptions} from '../slurm/script.js';
import {mapSlurmState, parseExitCode, parseSlurmTime} from '../slurm/states.js';
import {describeTarget, shq, sshError, sshRun, sshTarget, type SshTarget} from '../../system/ssh.js';
import {readLinesFrom, readTextFrom} from '../../system/tail.js';

type SlurmConfig = Extract<BackendConfig, {type: 'slurm'}>;

export interface SlurmState extends Record<string, unknown> {
  jobId: string;
  /** Run dir as the cluster sees it. */
  clusterRunDir: string;
  localRunDir: string;
  login: string | null;
  submittedAt: number;
}

const MAX_READ = 4 * 1024 * 1024;

interface JobInfo {
  state: string;
  reason?: string;
  exit?: string;
  submit?: number;
  start?: number;
  end?: number;
  restarts?: number;
}

export class SlurmBackend implements Backend {
  readonly type = 'slurm' as const;
  private readonly cfg: SlurmConfig;
  readonly target?: SshTarget;

  constructor(
    readonly name: string,
    config: BackendConfig,
    private readonly loaded: LoadedConfig,
  ) {
    if (config.type !== 'slurm') throw usageError(`Backend "${name}" is not a slurm backend.`);
    this.cfg = config;
    if (config.login) this.target = sshTarget({host: config.login, port: config.port, identity_file: config.identity_file, ssh_options: config.ssh_options});
  }

  private where(): string {
    return this.target ? describeTarget(this.target) : 'this machine';
  }

  /** Runs a sh script where Slurm's commands are: here, or on the login node. */
  private async sh(script: string, opts: {input?: string; timeoutMs?: number} = {}): Promise<CaptureResult> {
    if (this.target) return sshRun(this.target, script, {input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000});
    return capture('sh', ['-c', script], {input: opts.input ?? '', timeoutMs: opts.timeoutMs ?? 60_000});
  }

  private fail(r: CaptureResult, what: string): never {
    if (this.target && r.exitCode === 255) throw sshError(this.target, r, what);
    throw backendError(`Slurm on ${this.where()} failed to ${what}: ${quote(r.stderr || r.stdout)}`, {
      details: {exitCode: r.exitCode ?? null},
    });
  }

  async check(): Promise<void> {
    checkSbatchExtra(this.name, this.cfg.sbatch_extra, this.loaded.file);
    const r = await this.sh('for b in sbatch squeue scancel; do command -v $b >/dev/null || echo "MISSING $b"; done; true', {timeoutMs: 30_000});
    if (!r.ok) this.fail(r, 'check for sbatch');
    const missing = r.stdout.split('\n').filter((l) => l.startsWith('MISSING ')).map((l) => l.slice(8));
    if (missing.length === 0) {
      // Ask Slurm, without submitting, whether it could ever run this request (partition, GPUs,
      // account, time limit): a refusal surfaces here with Slurm's words, before any sync.
      const probe = await this.sh(`sbatch --test-only ${resourceOptions(this.cfg).map(shq).join(' ')} --wrap true`, {timeoutMs: 30_000});
      if (!probe.ok) {
        if (this.target && probe.exitCode === 255) throw sshError(this.target, probe, 'ask Slurm about the request');
        throw backendError(`Slurm refused the job: ${quote(probe.stderr || probe.stdout)}`, {
          fix: submitFix(probe.stderr, this.name),
          details: {backend: this.name, stderr: probe.stderr.trim()},
        });
      }
    }
    if (missing.length > 0) {
      throw environmentError(`Slurm's ${missing.join(', ')} not found on ${this.where()}.`, {
        fix: this.target
          ? `Try this: check that ${this.cfg.login} is a Slurm login node (\`ssh ${this.cfg.login} sinfo\`).`
          : 'Try this: run llmops on a Slurm login node, or set `login: user@login-node` in the backend to submit over ssh.',
      });
    }
  }

  /** The job's view of the run: paths, command and environment as the cluster sees them. */
  private async layout(spec: RunSpec, resolve: boolean) {
    if (!this.target) {
      const env = {
        ...spec.env,
        LLMOPS_EVENTS: path.join(spec.runDir, 'events.jsonl'),
        LLMOPS_RUN_ID: spec.runId,
        LLMOPS_RUN_DIR: spec.runDir,
        PYTHONUNBUFFERED: '1',
      };
      const workdir = this.cfg.workdir ? path.resolve(this.loaded.root, this.cfg.workdir) : spec.projectRoot;
      return {workdir, runDir: spec.runDir, command: spec.command, env, spec: undefined as Record<string, unknown> | undefined, plan: undefined};
    }
    const wd = this.cfg.workdir ?? 'llmops-runs';
    const workdir = resolve ? await resolveWorkdir(this.target, wd) : wd.startsWith('/') ? wd : `$HOME/${wd.replace(/^~\/?/, '')}`;
    const plan = planRemoteRun(spec, workdir, {python: this.cfg.python, localPython: this.loaded.config.python});
    return {workdir, runDir: plan.runDir, command: plan.command, env: plan.env, spec: plan.spec, plan};
  }

  private script(spec: RunSpec, l: Awaited<ReturnType<SlurmBackend['layout']>>): string {
    return renderSbatch(this.cfg, {
      runId: spec.runId,
      workdir: l.workdir,
      runDir: l.runDir,
      command: l.command,
      env: l.env,
      specFile: spec.trainerSpec ? path.posix.join(l.runDir, 'spec.json') : undefined,
      python: this.cfg.python,
      port: this.cfg.rdzv_port,
    });
  }

  async render(spec: RunSpec): Promise<Record<string, string>> {
    checkSbatchExtra(this.name, this.cfg.sbatch_extra, this.loaded.file);
    const l = await this.layout(spec, false);
    return {'job.sbatch': this.script(spec, l), ...(l.spec ? {'spec.json': JSON.stringify(l.spec, null, 2) + '\n'} : {})};
  }

  async submit(spec: RunSpec): Promise<BackendHandle> {
    checkSbatchExtra(this.name, this.cfg.sbatch_extra, this.loaded.file);
    const l = await this.layout(spec, true);
    const script = this.script(spec, l);
    const scriptPath = path.posix.join(l.runDir, 'job.sbatch');
    if (this.target && l.plan) {
      const staged: Record<string, string> = {'job.sbatch': script};
      if (l.spec) staged['spec.json'] = JSON.stringify(l.spec, null, 2) + '\n';
      await syncRun(this.target, l.plan, staged);
    } else {
      mkdirSync(path.join(spec.runDir, 'logs'), {recursive: true});
      if (!existsSync(path.join(spec.runDir, 'events.jsonl'))) writeFileSync(path.join(spec.runDir, 'events.jsonl'), '');
      writeFileSync(scriptPath, script, {mode: 0o755});
    }
    // Variables passed through (tokens) reach sbatch's environment only; the job inherits them.
    const r = await this.sh(`eval "$(cat)"; sbatch --parsable ${shq(scriptPath)}`, {input: passEnvScript(spec.passEnv)});
    if (!r.ok) {
      if (this.target && r.exitCode === 255) throw sshError(this.target, r, 'submit the job');
      throw backendError(`Slurm refused the job: ${quote(r.stderr || r.stdout)}`, {
        fix: submitFix(r.stderr, this.name),
        details: {backend: this.name, stderr: r.stderr.trim()},
      });
    }
    const jobId = r.stdout.trim().split('\n').pop()!.split(';')[0]!.trim();
    if (!/^\d+(_\d+)?$/.test(jobId)) throw backendError(`sbatch did not return a job id (got "${r.stdout.trim()}").`);
    const state: SlurmState = {jobId, clusterRunDir: l.runDir, localRunDir: path.resolve(spec.runDir), login: this.cfg.login ?? null, submittedAt: Date.now()};
    return {ref: `slurm:${jobId}`, state};
  }

  private async jobInfo(jobId: string): Promise<JobInfo | undefined> {
    const id = shq(jobId);
    // Active jobs: squeue. Ended ones: sacct (accounting), else scontrol (recent jobs), else the completion log.
    const script = [
      `q=$(squeue -h -j ${id} -o '%T|%r|%V|%S' 2>/dev/null | head -n 1)`,
      'if [ -n "$q" ]; then echo "Q|$q"; exit 0; fi',
      `a=$(sacct -X -n -P -j ${id} -o State,ExitCode,Submit,Start,End,Reason 2>/dev/null | head -n 1)`,
      'if [ -n "$a" ]; then echo "A|$a"; exit 0; fi',
      `c=$(scontrol show job -o ${id} 2>/dev/null | head -n 1)`,
      'if [ -n "$c" ]; then echo "C|$c"; exit 0; fi',
      `f=$(sacct -c -X -n -P -j ${id} -o State,ExitCode,Submit,Start,End 2>/dev/null | head -n 1)`,
      'if [ -n "$f" ]; then echo "A|$f"; exit 0; fi',
      'echo NONE',
    ].join('\n');
    const r = await this.sh(script, {timeoutMs: 30_000});
    if (!r.ok) {
      if (this.target && r.exitCode === 255) return undefined;
      this.fail(r, `read the state of job ${jobId}`);
    }
    const line = r.stdout.trim().split('\n').pop() ?? 'NONE';
    if (line.startsWith('Q|')) {
      const [state, reason, submit, start] = line.slice(2).split('|');
      return {state: state!, reason, submit: parseSlurmTime(submit), start: parseSlurmTime(start)};
    }
    if (line.startsWith('A|')) {
      const [state, exit, submit, start, end, reason] = line.slice(2).split('|');
      return {state: state!, exit, submit: parseSlurmTime(submit), start: parseSlurmTime(start), end: parseSlurmTime(end), reason};
    }
    if (line.startsWith('C|')) {
      const kv = Object.fromEntries(line.slice(2).split(/\s+/).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
      return {
        state: kv.JobState ?? 'UNKNOWN',
        reason: kv.Reason,
        exit: kv.ExitCode,
        submit: parseSlurmTime(kv.SubmitTime),
        start: parseSlurmTime(kv.StartTime),
        end: parseSlurmTime(kv.EndTime),
        restarts: kv.Restarts ? Number(kv.Restarts) : undefined,
      };
    }
    return {state: 'NONE'};
  }

  async status(handle: BackendHandle): Promise<BackendStatus> {
    const s = handle.state as SlurmState;
    const info = await this.jobInfo(s.jobId);
    if (!info) return {state: 'unknown', detail: `lost the connection to ${this.where()}`};
    if (info.state === 'NONE') {
      return {state: 'exited', exitCode: null, signal: null, detail: `Slurm no longer knows job ${s.jobId} (purged from squeue, no accounting)`};
    }
    const m = mapSlurmState(info.state);
    const reason = info.reason && info.reason !== 'None' && info.reason !== '(null)' ? info.reason : undefined;
    const detail = `Slurm ${m.slurm}${reason ? ` (${reason})` : ''}`;
    // Queue time: submit -> start (or now while pending). A start time in the future is Slurm's estimate.
    const submit = info.submit ?? s.submittedAt;
    const start = info.start && info.start <= Date.now() && m.state !== 'queued' ? info.start : undefined;
    const queuedSeconds = Math.max(0, ((start ?? Date.now()) - submit) / 1000);
    if (m.state !== 'exited') return {state: m.state, detail, queuedSeconds};
    const ec = parseExitCode(info.exit);
    // A job ended by Slurm (CANCELLED, TIMEOUT...) exits 0 when the trainer checkpointed cleanly:
    // the detail keeps why, so the run is not mistaken for a success.
    return {state: 'exited', exitCode: ec.exitCode, signal: ec.signal, detail, queuedSeconds};
  }

  async readEvents(handle: BackendHandle, offset: number): Promise<{lines: string[]; offset: number}> {
    const s = handle.state as SlurmState;
    if (!this.target) return readLinesFrom(path.join(s.clusterRunDir, 'events.jsonl'), offset, MAX_READ);
    const buf = await readRemoteBytes(this.target, path.posix.join(s.clusterRunDir, 'events.jsonl'), offset, MAX_READ);
    const got = wholeLines(buf, offset, MAX_READ);
    return {lines: got.lines.map((line) => localizeLine(line, s.clusterRunDir, s.localRunDir)), offset: got.offset};
  }

  async readLog(handle: BackendHandle, offset: number): Promise<{text: string; offset: number}> {
    const s = handle.state as SlurmState;
    // The job writes logs/job.log; the supervisor copies it into logs/run.log (the same dir when local).
    if (!this.target) return readTextFrom(path.join(s.clusterRunDir, 'logs', JOB_LOG), offset, MAX_READ);
    return wholeText(await readRemoteBytes(this.target, path.posix.join(s.clusterRunDir, 'logs', JOB_LOG), offset, MAX_READ), offset);
  }

  async stop(handle: BackendHandle, opts: {graceful: boolean}): Promise<void> {
    const s = handle.state as SlurmState;
    // Graceful: SIGTERM to the batch script, which forwards it; the trainer checkpoints and exits.
    // A pending job has no script yet: cancel it outright.
    const id = shq(s.jobId);
    const script = opts.graceful
      ? `st=$(squeue -h -j ${id} -o %T 2>/dev/null); if [ "$st" = RUNNING ]; then scancel --batch --signal=TERM ${id}; else scancel ${id}; fi`
      : `scancel ${id}`;
    const r = await this.sh(script);
    if (!r.ok && !/already completing or completed|Invalid job id/i.test(r.stderr)) this.fail(r, `cancel job ${s.jobId}`);
  }

  async fetchArtifacts(handle: BackendHandle, spec: RunSpec): Promise<void> {
    const s = handle.state as SlurmState;
    if (!this.target) return; // the run dir is shared with the cluster
    await pullArtifacts(this.target, s.clusterRunDir, spec.runDir);
  }

  pricing(): Pricing {
    return priceBackend(this.cfg, this.loaded.config.pricing);
  }
}

function quote(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length > 0 ? lines.slice(-3).join(' | ') : '(no message)';
}

function submitFix(stderr: string, name: string): string {
  if (/partition/i.test(stderr)) return `Try this: \`sinfo -s\` lists the partitions; set backends.${name}.partition to one of them.`;
  if (/node configuration is not available|gres|gpu/i.test(stderr)) {
    return `Try this: ask for GPUs the partition has (\`sinfo -o "%P %G"\` shows them): lower backends.${name}.gpus_per_node or nodes, or pick another partition.`;
  }
  if (/account|qos|association/i.test(stderr)) return `Try this: check backends.${name}.account and qos (\`sacctmgr show assoc user=$USER\`).`;
  if (/time limit/i.test(stderr)) return `Try this: lower backends.${name}.time below the partition's limit (\`sinfo -o "%P %l"\`).`;
  return `Try this: submit the script by hand to see Slurm's full answer: \`llmops train --backend ${name} --dry-run\` prints it.`;
}

export default SlurmBackend;
