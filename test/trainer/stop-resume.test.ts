import {existsSync, readdirSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {losses, makeSpec, makeTextDataset, python, readEvents, runTrainer, startTrainer, tempDir, waitFor} from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function untilStep(runDir: string, step: number, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (readEvents(runDir).some((e) => e.type === 'metric' && e.step >= step)) return;
    await sleep(10);
  }
  throw new Error(`no metric for step ${step} within ${timeoutMs} ms`);
}

describe('trainer stop and resume', () => {
  it('SIGTERM finishes the step, checkpoints, reports stopped and exits 0; resuming gives the uninterrupted losses', async () => {
    const root = tempDir('llmops-trainer-stop-');
    const ds = makeTextDataset(root);
    const extra = {max_steps: 300, seed: 5};
    const full = await runTrainer(makeSpec(root, 'full', ds, extra));
    expect(full.code, full.stderr).toBe(0);

    const stoppedSpec = makeSpec(root, 'stopped', ds, extra);
    const child = startTrainer(stoppedSpec);
    const done = waitFor(child, stoppedSpec.run_dir);
    await untilStep(stoppedSpec.run_dir, 10);
    child.kill('SIGTERM');
    const stopped = await done;
    expect(stopped.code, stopped.stderr).toBe(0);
    const last = stopped.events.at(-1)!;
    expect(last).toMatchObject({type: 'status', status: 'stopped', reason: 'SIGTERM'});
    const k: number = last.step;
    expect(k).toBeGreaterThanOrEqual(10);
    expect(k).toBeLessThan(300);
    const ck = stopped.events.find((e) => e.type === 'checkpoint')!;
    expect(ck.step).toBe(k);
    expect(existsSync(path.join(ck.path, 'model.pt'))).toBe(true);
    const latest = readFileSync(path.join(stoppedSpec.run_dir, 'checkpoints', 'latest'), 'utf8').trim();
    expect(path.join(stoppedSpec.run_dir, 'checkpoints', latest)).toBe(ck.path);

    // Resume the way `llmops train --resume` does: a new run dir whose spec points at the old run.
    const resumed = await runTrainer(makeSpec(root, 'resumed', ds, {...extra, resume_from: stoppedSpec.run_dir}));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.events[0]).toMatchObject({type: 'status', status: 'running', start_step: k});
    const want = losses(full.events);
    const got = losses(resumed.events);
    expect(Math.min(...got.keys())).toBe(k + 1);
    expect(got.size).toBe(300 - k);
    for (const [step, loss] of got) expect(loss, `step ${step}`).toBe(want.get(step));
  });

  it('a trainer killed with SIGKILL while checkpointing every step leaves `latest` on a complete checkpoint', async () => {
    const root = tempDir('llmops-trainer-kill-');
    const ds = makeTextDataset(root);
    for (const [i, delay] of [150, 400, 900].entries()) {
      const spec = makeSpec(root, `k${i}`, ds, {max_steps: 100000, checkpoint_every: 1});
      const child = startTrainer(spec);
      const done = waitFor(child, spec.run_dir);
      await untilStep(spec.run_dir, 2);
      await sleep(delay);
      child.kill('SIGKILL');
      const r = await done;
      expect(r.signal).toBe('SIGKILL');
      const ckDir = path.join(spec.run_dir, 'checkpoints');
      // What resume would pick must load completely.
      const check = await python(`
import json, os, torch, checkpoint
d = checkpoint.resolve(${JSON.stringify(spec.run_dir)})
st = checkpoint.load_state(d)
for f in ("model.pt", "optimizer.pt", "rng.pt"):
    torch.load(os.path.join(d, f))
print(json.dumps({"dir": d, "step": st["step"]}))
`);
      expect(check.step).toBeGreaterThanOrEqual(1);
      expect(readdirSync(ckDir).filter((n) => n.startsWith('step-')).length).toBeLessThanOrEqual(4);
    }
  });
});
