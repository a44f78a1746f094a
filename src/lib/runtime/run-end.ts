/** When a run ended, by its own records (the supervisor and reconcile bill up to this instant). */
import {existsSync, readFileSync, statSync} from 'node:fs';
import {lastLines} from '../system/tail.js';
import {runPaths} from './paths.js';

/** When the run ended by its own records: exit.json, else its last event, else the events file's mtime. */
export function runEndMs(runDir: string): number | undefined {
  const paths = runPaths(runDir);
  try {
    if (existsSync(paths.exit)) {
      const ts = Date.parse((JSON.parse(readFileSync(paths.exit, 'utf8')) as {ts?: string}).ts ?? '');
      if (Number.isFinite(ts)) return ts;
    }
  } catch {
    // fall through to the events
  }
  for (const line of lastLines(paths.events, 3).reverse()) {
    try {
      const ts = (JSON.parse(line) as {ts?: number}).ts;
      if (typeof ts === 'number') return ts * 1000;
    } catch {
      // a torn last line
    }
  }
  try {
    return statSync(paths.events).mtimeMs;
  } catch {
    return undefined;
  }
}

