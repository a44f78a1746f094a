/** The layout of a run directory (docs/runs.md). One place, so the supervisor, backends and commands agree. */
import path from 'node:path';

export interface RunPaths {
  dir: string;
  spec: string;
  events: string;
  logsDir: string;
  log: string;
  supervisorLog: string;
  /** Written by the local backend when the run's process exits (exit code and signal). */
  exit: string;
  /** Written by `runs stop` / Ctrl-C; the supervisor acts on it. */
  stopRequest: string;
  checkpoints: string;
  model: string;
}

export function runPaths(dir: string): RunPaths {
  return {
    dir,
    spec: path.join(dir, 'spec.json'),
    events: path.join(dir, 'events.jsonl'),
    logsDir: path.join(dir, 'logs'),
    log: path.join(dir, 'logs', 'run.log'),
    supervisorLog: path.join(dir, 'logs', 'supervisor.log'),
    exit: path.join(dir, 'exit.json'),
    stopRequest: path.join(dir, 'stop-request.json'),
    checkpoints: path.join(dir, 'checkpoints'),
    model: path.join(dir, 'model'),
  };
}
