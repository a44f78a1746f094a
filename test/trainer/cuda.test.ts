/**
 * The trainer's CUDA path (bf16 autocast, SDPA, the ONNX export from a CUDA model). Runs only where
 * torch sees a GPU; on a machine without one it is skipped and says so in its name. The GPU
 * figures (tokens/s, MFU) come from bench/trainer-gpu.sh on a lent GPU machine: docs/benchmarks.md.
 */
import {execFileSync} from 'node:child_process';
import {describe, expect, it} from 'vitest';
import {checkParity} from '../../src/lib/runtime/parity.js';
import {losses, makeSpec, makeTextDataset, PYTHON, runTrainer, tempDir} from './helpers.js';

function cudaAvailable(): boolean {
  try {
    return execFileSync(PYTHON, ['-c', 'import torch; print(torch.cuda.is_available())'], {encoding: 'utf8', timeout: 60_000}).trim() === 'True';
  } catch {
    return false;
  }
}

const CUDA = cudaAvailable();

describe.skipIf(!CUDA)(CUDA ? 'the trainer on a CUDA GPU' : 'the trainer on a CUDA GPU (skipped: torch sees no GPU on this machine)', () => {
  it('trains with bf16 autocast and SDPA on the GPU, reports it, and exports an ONNX model that matches torch', async () => {
    const root = tempDir('llmops-trainer-cuda-');
    const ds = makeTextDataset(root);
    const spec = makeSpec(root, 'cuda', ds, {max_steps: 30, export: true, threads: null});
    const r = await runTrainer(spec);
    expect(r.code, r.stderr).toBe(0);
    const start = r.events.find((e) => e.type === 'status' && e.status === 'running') as {env?: {device?: string; gpu?: string | null; sdpa?: boolean}};
    expect(start.env?.device).toMatch(/^cuda/);
    expect(start.env?.gpu).toBeTruthy();
    const l = [...losses(r.events).values()];
    expect(l.every((x) => Number.isFinite(x))).toBe(true);
    expect(l.at(-1)!).toBeLessThan(l[0]!);
    const parity = await checkParity(`${spec.run_dir}/model`);
    expect(parity.ok, JSON.stringify(parity)).toBe(true);
  });
});
