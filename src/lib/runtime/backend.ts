/**
 * The backend interface: how a run is launched, followed, stopped and brought home, whatever it
 * runs on (local process, SSH host, Slurm, Kubernetes). The runtime's supervisor drives a backend
 * through these calls only, so a new backend plugs in without touching the rest.
 *
 * Contract:
 * - A run has a local run directory (spec.json, events.jsonl, logs, checkpoints/, model/). A remote
 *   backend mirrors it at `remoteRunDir` and brings checkpoints/model back with fetchArtifacts().
 * - The run's process appends event lines (docs/protocol.md) to the file named by LLMOPS_EVENTS;
 *   readEvents() returns whole lines after a byte offset, so the supervisor can resume after a
 *   crash or a dropped connection without losing or repeating an event.
 * - Everything a backend needs to find the run again after the CLI died is in BackendHandle,
 *   which the supervisor stores in the ledger (runs.backend_ref, runs.backend_state_json).
 */
import type {RunKind} from '../ledger/ledger.js';

/** Backends whose run folder is on this machine (the supervisor reads its files directly). */
export const runsHere = (type: string): boolean => type === 'local' || type === 'docker';

export interface RunSpec {
  runId: string;
  kind: RunKind;
  /** Absolute local run directory. */
  runDir: string;
  /** Project root (the trainer script and dataset paths are relative to it unless absolute). */
  projectRoot: string;
  /** argv of the process to run; argv[0] is the program (e.g. the Python interpreter). */
  command: string[];
  /** Extra environment for the process (never secrets that must not be logged). */
  env: Record<string, string>;
  /** Names of environment variables to pass through from the CLI's environment (e.g. HF_TOKEN). */
  passEnv: string[];
  /** Files and directories the run needs besides the run dir, to sync to remote backends. */
  inputs: Array<{local: string; remote?: string; kind: 'trainer' | 'dataset' | 'base-model' | 'other'; id?: string}>;
  /** The trainer spec (what spec.json holds) when the run is our trainer; undefined for BYO commands. */
  trainerSpec?: Record<string, unknown>;
  /** GPUs requested (0 on CPU). */
  gpus: number;
}

export type BackendState = 'queued' | 'starting' | 'running' | 'exited' | 'unknown';

export interface BackendStatus {
  state: BackendState;
  /** Exit code of the run's process when it exited. */
  exitCode?: number | null;
  signal?: string | null;
  /** Scheduler's own word for the state (e.g. Slurm's TIMEOUT, PREEMPTED) and why. */
  detail?: string;
  /** Seconds spent queued (not billed) as far as the backend knows. */
  queuedSeconds?: number;
}

export interface BackendHandle {
  /** What identifies the run on the backend: a pid/pgid, a Slurm job id, a Job name. */
  ref: string;
  /** Backend-specific state needed to find the run again (host, remote dir, offsets...). JSON-safe. */
  state: Record<string, unknown>;
}

export interface Pricing {
  pricePerHour: number;
  source: string;
  /** e.g. "cpu", "A100-80GB x1". */
  resource: string;
}

export interface Backend {
  readonly name: string;
  readonly type: 'local' | 'ssh' | 'slurm' | 'kubernetes' | 'docker';
  /** Checks prerequisites (binaries, reachability) and throws a clear LlmopsError if missing. */
  check(): Promise<void>;
  /** Copies what the run needs and starts it; resolves once it is submitted/started. */
  submit(spec: RunSpec): Promise<BackendHandle>;
  status(handle: BackendHandle): Promise<BackendStatus>;
  /** Whole event lines appended after byte `offset`, and the new offset. */
  readEvents(handle: BackendHandle, offset: number): Promise<{lines: string[]; offset: number}>;
  /** Log text appended after byte `offset`, and the new offset. */
  readLog(handle: BackendHandle, offset: number): Promise<{text: string; offset: number}>;
  /** Graceful: SIGTERM (the trainer checkpoints and exits); otherwise kill the process group. */
  stop(handle: BackendHandle, opts: {graceful: boolean}): Promise<void>;
  /** Brings checkpoints and the exported model back into the local run dir (no-op locally). */
  fetchArtifacts(handle: BackendHandle, spec: RunSpec): Promise<void>;
  pricing(): Pricing;
  /** Renders what would be submitted (sbatch script, manifests) without submitting: --dry-run. */
  render?(spec: RunSpec): Promise<Record<string, string>>;
  /**
   * GPU utilisation, memory and power of the run's machine, sampled every budget interval and
   * recorded as the metrics gpu_util, gpu_mem_mb, gpu_power_w. Optional: [] or absent = no GPUs.
   */
  sampleGpus?(handle: BackendHandle): Promise<Array<{index: number; name: string; utilPct: number; memMb: number; powerW: number}>>;
}
