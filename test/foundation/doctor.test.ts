/**
 * `llmops doctor` judges a check by what really happened, not by the exit code alone, and reports
 * transformers/peft as optional when the project fine-tunes a Hugging Face base. The broken
 * programs are fakes on PATH (a Python whose torch prints NumPy's traceback and carries on; Slurm
 * and kubectl tools that print errors): the boundary is the program's output, which we control.
 * The Python interpreter under the fakes is the real one.
 */
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {PYTHON, runCli, tempDir} from '../helpers/cli.js';

interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
  fix?: string;
}

// What torch 1.x prints on import under NumPy 2 (abridged): a traceback, and the import goes on.
const NUMPY_TRACEBACK = `A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.0.0 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.
Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/usr/lib/python3/dist-packages/torch/__init__.py", line 1, in <module>
ImportError: numpy.core.multiarray failed to import
`;

/** A project whose `python` is `python3` from a PATH led by a bin/ of fakes; returns its env. */
function project(opts: {yaml?: string; torchPrints?: string; modules?: Record<string, string>; tools?: Record<string, string>}) {
  const dir = tempDir('llmops-doctor-');
  const bin = path.join(dir, 'fakebin');
  const site = path.join(dir, 'fakesite');
  mkdirSync(bin);
  mkdirSync(path.join(site, 'torch'), {recursive: true});
  // A stand-in torch module: the interpreter is real, the package is ours (no torch needed here).
  writeFileSync(
    path.join(site, 'torch', '__init__.py'),
    [
      'import sys, types',
      `sys.stderr.write(${JSON.stringify(opts.torchPrints ?? '')})`,
      '__version__ = "2.3.1"',
      'version = types.SimpleNamespace(cuda=None)',
      'cuda = types.SimpleNamespace(is_available=lambda: False, device_count=lambda: 0)',
      '',
    ].join('\n'),
  );
  for (const [name, code] of Object.entries(opts.modules ?? {})) writeFileSync(path.join(site, `${name}.py`), code);
  const script = (body: string) => `#!/bin/sh\n${body}\n`;
  writeFileSync(path.join(bin, 'python3'), script(`PYTHONPATH=${site} exec ${PYTHON} -S "$@"`));
  chmodSync(path.join(bin, 'python3'), 0o755);
  for (const [name, body] of Object.entries(opts.tools ?? {})) {
    writeFileSync(path.join(bin, name), script(body));
    chmodSync(path.join(bin, name), 0o755);
  }
  writeFileSync(path.join(dir, 'llmops.yaml'), `name: doc\npython: python3\n${opts.yaml ?? ''}`);
  return {dir, env: {PATH: `${bin}${path.delimiter}${process.env.PATH}`, LLMOPS_DB: undefined}};
}

async function doctor(p: {dir: string; env: Record<string, string | undefined>}) {
  const json = await runCli(['doctor', '--json'], {cwd: p.dir, env: p.env});
  const human = await runCli(['doctor'], {cwd: p.dir, env: p.env});
  const checks = (json.json as {checks: Check[]}).checks;
  return {json, human, check: (name: string) => checks.find((c) => c.name === name), names: checks.map((c) => c.name)};
}

describe('llmops doctor', () => {
  it('an import torch that exits 0 but prints a traceback is failed, with the exception line and a fix; exit 8', async () => {
    const r = await doctor(project({torchPrints: NUMPY_TRACEBACK}));
    expect(r.json.code).toBe(8);
    expect(r.json.json.ok).toBe(false);
    expect(r.check('python')).toMatchObject({ok: true, required: true});
    const torch = r.check('torch')!;
    expect(torch).toMatchObject({ok: false, required: true});
    expect(torch.detail).toBe('import torch (2.3.1) printed an error: ImportError: numpy.core.multiarray failed to import');
    expect(torch.fix).toContain(`python3 -c "import torch"`);
    expect(r.human.code).toBe(8);
    expect(r.human.stdout).toMatch(/^FAIL {2}torch +import torch \(2\.3\.1\) printed an error: ImportError: numpy/m);
    expect(r.human.stderr).toContain('Missing: torch.');
  });

  it('the same torch printing nothing is ok: exit 0, and no transformers/peft check without a Hugging Face base', async () => {
    const r = await doctor(project({}));
    expect(r.check('torch')).toMatchObject({ok: true, detail: 'torch 2.3.1 (CPU)'});
    expect(r.json.code).toBe(0);
    expect(r.names).not.toContain('transformers');
    expect(r.names).not.toContain('peft');
  });

  it('a tool that exits 0 printing "error:", or exits 1 with output, is failed (required ones make doctor exit 8)', async () => {
    const p = project({
      yaml: 'backends:\n  local: {type: local}\n  cluster: {type: slurm, partition: debug}\n',
      tools: {
        sbatch: 'echo "slurm-wlm 22.05.8"; echo "sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host" >&2; exit 0',
        squeue: 'echo "slurm-wlm 22.05.8"',
        kubectl: 'echo "error: unknown flag: --client" >&2; exit 1',
      },
    });
    const r = await doctor(p);
    expect(r.check('sbatch')).toMatchObject({ok: false, required: true});
    expect(r.check('sbatch')!.detail).toContain('exit 0 but printed: sbatch: error: resolve_ctls_from_dns_srv');
    expect(r.check('squeue')).toMatchObject({ok: true, required: true, detail: 'slurm-wlm 22.05.8'});
    // Not needed by this project's backends: failed, but only a warning.
    expect(r.check('kubectl')).toMatchObject({ok: false, required: false});
    expect(r.check('kubectl')!.detail).toContain('exit 1: error: unknown flag: --client');
    expect(r.json.code).toBe(8);
    expect(r.human.stdout).toMatch(/^FAIL {2}sbatch /m);
    expect(r.human.stdout).toMatch(/^warn {2}kubectl /m);
    // Installing slurm-client again would not fix a tool that is there and misconfigured.
    expect(r.json.json.install).toEqual([]);
  });

  it('with finetune.base hf:..., transformers and peft are reported as optional: missing ones warn, exit stays 0', async () => {
    const missing = await doctor(project({yaml: 'finetune:\n  base: hf:Qwen/Qwen2.5-0.5B-Instruct\n'}));
    expect(missing.json.code).toBe(0);
    for (const name of ['transformers', 'peft']) {
      const c = missing.check(name)!;
      expect(c).toMatchObject({ok: false, required: false});
      expect(c.detail).toMatch(/^not importable by python3 \(optional for hf:Qwen\/Qwen2\.5-0\.5B-Instruct: the trainer fine-tunes llama, .*qwen2.* bases with its own torch modules/);
      expect(missing.human.stdout).toMatch(new RegExp(`^warn {2}${name} `, 'm'));
    }

    const present = await doctor(
      project({
        yaml: 'finetune:\n  base: hf:Qwen/Qwen2.5-0.5B-Instruct\n',
        modules: {transformers: '__version__ = "4.57.1"\n', peft: 'import sys\nsys.stderr.write("peft: error: no accelerate\\n")\n__version__ = "0.17.0"\n'},
      }),
    );
    expect(present.json.code).toBe(0);
    expect(present.check('transformers')).toMatchObject({ok: true, required: false});
    expect(present.check('transformers')!.detail).toMatch(/^transformers 4\.57\.1 \(optional/);
    // Its own import printed an error: failed, and said so, but still only a warning.
    expect(present.check('peft')).toMatchObject({ok: false, required: false});
    expect(present.check('peft')!.detail).toMatch(/^import peft printed an error: peft: error: no accelerate/);
  });
});
