/**
 * What a probe's output says, beyond its exit code. Programs often exit 0 after printing an error:
 * `import torch` prints NumPy's "compiled using NumPy 1.x" traceback and carries on, a Slurm tool
 * prints "sbatch: error: ..." about its configuration, a Python prints "Error in sitecustomize".
 * doctor must not call those "ok", so its verdict reads the output as well as the exit code.
 */
import type {CaptureResult} from '../system/exec.js';

// A Python traceback header; an exception line (`ImportError: ...`, `RuntimeError: ...`); a tool's
// `error:` / `fatal:` prefix (`sbatch: error: ...`, `error: unknown flag`); "Error in sitecustomize".
const ERROR_LINE = [
  /^Traceback \(most recent call last\):/,
  /^\s*(?:[\w.]+\.)?\w*(?:Error|Exception): /,
  /(?:^|[\s:[(])(?:error|fatal)\s*:/i,
  /^Error in \w+/,
];

/**
 * The line that best names the error printed in `text`, or undefined when none was: the last
 * exception line when there is a traceback (it says what went wrong), else the first error line.
 */
export function errorLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd());
  const hits = lines.filter((l) => ERROR_LINE.some((re) => re.test(l)));
  if (hits.length === 0) return undefined;
  const exception = hits.filter((l) => ERROR_LINE[1]!.test(l) && !ERROR_LINE[0]!.test(l)).at(-1);
  return (exception ?? hits[0]!).trim().slice(0, 200);
}

export interface ProbeVerdict {
  ok: boolean;
  /** The first line of output (a version string) when ok; what went wrong when not. */
  detail: string;
}

/** ok only when the program started, exited 0 in time and printed no error. */
export function probeVerdict(r: CaptureResult): ProbeVerdict {
  const output = [r.stdout, r.stderr].filter(Boolean).join('\n');
  const first = output.trim().split('\n')[0]?.trim() ?? '';
  if (r.missing) return {ok: false, detail: 'not found'};
  if (r.timedOut) return {ok: false, detail: 'timed out'};
  const printed = errorLine(output);
  if (!r.ok) return {ok: false, detail: `exit ${r.exitCode ?? r.signal}: ${printed ?? (output.trim().split('\n').at(-1) || 'no output')}`};
  if (printed) return {ok: false, detail: `exit 0 but printed: ${printed}`};
  return {ok: true, detail: first};
}
