/**
 * Every child process the project starts goes through this module (a layering test keeps execa and
 * node:child_process out of the rest of src/): short probes (`probe`: python, nvidia-smi, git),
 * captured runs (ssh, sbatch, rsync, kubectl), process groups that run for a while (training runs),
 * detached servers and supervisors, and background helpers (an ssh tunnel).
 * execa is imported lazily: importing it costs about 100 ms of start-up and most commands never
 * start a process.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {closeSync, openSync} from 'node:fs';
import type {ResultPromise, Options} from 'execa';

export interface CaptureResult {
  ok: boolean;
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** The program could not be started (ENOENT, EACCES). */
  missing: boolean;
  timedOut: boolean;
}

/** Runs a program to completion and captures its output; never throws for a non-zero exit. */
export async function capture(
  file: string,
  args: readonly string[],
  opts: {cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string} = {},
): Promise<CaptureResult> {
  const {execa} = await import('execa');
  const r = await execa(file, args, {
    reject: false,
    cwd: opts.cwd,
    env: opts.env,
    timeout: opts.timeoutMs,
    ...(opts.input === undefined ? {stdin: 'ignore' as const} : {input: opts.input}),
  });
  const code = (r as {code?: string}).code;
  return {
    ok: r.exitCode === 0,
    exitCode: r.exitCode,
    signal: r.signal,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    missing: code === 'ENOENT' || code === 'EACCES',
    timedOut: Boolean(r.timedOut),
  };
}

/** Like `capture` but stdout as bytes (offset arithmetic on files must count bytes, not chars). */
export async function captureBytes(
  file: string,
  args: readonly string[],
  opts: {cwd?: string; timeoutMs?: number} = {},
): Promise<{ok: boolean; exitCode: number | undefined; stdout: Buffer; stderr: string; missing: boolean; timedOut: boolean}> {
  const {execa} = await import('execa');
  // stripFinalNewline would eat the newline that ends the last whole line.
  const r = await execa(file, args, {reject: false, encoding: 'buffer', stripFinalNewline: false, stdin: 'ignore', cwd: opts.cwd, timeout: opts.timeoutMs});
  const code = (r as {code?: string}).code;
  return {
    ok: r.exitCode === 0,
    exitCode: r.exitCode,
    stdout: Buffer.from(r.stdout ?? []),
    stderr: Buffer.from(r.stderr ?? []).toString('utf8'),
    missing: code === 'ENOENT' || code === 'EACCES',
    timedOut: Boolean(r.timedOut),
  };
}

/**
 * Runs a program with this terminal's stdout and stderr (installers the user watches), stdin
 * closed; resolves with its exit code (null when it could not start or was killed).
 */
export async function runInherited(file: string, args: readonly string[], opts: {env?: Record<string, string>} = {}): Promise<number | null> {
  const {execa} = await import('execa');
  const r = await execa(file, args, {reject: false, stdio: ['ignore', 'inherit', 'inherit'], env: opts.env});
  return r.exitCode ?? null;
}

/** A short probe of a program (version checks, nvidia-smi, git): `capture` with a 20 s default timeout. */
export const probe = (
  file: string,
  args: readonly string[],
  opts: {cwd?: string; env?: Record<string, string>; timeoutMs?: number} = {},
): Promise<CaptureResult> => capture(file, args, {...opts, timeoutMs: opts.timeoutMs ?? 20_000});

export interface SpawnedProcess {
  pid: number;
  /** Settles when the process exits; never rejects. */
  exited: Promise<{exitCode: number | null; signal: string | null; error?: string}>;
  /** Lines of stdout and stderr, merged, as they come. */
  onLine(cb: (line: string, stream: 'stdout' | 'stderr') => void): void;
}

/**
 * Starts a process in its own process group (detached), so a signal to the group reaches its
 * children too and a terminal's Ctrl-C does not. Output is read line by line by the caller.
 */
export async function spawnGroup(
  file: string,
  args: readonly string[],
  opts: {cwd: string; env: Record<string, string>; extendEnv?: boolean},
): Promise<SpawnedProcess> {
  const {execa} = await import('execa');
  const options: Options = {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    detached: true,
    reject: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    cleanup: false,
  };
  const child = execa(file, args, options) as ResultPromise;
  const listeners: Array<(line: string, stream: 'stdout' | 'stderr') => void> = [];
  const pump = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') => {
    if (!stream) return;
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) for (const l of listeners) l(p, name);
    });
    stream.on('end', () => {
      if (rest) for (const l of listeners) l(rest, name);
      rest = '';
    });
  };
  pump(child.stdout, 'stdout');
  pump(child.stderr, 'stderr');
  const exited = child.then(
    (r) => ({
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      error: r.failed && r.exitCode === undefined && !r.signal ? String(r.shortMessage ?? r.message) : undefined,
    }),
    (error: unknown) => ({exitCode: null, signal: null, error: String((error as Error)?.message ?? error)}),
  );
  if (child.pid === undefined) {
    const r = await exited;
    throw Object.assign(new Error(r.error ?? `could not start ${file}`), {code: 'ENOENT'});
  }
  return {pid: child.pid, exited, onLine: (cb) => listeners.push(cb)};
}

export interface DetachedProcess {
  pid: number;
  /** The exit code once the process has exited (it may outlive us: then this stays null). */
  exitCode(): number | null;
  kill(signal?: NodeJS.Signals): void;
  /** Settles when the process exits, while this process lives to see it; never rejects. */
  exited: Promise<{exitCode: number | null; signal: string | null; error?: string}>;
}

/**
 * Starts a process that outlives this one (a run's supervisor, a detached server): its own session
 * and process group, stdin closed, stdout and stderr appended to `logFile`, not waited for.
 */
export function spawnDetached(
  file: string,
  args: readonly string[],
  opts: {cwd: string; logFile: string; env?: NodeJS.ProcessEnv},
): DetachedProcess {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, args, {cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env});
  } finally {
    closeSync(fd);
  }
  let exited: number | null = null;
  const done = new Promise<{exitCode: number | null; signal: string | null; error?: string}>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = code ?? 1;
      resolve({exitCode: code, signal});
    });
    child.on('error', (error) => {
      exited ??= 1;
      resolve({exitCode: null, signal: null, error: error.message});
    });
  });
  child.unref();
  return {pid: child.pid ?? 0, exitCode: () => exited, kill: (signal = 'SIGTERM') => void child.kill(signal), exited: done};
}

export interface BackgroundProcess {
  /** True once the process has exited (or could not start). */
  exited(): boolean;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts a helper that lives only while we need it (an `ssh -L` tunnel): no stdio, killed by the caller. */
export function spawnBackground(file: string, args: readonly string[]): BackgroundProcess {
  const child = spawn(file, args, {stdio: 'ignore'});
  let failed = false;
  child.on('error', () => (failed = true));
  return {exited: () => failed || child.exitCode !== null || child.signalCode !== null, kill: (signal = 'SIGTERM') => void child.kill(signal)};
}
