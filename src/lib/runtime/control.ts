/**
 * Asking a running supervisor to stop its run. The request is a file in the run dir rather than a
 * signal: it works whatever process asks (another terminal, `runs stop`, Ctrl-C in the attached
 * CLI), survives a supervisor restart, and the supervisor is the one that knows the backend.
 */
import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs';
import {runPaths} from './paths.js';

export type StopCause = 'user' | 'budget' | 'interrupt' | 'supervisor';

export interface StopRequest {
  graceful: boolean;
  cause: StopCause;
  reason: string;
  ts: string;
}

export function writeStopRequest(runDir: string, req: Omit<StopRequest, 'ts'>): void {
  const file = runPaths(runDir).stopRequest;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({...req, ts: new Date().toISOString()}) + '\n');
  renameSync(tmp, file);
}

export function readStopRequest(runDir: string): StopRequest | undefined {
  const file = runPaths(runDir).stopRequest;
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StopRequest;
  } catch {
    return undefined;
  }
}
