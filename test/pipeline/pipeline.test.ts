/**
 * The cached pipeline through the real CLI, in a project made by `llmops init` (its pipeline:
 * section as written; only the trainer is made smaller and faster with overrides, and the promote
 * check's ratio is set per step). Real data prep, real torch runs, real ledger.
 */
import {appendFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {PYTHON, runCli, spawnCli, tempDir} from '../helpers/cli.js';

const FAST_TRAIN = 'train:\n  preset: tiny\n  seed: 1337\n  max_steps: 20\n  overrides: {n_layer: 1, n_head: 2, n_embd: 32, context: 64, batch_size: 4, eval_every: 10}\n';
const FAST_FT = 'finetune:\n  method: lora\n  max_steps: 10\n  overrides: {batch_size: 4, eval_every: 5}\n';

function setYaml(dir: string, edit: (s: string) => string): void {
  const f = path.join(dir, 'llmops.yaml');
  writeFileSync(f, edit(readFileSync(f, 'utf8')));
}

const byName = (r: {json?: any}) => Object.fromEntries(r.json.stages.map((s: any) => [s.name, s]));

describe('llmops pipeline run', () => {
  it('runs the init pipeline, skips what is up to date, reruns what changed, gates promote, and refuses a concurrent run', {timeout: 600_000}, async () => {
    const root = tempDir('llmops-pipeline-');
    let r = await runCli(['init', 'proj', '--yes', '--python', PYTHON], {cwd: root});
    expect(r.code, r.stderr).toBe(0);
    const dir = path.join(root, 'proj');
    setYaml(dir, (s) =>
      s
        .replace(/train:\n  preset: tiny[^\n]*\n  seed: 1337\n/, FAST_TRAIN)
        .replace('finetune:\n  method: lora\n', FAST_FT)
        .replace('perplexity_ratio: {max: 1.02}', 'perplexity_ratio: {max: 1000}'),
    );
    const db = path.join(dir, '.llmops', 'llmops.db');
    const runCount = () => {
      const l = Ledger.open(db, {readonly: true});
      try {
        return l.countRuns();
      } finally {
        l.close();
      }
    };
    const cli = (...args: string[]) => runCli([...args, '--json'], {cwd: dir});

    // 1. A fresh project: every stage runs, chat@prod is created.
    r = await cli('pipeline', 'run');
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.json.stages.map((s: any) => [s.name, s.status])).toEqual([
      ['prep', 'succeeded'], ['train', 'succeeded'], ['finetune', 'succeeded'], ['eval', 'succeeded'], ['promote', 'succeeded'],
    ]);
    const first = byName(r);
    // The eval stage measured the candidate with the eval engine (perplexity on the test split).
    expect(first.eval.output.eval.source).toBe('llmops-eval');
    expect(first.eval.output.eval.perplexity.value).toBeGreaterThan(1);
    expect(first.promote.output.model).toMatchObject({name: 'chat', alias: 'prod', version: 1});
    expect(runCount()).toBe(2);

    // 2. Nothing changed: nothing is launched. (How quick a no-op run is, is a figure that
    // bench/pipeline.bench.mjs measures on a quiet machine, not a timed assertion here.)
    r = await cli('pipeline', 'run');
    expect(r.code).toBe(0);
    expect(r.json.stages.every((s: any) => s.status === 'skipped')).toBe(true);
    expect(byName(r).train.reason).toBe(`up to date: run ${first.train.output.runId}`);
    expect(runCount()).toBe(2);

    // 3. finetune.lora.r changed: finetune and what follows rerun, prep and train do not.
    setYaml(dir, (s) => s.replace('lora: {r: 8, alpha: 16}', 'lora: {r: 4, alpha: 16}'));
    r = await cli('pipeline', 'run', '--dry-run');
    let st = byName(r);
    expect([st.prep.decision, st.train.decision, st.finetune.decision, st.eval.decision]).toEqual(['skip', 'skip', 'run', 'run']);
    expect(st.finetune.reason).toBe('config finetune.lora.r');
    expect(st.eval.reason).toBe('upstream: finetune will run');
    expect(runCount()).toBe(2);
    const bg = spawnCli(['pipeline', 'run', '--json'], {cwd: dir});
    let bgOut = '';
    bg.stdout!.on('data', (c) => (bgOut += c));
    const bgDone = new Promise<number>((res) => bg.on('exit', (c) => res(c ?? -1)));
    const lock = path.join(dir, '.llmops', 'pipeline.lock');
    for (let i = 0; i < 200 && !existsSync(lock); i++) await new Promise((res) => setTimeout(res, 100));
    // 4. A second run while the first holds the lock is refused, not interleaved.
    r = await cli('pipeline', 'run');
    expect(r.code).toBe(2);
    expect(r.json.error.message).toMatch(/Another `llmops pipeline run` is in progress/);
    expect(await bgDone).toBe(0);
    st = byName({json: JSON.parse(bgOut)});
    expect([st.prep.status, st.train.status, st.finetune.status, st.eval.status, st.promote.status]).toEqual(['skipped', 'skipped', 'succeeded', 'succeeded', 'succeeded']);
    expect(st.finetune.output.runId).not.toBe(first.finetune.output.runId);
    expect(st.promote.output.model).toMatchObject({version: 2, from: 1});
    expect(runCount()).toBe(3);

    // 5. One input file touched: prep and everything after it rerun; a failing check blocks promote.
    setYaml(dir, (s) => s.replace('perplexity_ratio: {max: 1000}', 'perplexity_ratio: {max: 0.001}'));
    appendFileSync(path.join(dir, 'data', 'sample', 'corpus.jsonl'), JSON.stringify({text: 'A brand new document about owls and the night sky, added to the corpus.'}) + '\n');
    r = await cli('pipeline', 'run', '--dry-run');
    expect(byName(r).prep.reason).toBe('changed: data/sample/corpus.jsonl');
    r = await cli('pipeline', 'run');
    expect(r.code).toBe(7);
    st = byName(r);
    expect([st.prep.status, st.train.status, st.finetune.status, st.eval.status, st.promote.status]).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed']);
    expect(st.promote.error).toMatch(/was not promoted to chat@prod \(stays at v2\)/);
    expect(st.promote.error).toMatch(/perplexity [\d.]+ vs holder [\d.]+: <= 0.001x holder/);
    r = await cli('models', 'show', 'chat');
    expect(r.json.aliases.prod.version).toBe('v2');

    // 6. Rollback moves the alias back one step.
    r = await cli('models', 'rollback', 'chat@prod');
    expect(r.json).toMatchObject({from: 'v2', to: 'v1'});
    r = await runCli(['deploy', '--model', 'chat@prod', '--port', '0', '--detach', '--name', 'pl', '--json'], {cwd: dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.modelRunId).toBe(first.finetune.output.runId);
    await runCli(['deploy', 'stop', 'pl'], {cwd: dir});

    // 7. Lineage shows the pipeline stage that made the run and the registry version it became.
    r = await cli('lineage', first.finetune.output.runId);
    expect(r.json.pipeline[0]).toMatchObject({stage: 'finetune'});
    expect(r.json.registry).toEqual(expect.arrayContaining([expect.objectContaining({name: 'chat', version: 'v1', aliases: ['prod']})]));
    r = await cli('lineage', 'pl');
    expect(r.json.servedVersions[0]).toMatchObject({modelRef: 'chat@prod', version: 'v1'});
  });
});
