/**
 * Running a short-lived external program (python probes, nvidia-smi, ssh -V...) through execa,
 * loaded lazily because importing execa costs ~100 ms of start-up (FACTS.md).
 */
export interface ProbeResult {
  ok: boolean;
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (ENOENT...). */
  missing: boolean;
}

export async function probe(
  file: string,
  args: readonly string[],
  opts: {timeoutMs?: number; cwd?: string; env?: Record<string, string>} = {},
): Promise<ProbeResult> {
  const {execa} = await import('execa');
  const r = await execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs ?? 20_000,
    cwd: opts.cwd,
    env: opts.env,
    stdin: 'ignore',
  });
  const missing = (r as {code?: string}).code === 'ENOENT' || /ENOENT/.test(String(r.message ?? ''));
  return {
    ok: r.exitCode === 0,
    exitCode: r.exitCode,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    missing,
  };
}
