/**
 * Finding a Python interpreter that can run the trainer (has torch), and describing it.
 * Debian's python3-torch installs into /usr/bin/python3, which is often NOT the `python3` first on
 * PATH (pyenv, conda): so we probe a list of candidates instead of trusting PATH.
 */
import {probe} from '../system/exec.js';

export interface PythonInfo {
  command: string;
  found: boolean;
  version?: string;
  torch?: string;
  cuda?: string | null;
  gpuCount?: number;
  transformers?: string | null;
  error?: string;
}

const PROBE = `
import json, sys
info = {"version": "%d.%d.%d" % sys.version_info[:3]}
try:
    import torch
    info["torch"] = torch.__version__
    info["cuda"] = torch.version.cuda if torch.cuda.is_available() else None
    info["gpuCount"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
except Exception as e:
    info["torchError"] = str(e).splitlines()[0][:200]
try:
    import transformers
    info["transformers"] = transformers.__version__
except Exception:
    info["transformers"] = None
print(json.dumps(info))
`;

export async function describePython(command: string): Promise<PythonInfo> {
  const r = await probe(command, ['-c', PROBE], {timeoutMs: 60_000});
  if (r.missing) return {command, found: false, error: `${command}: not found`};
  if (!r.ok) return {command, found: false, error: (r.stderr || r.stdout).trim().split('\n').at(-1) ?? `exit ${r.exitCode}`};
  try {
    const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as PythonInfo & {torchError?: string};
    return {command, found: true, version: j.version, torch: j.torch, cuda: j.cuda ?? null, gpuCount: j.gpuCount ?? 0, transformers: j.transformers, error: j.torchError};
  } catch {
    return {command, found: true, error: `unexpected output: ${r.stdout.slice(0, 200)}`};
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
