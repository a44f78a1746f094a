/**
 * One `pipeline run` at a time per project: a lock file next to the ledger, created exclusively,
 * holding the owner's pid. A lock whose owner died is taken over; a live one refuses the run.
 */
import {closeSync, openSync, readFileSync, unlinkSync, writeSync} from 'node:fs';
import path from 'node:path';
import {usageError} from '../errors.js';

export interface PipelineLock {
  file: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(ledgerFile: string, executionId: string): PipelineLock {
  const file = path.join(path.dirname(ledgerFile), 'pipeline.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner: {pid?: number; executionId?: string; since?: string} = {};
      try {
        owner = JSON.parse(readFileSync(file, 'utf8')) as typeof owner;
      } catch {
        // Being written right now: treat as held.
        owner = {pid: -1};
      }
      if (owner.pid === -1 || (owner.pid && alive(owner.pid))) {
        throw usageError(
          `Another \`llmops pipeline run\` is in progress in this project (pid ${owner.pid ?? '?'}, execution ${owner.executionId ?? '?'}, since ${owner.since ?? '?'}); runs are not interleaved.`,
          {fix: 'Try this: wait for it to finish (`llmops pipeline status`), or stop it with Ctrl-C in its terminal.', details: {lock: file, ...owner}},
        );
      }
      unlinkSync(file); // its owner died: take it over
      continue;
    }
    writeSync(fd, JSON.stringify({pid: process.pid, executionId, since: new Date().toISOString()}));
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      try {
        const owner = JSON.parse(readFileSync(file, 'utf8')) as {pid?: number};
        if (owner.pid === process.pid) unlinkSync(file);
      } catch {
        // already gone
      }
    };
    process.once('exit', release);
    return {file, release};
  }
  throw usageError(`Could not take the pipeline lock ${file}.`);
}
