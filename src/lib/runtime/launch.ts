/**
 * Launching a prepared run: spec.json written, the run recorded as queued, and a detached
 * supervisor (`llmops runs supervise RUN_ID`) started in its own process group with its output in
 * logs/supervisor.log. The caller returns at once (--detach) or follows the ledger (attach.ts).
 */
import {existsSync, mkdirSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import type {LoadedConfig} from '../config/load.js';
import type {Ledger, RunRow} from '../ledger/ledger.js';
import {spawnDetached} from '../system/exec.js';
import {runPaths} from './paths.js';
import type {PreparedRun} from './spec.js';

export const CLI_BIN = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
const SUPERVISOR_MAIN = fileURLToPath(new URL('supervisor-main.js', import.meta.url));

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, file);
}

export function launchRun(ledger: Ledger, loaded: LoadedConfig, run: PreparedRun, opts: {name?: string} = {}): RunRow {
  const paths = runPaths(run.spec.runDir);
  const made = !existsSync(paths.dir);
  try {
    mkdirSync(paths.logsDir, {recursive: true});
    if (run.spec.trainerSpec) writeJsonAtomic(paths.spec, run.spec.trainerSpec);
    else writeJsonAtomic(paths.spec, {version: 1, run_id: run.id, kind: run.kind, run_dir: run.spec.runDir, command: run.spec.command});
    ledger.insertRun({
      id: run.id,
      kind: run.kind,
      name: opts.name,
      backend: run.backend,
      backendType: run.backendType,
      preset: run.preset,
      datasetId: run.datasetId,
      parentRunId: run.parentRunId,
      runDir: run.spec.runDir,
      budgetUsd: run.budgetUsd,
      spec: run.spec,
      lineage: run.lineage,
    });
  } catch (error) {
    // No ledger row, no run: a run folder left behind would be a run nobody can list or clean.
    if (made) rmSync(paths.dir, {recursive: true, force: true});
    throw error;
  }
  let pid: number;
  try {
    pid = startSupervisor(loaded, run.id, paths.supervisorLog);
  } catch (error) {
    ledger.setRunStatus(run.id, 'failed', `could not start the run's supervisor: ${(error as Error).message}`);
    throw error;
  }
  ledger.updateRun(run.id, {pid});
  return ledger.getRun(run.id);
}

/**
 * Starts the run's supervisor detached from this process and its terminal (its own session and
 * process group). Same as `llmops runs supervise RUN_ID`, without loading oclif.
 */
export function startSupervisor(loaded: LoadedConfig, runId: string, logFile: string): number {
  return spawnDetached(process.execPath, [SUPERVISOR_MAIN, runId, ...(loaded.file ? [loaded.file] : [])], {
    cwd: loaded.root,
    logFile,
    env: {...process.env, LLMOPS_SUPERVISOR: runId, LLMOPS_SUPERVISOR_RUN_DIR: path.dirname(path.dirname(logFile))},
  }).pid;
}
