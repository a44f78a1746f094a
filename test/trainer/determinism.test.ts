import {describe, expect, it} from 'vitest';
import {losses, makeSpec, makeTextDataset, runTrainer, tempDir} from './helpers.js';

describe('trainer determinism on the CPU', () => {
  it('the same seed and data give the same loss at every step (1 thread); another seed does not', async () => {
    const root = tempDir('llmops-trainer-det-');
    const ds = makeTextDataset(root);
    const a = await runTrainer(makeSpec(root, 'a', ds, {max_steps: 25, threads: 1}));
    const b = await runTrainer(makeSpec(root, 'b', ds, {max_steps: 25, threads: 1}));
    const c = await runTrainer(makeSpec(root, 'c', ds, {max_steps: 25, threads: 1, seed: 99}));
    for (const r of [a, b, c]) expect(r.code, r.stderr).toBe(0);
    const la = [...losses(a.events).entries()];
    const lb = [...losses(b.events).entries()];
    expect(la.length).toBe(25);
    expect(lb).toEqual(la);
    const lc = [...losses(c.events).values()];
    expect(lc).not.toEqual(la.map(([, v]) => v));
  });
});
