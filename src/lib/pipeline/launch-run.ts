/**
 * A train or finetune stage: the same preparation, budget check and launch as `llmops train` /
 * `llmops finetune` (the runtime's startRun()), followed to its end. The stage fails with the
 * run's own exit code when the run does not succeed.
 */
import type {Stage} from './graph.js';
import {StageFailure, type StageContext, type StageOutput} from './kinds.js';

export async function launchStageRun(ctx: StageContext, stage: Stage, o: {section: Record<string, unknown>; dataset?: string; base?: string}): Promise<StageOutput> {
  const {startRun} = await import('../runtime/start-run.js');
  const {followRun} = await import('../runtime/attach.js');
  const kind = stage.kind as 'train' | 'finetune';
  // The stage's options become the section this run sees (finetune.lora.r: 4 for this stage only).
  const loaded = {...ctx.loaded, config: {...ctx.loaded.config, [kind]: o.section}};
  let base = o.base;
  let baseSource: {ref: string; revision: string | null} | undefined;
  if (kind === 'finetune' && base) {
    const {baseFromRegistry} = await import('../registry/resolve.js');
    base = baseFromRegistry(ctx.ledger, ctx.loaded.root, base);
    if (base?.startsWith('hf:')) {
      const {fetchHubBase} = await import('../runtime/hub-base.js');
      ctx.progress(`  downloading ${base} from the Hugging Face Hub...`);
      const hub = await fetchHubBase(base, loaded, {progress: (m) => ctx.progress(`  ${m}`)});
      baseSource = {ref: base, revision: hub.revision};
      base = hub.dir;
    }
  }
  const started = await startRun(ctx.ledger, loaded, {kind, dataset: o.dataset, base, baseSource, name: `pipeline:${stage.name}`}, {
    progress: (m) => ctx.progress(`  ${m}`),
  });
  const run = started.run!;
  ctx.progress(`  run ${run.id} (${run.kind}) on ${run.backend}`);
  let last = 0;
  const final = await followRun(ctx.ledger, run.id, {
    onUpdate: (r) => {
      if (Date.now() - last < 10_000) return;
      last = Date.now();
      const loss = ctx.ledger.metricSummary(r.id).loss;
      ctx.progress(`  ${r.id} ${r.status}${loss ? ` step ${loss.lastStep} loss ${loss.last.toFixed(4)}` : ''}`);
    },
  });
  const out: StageOutput = {id: final.id, runId: final.id, modelDir: `${final.run_dir}/model`, datasetId: final.dataset_id ?? undefined};
  if (final.status !== 'succeeded') {
    const code = final.status === 'budget_exceeded' ? 'BUDGET_EXCEEDED' : final.status === 'stopped' ? 'RUN_STOPPED' : 'RUN_FAILED';
    throw new StageFailure(code, `Run ${final.id} ${final.status}${final.reason ? `: ${final.reason}` : ''}.`, out);
  }
  return out;
}
