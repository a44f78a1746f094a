/**
 * The promote stage: the candidate (the upstream eval's model) against the alias's current holder.
 * The holder is measured the same way as the candidate, on the candidate's dataset, so the two
 * numbers compare. On a failed check the alias stays and the stage fails (exit 7) with the table.
 */
import {registerModel, moveAlias} from '../registry/registry.js';
import {compactSummary, evaluate, type EvalSummary} from './eval-adapter.js';
import {renderChecks, runChecks, type GateCheck} from './gate.js';
import {nearestUpstream, type Stage} from './graph.js';
import {StageFailure, type StageContext, type StageOutput} from './kinds.js';
import {usageError} from '../errors.js';
import {versionTarget} from '../registry/resolve.js';

export async function promoteCandidate(ctx: StageContext, stage: Stage, o: {model: string; alias: string; checks: GateCheck[]}): Promise<StageOutput> {
  const evalStage = nearestUpstream(ctx.graph, stage, ['eval']);
  const ev = evalStage ? ctx.outputs.get(evalStage.name) : undefined;
  if (!ev?.runId || !ev.eval) {
    throw usageError(`Stage "${stage.name}" (promote) needs an eval stage before it: a model is promoted on its eval results.`, {fix: 'Try this: add an `eval` stage and `needs: [eval]`.'});
  }
  const cand = ev.eval;
  const reg = ctx.ledger.registry;
  const cur = reg.lastAliasMove(o.model, o.alias);
  const holderRow = cur ? reg.version(o.model, cur.to_version) : undefined;
  const candVersion = reg.versionOfRun(o.model, ev.runId);
  if (holderRow && candVersion && holderRow.version === candVersion.version) {
    ctx.progress(`  ${o.model}@${o.alias} already points at v${holderRow.version} (${ev.runId})`);
    return {id: `${o.model}@v${holderRow.version}`, runId: ev.runId, model: {name: o.model, alias: o.alias, version: holderRow.version, from: holderRow.version, moved: false}, checks: []};
  }
  let holder: EvalSummary | null = null;
  if (holderRow) {
    const t = versionTarget(ctx.ledger, holderRow);
    const ref = `${o.model}@v${holderRow.version}`;
    ctx.progress(`  measuring the holder ${o.model}@${o.alias} (v${holderRow.version}) the same way`);
    holder = await evaluate({ledger: ctx.ledger, loaded: ctx.loaded, model: {runId: t.runId ?? null, dir: t.dir ?? null, ref: t.runId ?? t.dir ?? ref}, dataset: cand.dataset ?? null, options: evalStage!.options, progress: ctx.progress});
  }
  const results = runChecks(o.checks, cand, holder);
  for (const line of renderChecks(results)) ctx.progress(`  ${line}`);
  const comparison = {candidate: compactSummary(cand), holder: holder ? {...compactSummary(holder), version: `v${holderRow!.version}`} : null, checks: results};
  if (results.some((r) => !r.pass)) {
    throw new StageFailure(
      'SLO_BREACHED',
      `${ev.runId} was not promoted to ${o.model}@${o.alias}${holderRow ? ` (stays at v${holderRow.version})` : ''}:\n${renderChecks(results.filter((r) => !r.pass)).map((l) => `  ${l}`).join('\n')}`,
      {runId: ev.runId, checks: results, comparison},
    );
  }
  const {version: v} = registerModel(ctx.ledger, ctx.loaded.root, o.model, ev.runId);
  const moved = moveAlias(ctx.ledger, {
    name: o.model,
    alias: o.alias,
    version: v.version,
    reason: `pipeline ${ctx.executionId}: passed ${results.length} check${results.length === 1 ? '' : 's'}`,
    actor: `pipeline:${ctx.executionId}`,
    evalSummary: {...compactSummary(cand), holder: comparison.holder},
  });
  ctx.progress(`  ${o.model}@${o.alias}: ${moved.from === null ? '(new)' : `v${moved.from}`} -> v${v.version}`);
  return {id: `${o.model}@v${v.version}`, runId: ev.runId, model: {name: o.model, alias: o.alias, version: v.version, from: moved.from, moved: moved.moved}, checks: results, comparison};
}
