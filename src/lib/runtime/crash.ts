/**
 * A supervisor that cannot go on (SQLITE_FULL, a read-only ledger, a bug) records why: in the ledger
 * when it can still write there, and always in supervisor-error.json in the run folder, which
 * reconcile reads when it settles the run, so no run is left queued or lost without a reason.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {ledgerStorageError} from '../ledger/fs-errors.js';
import type {Ledger} from '../ledger/ledger.js';

export const CRASH_FILE = 'supervisor-error.json';

export function recordSupervisorCrash(ledger: Ledger | undefined, runId: string, error: unknown): void {
  // SQLITE_FULL, a read-only file...: the user error that names the ledger, the cause and the fix.
  const file = ledger?.file ?? process.env.LLMOPS_DB;
  const user = file ? ledgerStorageError(file, error, 'writing') : undefined;
  const e = (user ?? error) as Error & {code?: string; fix?: string};
  const reason = user
    ? `supervisor stopped: ${user.message}${user.fix ? ` ${user.fix}` : ''}`
    : `supervisor stopped: ${e.code ? `${e.code}: ` : ''}${e.message}${e.fix ? ` (${e.fix})` : ''}`;
  process.stderr.write(`${new Date().toISOString()} ${reason}\n${e.stack ?? ''}\n`);
  const runDir = process.env.LLMOPS_SUPERVISOR_RUN_DIR ?? runDirOf(ledger, runId);
  if (runDir) {
    try {
      writeFileSync(path.join(runDir, CRASH_FILE), JSON.stringify({ts: new Date().toISOString(), reason}) + '\n');
    } catch {
      // the run folder is on the same full disk: supervisor.log above is all we have
    }
  }
  try {
    ledger?.setRunStatus(runId, 'failed', reason);
  } catch {
    // the ledger refuses writes: reconcile settles the run from supervisor-error.json later
  }
}

function runDirOf(ledger: Ledger | undefined, runId: string): string | undefined {
  try {
    return ledger?.getRun(runId).run_dir;
  } catch {
    return undefined;
  }
}

export function readSupervisorCrash(runDir: string): string | undefined {
  const file = path.join(runDir, CRASH_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as {reason?: string}).reason;
  } catch {
    return undefined;
  }
}
