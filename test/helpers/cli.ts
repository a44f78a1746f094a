/**
 * Runs the real, built CLI (bin/run.js -> dist/) as a user would, in a given directory.
 * Build first: `npm run build` (npm test does it).
 */
import {execFile, spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, realpathSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(REPO_ROOT, 'bin', 'run.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON. */
  json?: any;
}

export function runCli(
  args: string[],
  opts: {cwd?: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number} = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: opts.cwd ?? process.cwd(),
        env: {...process.env, NO_COLOR: '1', CI: '1', ...opts.env},
        timeout: opts.timeoutMs ?? 300_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as any).code === 'number' ? (error as any).code : 1) : 0;
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        resolve({code, stdout, stderr, json});
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Starts the CLI without waiting (for attached runs, servers, kill tests). */
export function spawnCli(args: string[], opts: {cwd?: string; env?: Record<string, string | undefined>} = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: {...process.env, NO_COLOR: '1', CI: '1', ...opts.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function tempDir(prefix = 'llmops-test-'): string {
  return realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** The Python interpreter that has torch here (Debian's python3-torch lives in /usr/bin). */
export const PYTHON = process.env.LLMOPS_TEST_PYTHON ?? '/usr/bin/python3';
