/**
 * The deploy stage: serves the promoted alias (or the upstream run) in the background, as
 * `llmops deploy --detach` does. A deployment of the same name that is running is stopped first,
 * so a pipeline run replaces what it served before.
 */
import type {Stage} from './graph.js';
import {nearestUpstream} from './graph.js';
import {usageError} from '../errors.js';
import type {StageContext, StageOutput} from './kinds.js';

export async function deployStage(ctx: StageContext, stage: Stage, section: Record<string, unknown>): Promise<StageOutput> {
  const up = nearestUpstream(ctx.graph, stage, ['promote', 'export', 'finetune', 'train']);
  const out = up ? ctx.outputs.get(up.name) : undefined;
  const model = (section.model as string | null) ?? (out?.model ? `${out.model.name}@${out.model.alias}` : out?.runId);
  if (!model) throw usageError(`Stage "${stage.name}" (deploy) has no model: give options.model (NAME@ALIAS) or put it after a promote, train or finetune stage.`);
  const name = String(section.name);
  const {stopLocal, reconcile} = await import('../serve/deployments.js');
  const running = ctx.ledger.findDeployment(name);
  if (running && running.status === 'running' && reconcile(ctx.ledger, running).status === 'running') {
    ctx.progress(`  stopping ${name} (${running.id}) to serve ${model}`);
    await stopLocal(ctx.ledger, running);
  }
  const {deployLocal} = await import('../serve/deploy.js');
  const {CLI_BIN} = await import('../runtime/launch.js');
  const r = await deployLocal(
    {model, name, host: section.host as string, port: section.port as number, detach: true, bin: ctx.cliBin ?? CLI_BIN, ...(ctx.loaded.file ? {configFlag: ctx.loaded.file} : {}), progress: (m) => ctx.progress(`  ${m}`)},
    ctx.loaded,
    ctx.ledger,
  );
  return {id: `${r.id}`, deploymentId: r.id, url: r.url, model: out?.model, runId: r.modelRunId ?? undefined};
}
