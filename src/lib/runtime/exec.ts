/**
 * The project's one execa wrapper: short probes (`probe`: python, nvidia-smi, git) and processes
 * that run for a while (training runs, ssh, sbatch, rsync). execa is imported lazily: it costs ~100 ms of
 * start-up (FACTS.md) and most commands never start a process.
 */
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
