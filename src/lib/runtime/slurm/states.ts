/**
 * Slurm job states -> our backend states, with Slurm's word kept as the detail (docs/backends.md
 * has the same table). The supervisor bills only `running`; `queued` time is recorded apart.
 */
import type {BackendState} from '../backend.js';

export interface SlurmStateInfo {
  state: BackendState;
  /** What the run becomes when Slurm ends the job this way and the trainer said nothing. */
  outcome?: 'succeeded' | 'failed' | 'stopped';
  meaning: string;
}

export const SLURM_STATES: Record<string, SlurmStateInfo> = {
  PENDING: {state: 'queued', meaning: 'waiting for resources or priority (the reason is kept)'},
  REQUEUED: {state: 'queued', meaning: 'put back in the queue; resumes from its last checkpoint'},
  REQUEUE_HOLD: {state: 'queued', meaning: 'requeued and held'},
  REQUEUE_FED: {state: 'queued', meaning: 'requeued by a federation'},
  RESV_DEL_HOLD: {state: 'queued', meaning: 'held after its reservation was deleted'},
  CONFIGURING: {state: 'starting', meaning: 'nodes are being booted or configured'},
  RUNNING: {state: 'running', meaning: 'running'},
  COMPLETING: {state: 'running', meaning: 'finishing: some processes still exiting'},
  SUSPENDED: {state: 'running', meaning: 'suspended by the scheduler (still allocated)'},
  STOPPED: {state: 'running', meaning: 'processes stopped with SIGSTOP (still allocated)'},
  SIGNALING: {state: 'running', meaning: 'being signalled'},
  STAGE_OUT: {state: 'running', meaning: 'staging data out'},
  RESIZING: {state: 'running', meaning: 'changing size'},
  COMPLETED: {state: 'exited', outcome: 'succeeded', meaning: 'exit code 0 on every node'},
  FAILED: {state: 'exited', outcome: 'failed', meaning: 'non-zero exit code'},
  CANCELLED: {state: 'exited', outcome: 'stopped', meaning: 'scancel (by us on `runs stop`, or by someone else)'},
  TIMEOUT: {state: 'exited', outcome: 'failed', meaning: 'reached its time limit (raise `time`; resume with --resume)'},
  PREEMPTED: {state: 'exited', outcome: 'failed', meaning: 'preempted and not requeued'},
  NODE_FAIL: {state: 'exited', outcome: 'failed', meaning: 'a node failed'},
  BOOT_FAIL: {state: 'exited', outcome: 'failed', meaning: 'a node failed to boot'},
  OUT_OF_MEMORY: {state: 'exited', outcome: 'failed', meaning: 'killed by the out-of-memory handler'},
  DEADLINE: {state: 'exited', outcome: 'failed', meaning: 'reached its deadline'},
  REVOKED: {state: 'exited', outcome: 'failed', meaning: 'revoked by a federation'},
  SPECIAL_EXIT: {state: 'exited', outcome: 'failed', meaning: 'held in a special exit state'},
};

/** "CANCELLED by 0" -> CANCELLED; "RUNNING" -> RUNNING. */
export function baseState(raw: string): string {
  return raw.trim().split(/\s+/)[0]!.replace(/\+$/, '').toUpperCase();
}

export function mapSlurmState(raw: string): SlurmStateInfo & {slurm: string} {
  const slurm = baseState(raw);
  const info = SLURM_STATES[slurm] ?? {state: 'unknown' as const, meaning: `unrecognised Slurm state ${slurm}`};
  return {...info, slurm};
}

/** Slurm's "exit:signal" pair (sacct/scontrol ExitCode) -> exit code and signal name. */
export function parseExitCode(s: string | undefined): {exitCode: number | null; signal: string | null} {
  const m = /^(\d+):(\d+)$/.exec((s ?? '').trim());
  if (!m) return {exitCode: null, signal: null};
  const code = Number(m[1]);
  const sig = Number(m[2]);
  const names: Record<number, string> = {1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM'};
  return sig > 0 ? {exitCode: null, signal: names[sig] ?? `signal ${sig}`} : {exitCode: code, signal: null};
}

/** A Slurm timestamp ("2026-11-26T20:22:41", local time of the cluster) -> epoch ms, or undefined. */
export function parseSlurmTime(s: string | undefined): number | undefined {
  if (!s || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(s.trim())) return undefined;
  const t = new Date(s.trim()).getTime();
  return Number.isNaN(t) ? undefined : t;
}
