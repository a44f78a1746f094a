/**
 * Finding a Python interpreter that can run the trainer (has torch), and describing it.
 * Debian's python3-torch installs into /usr/bin/python3, which is often NOT the `python3` first on
 * PATH (pyenv, conda): so we probe a list of candidates instead of trusting PATH.
 */
import {probe} from '../system/exec.js';
import {errorLine} from './probe-output.js';

export interface PythonInfo {
  command: string;
  found: boolean;
  version?: string;
  torch?: string;
  cuda?: string | null;
  gpuCount?: number;
  /** Only probed when asked (`{hf: true}`): importing transformers takes seconds. */
  transformers?: string | null;
  peft?: string | null;
  /** Why `import torch` failed, when it did. */
  error?: string;
  /**
   * Errors printed on stderr although the probe went on (exit 0): at start-up (a broken
   * sitecustomize), while importing torch (NumPy's "compiled using NumPy 1.x" traceback), transformers
   * or peft. The line that names each; absent when that step printed none.
   */
  printed?: Partial<Record<ProbeStep, string>>;
}

export type ProbeStep = 'startup' | 'torch' | 'transformers' | 'peft';

// Marks on stderr between the steps, so what an import prints is told apart from the others.
const MARK = '@@llmops-probe:';

const probeScript = (hf: boolean) => `
import json, sys
def step(name):
    sys.stdout.flush()
    sys.stderr.write("\\n${MARK}%s\\n" % name)
    sys.stderr.flush()
info = {"version": "%d.%d.%d" % sys.version_info[:3]}
step("torch")
try:
    import torch
    info["torch"] = torch.__version__
    info["cuda"] = torch.version.cuda if torch.cuda.is_available() else None
    info["gpuCount"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
except Exception as e:
    info["torchError"] = (str(e).splitlines() or [type(e).__name__])[0][:200]
${
  hf
    ? `for name in ("transformers", "peft"):
    step(name)
    try:
        info[name] = __import__(name).__version__
    except Exception:
        info[name] = None
`
    : ''
}step("end")
print(json.dumps(info))
`;

/** Splits the probe's stderr at its marks into what each step printed. */
function printedBySteps(stderr: string): Partial<Record<ProbeStep, string>> {
  const out: Partial<Record<ProbeStep, string>> = {};
  let current: string = 'startup';
  const chunks: Record<string, string[]> = {};
  for (const line of stderr.split('\n')) {
    if (line.startsWith(MARK)) current = line.slice(MARK.length).trim();
    else (chunks[current] ??= []).push(line);
  }
  for (const [name, lines] of Object.entries(chunks)) {
    // Output after the last step (interpreter exit) is counted against start-up: the interpreter.
    const step = (name === 'end' ? 'startup' : name) as ProbeStep;
    const line = errorLine(lines.join('\n'));
    if (line && !out[step]) out[step] = line;
  }
  return out;
}

/** Runs `command` to learn its Python and torch versions (and transformers/peft with `hf`). */
export async function describePython(command: string, opts: {hf?: boolean} = {}): Promise<PythonInfo> {
  const r = await probe(command, ['-c', probeScript(Boolean(opts.hf))], {timeoutMs: 60_000});
  if (r.missing) return {command, found: false, error: `${command}: not found`};
  if (!r.ok) return {command, found: false, error: errorLine(r.stderr) ?? ((r.stderr || r.stdout).trim().split('\n').at(-1) || `exit ${r.exitCode}`)};
  const printed = printedBySteps(r.stderr);
  try {
    const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PythonInfo & {torchError?: string};
    return {
      command,
      found: true,
      version: j.version,
      torch: j.torch,
      cuda: j.cuda ?? null,
      gpuCount: j.gpuCount ?? 0,
      ...(opts.hf ? {transformers: j.transformers ?? null, peft: j.peft ?? null} : {}),
      error: j.torchError,
      printed,
    };
  } catch {
    return {command, found: true, error: `unexpected output: ${r.stdout.slice(0, 200)}`, printed};
  }
}

export const PYTHON_CANDIDATES = ['python3', '/usr/bin/python3', 'python'];

/** The first candidate that has torch; else the first that runs at all; else undefined. */
export async function findTrainerPython(candidates = PYTHON_CANDIDATES): Promise<PythonInfo | undefined> {
  let fallback: PythonInfo | undefined;
  for (const c of candidates) {
    const info = await describePython(c);
    if (info.found && info.torch) return info;
    if (info.found) fallback ??= info;
  }
  return fallback;
}
