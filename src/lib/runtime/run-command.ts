/**
 * What `llmops train` and `llmops finetune` do once their flags are parsed: dry-run, monthly
 * budget check, launch, then detach or follow the run to its end with a live status line.
 */
import {existsSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {ExitCode} from '../errors.js';
import type {Ledger, RunRow, RunStatus} from '../ledger/ledger.js';
import {canPrompt} from '../ui/output.js';
import {formatUsd} from '../util/format.js';
import {formatDuration} from '../util/time.js';
import type {RunEstimate} from '../cost/estimate.js';
import type {MonthlyBudgetCheck} from '../cost/budget.js';
import type {LaunchRequest} from './spec.js';

export interface RunCommandResult {
  id: string;
  status: RunStatus;
  kind: string;
  backend: string;
  runDir: string;
  /** True when the CLI returned without waiting for the end (--detach, or "leave it running"). */
  detached: boolean;
  dryRun: boolean;
  reason: string | null;
  parentRunId: string | null;
  datasetId: string | null;
  /** The exported model directory, when the run produced one. */
  modelDir: string | null;
  costUsd: number;
  pricePerHour: number;
  priceSource: string;
  metrics: Record<string, number>;
  estimate: RunEstimate;
  monthlyBudget: MonthlyBudgetCheck;
  /** Only with --dry-run: what would be launched. */
  spec?: Record<string, unknown>;
  command?: string[];
  rendered?: Record<string, string>;
}

export interface RunCommandContext {
  ledger: Ledger;
  loaded: LoadedConfig;
  json: boolean;
  detach: boolean;
  dryRun: boolean;
  force: boolean;
  /** Progress for humans (stderr). */
  progress: (msg: string) => void;
  /** Result lines for humans (stdout). */
  say: (msg: string) => void;
}

const STATUS_EXIT: Partial<Record<RunStatus, number>> = {
  failed: ExitCode.RUN_FAILED,
  lost: ExitCode.RUN_FAILED,
  budget_exceeded: ExitCode.BUDGET_EXCEEDED,
  stopped: ExitCode.RUN_STOPPED,
};

export function exitCodeForStatus(status: RunStatus): number {
  return STATUS_EXIT[status] ?? 0;
}

export async function runCommand(ctx: RunCommandContext, req: LaunchRequest): Promise<RunCommandResult> {
  const {ledger, loaded} = ctx;
  const {newRunId} = await import('./ids.js');
  const {prepareRun} = await import('./spec.js');
  const {getBackend} = await import('./backends/index.js');
  const {estimateRun} = await import('../cost/estimate.js');
  const {checkMonthlyBudget, monthlyBudgetError} = await import('../cost/budget.js');
  const {reconcileRuns} = await import('./reconcile.js');
  await reconcileRuns(ledger, {loaded});

  const prepared = await prepareRun(ledger, loaded, req, newRunId());
  const backend = await getBackend(prepared.backend, loaded);
  const price = backend.pricing();
  const trainerSpec = prepared.spec.trainerSpec;
  const estimate = estimateRun(ledger, {
    kind: prepared.kind,
    preset: prepared.preset,
    backend: prepared.backend,
    steps: (trainerSpec?.max_steps as number | null | undefined) ?? null,
    pricePerHour: price.pricePerHour,
    priceSource: price.source,
  });
  const monthly = checkMonthlyBudget(ledger, loaded.config.budget.monthly_usd, estimate);
  const base = {
    kind: prepared.kind,
    backend: prepared.backend,
    runDir: prepared.spec.runDir,
    parentRunId: prepared.parentRunId ?? null,
    datasetId: prepared.datasetId ?? null,
    pricePerHour: price.pricePerHour,
    priceSource: price.source,
    estimate,
    monthlyBudget: monthly,
  };
  if (ctx.dryRun) {
    const rendered = backend.render ? await backend.render(prepared.spec) : undefined;
    if (!ctx.json) {
      ctx.say(JSON.stringify(trainerSpec ?? {command: prepared.spec.command}, null, 2));
      ctx.say(`command: ${prepared.spec.command.join(' ')}`);
      ctx.say(`backend: ${prepared.backend} (${price.resource}, ${formatUsd(price.pricePerHour)}/h: ${price.source})`);
      ctx.say(estimateLine(estimate));
      if (monthly.monthlyUsd !== null) ctx.say(`monthly budget: ${formatUsd(monthly.leftUsd)} left of ${formatUsd(monthly.monthlyUsd)}${monthly.fits ? '' : ' (this run would be refused without --force)'}`);
      for (const [name, text] of Object.entries(rendered ?? {})) ctx.say(`--- ${name}\n${text}`);
      ctx.say('(dry run: nothing launched)');
    }
    return {
      ...base,
      id: prepared.id,
      status: 'queued',
      detached: false,
      dryRun: true,
      reason: 'dry run: nothing launched',
      modelDir: null,
      costUsd: 0,
      metrics: {},
      spec: trainerSpec,
      command: prepared.spec.command,
      ...(rendered ? {rendered} : {}),
    };
  }
  if (!monthly.fits && !ctx.force) throw monthlyBudgetError(monthly, estimate);
  // Remote backends: an unreachable host or a request the scheduler refuses fails here, with the
  // backend's exit code (11), instead of as a failed run found later.
  if (backend.type !== 'local') await backend.check();

  // Hugging Face tokenizers: the data is rendered and tokenized here, by the code the server runs.
  const ft = trainerSpec?.finetune as {base?: string; tokens?: string} | null | undefined;
  const tokens = ft?.tokens ?? (trainerSpec?.tokens as string | undefined);
  const tokDir = ft?.base ?? (trainerSpec?.tokenizer as string | undefined);
  if (tokens && tokDir && !existsSync(path.join(tokens, 'meta.json'))) {
    const {writeTokens} = await import('./sft-tokens.js');
    ctx.progress(`Tokenizing the dataset with ${tokDir}'s tokenizer and chat template...`);
    const meta = await writeTokens(tokDir, (trainerSpec!.dataset as {dir: string}).dir, tokens, ft ? 'finetune' : 'train');
    for (const [split, s] of Object.entries(meta.splits)) {
      ctx.progress(`  ${split}: ${s.records} ${s.mode === 'chat' ? 'conversations' : 'records'}, ${s.tokens} tokens (longest ${s.maxLength})${s.skipped ? `, ${s.skipped} skipped` : ''}`);
    }
  }
  const {launchRun} = await import('./launch.js');
  const run = launchRun(ledger, loaded, prepared, {name: req.name});
  ctx.progress(`Run ${run.id} (${run.kind}) on ${run.backend}: ${run.run_dir}`);
  if (price.pricePerHour === 0) ctx.progress(`Cost: $0/h (${price.source}).`);
  if (ctx.detach) {
    if (!ctx.json) ctx.say(run.id);
    return {...base, ...resultFields(ledger, run), detached: true, dryRun: false};
  }
  const {final, detached} = await attach(ctx, run.id);
  const result = {...base, ...resultFields(ledger, final), detached, dryRun: false};
  if (!detached) report(ctx, final, result);
  return result;
}

function estimateLine(e: RunEstimate): string {
  if (e.basis === 'no history') return 'estimate: no history (no earlier succeeded run of this preset on this backend)';
  return `estimate: ${formatDuration((e.seconds ?? 0) * 1000)} for ${e.steps} steps (${e.secondsPerStep!.toFixed(3)} s/step over ${e.runs} earlier run${e.runs === 1 ? '' : 's'}), ${formatUsd(e.usd)}`;
}

function resultFields(ledger: Ledger, run: RunRow) {
  const cost = ledger.runCost(run.id);
  const arts = ledger.artifacts(run.id);
  const model = arts.filter((a) => a.kind === 'model').at(-1);
  const summary = ledger.metricSummary(run.id);
  const metrics = Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, v.last]));
  return {
    id: run.id,
    status: run.status,
    reason: run.reason,
    modelDir: model?.path ?? null,
    costUsd: cost.usd,
    metrics,
  };
}

function report(ctx: RunCommandContext, run: RunRow, result: RunCommandResult): void {
  const code = exitCodeForStatus(run.status);
  if (!ctx.json) {
    const loss = result.metrics.loss === undefined ? '' : `, loss ${result.metrics.loss.toFixed(4)}`;
    ctx.say(`${run.id} ${run.status}${loss}, cost ${formatUsd(result.costUsd)}${result.pricePerHour === 0 ? ` ($0/h: ${result.priceSource})` : ''}`);
    if (result.modelDir) ctx.say(`model: ${result.modelDir}`);
    if (code !== 0 && run.reason) process.stderr.write(`${run.reason}\n`);
  }
  // The result is still printed (under --json too); the exit code says how the run ended.
  process.exitCode = code;
}

/** Follows the run; Ctrl-C asks (TTY) or stops the run (no TTY). */
async function attach(ctx: RunCommandContext, runId: string): Promise<{final: RunRow; detached: boolean}> {
  const {followRun, formatView, ViewTracker} = await import('./attach.js');
  const {writeStopRequest} = await import('./control.js');
  const tracker = new ViewTracker();
  const tty = Boolean(process.stderr.isTTY) && !ctx.json;
  let spinner: {text: string; stop(): void; start(): void} | undefined;
  if (tty) {
    const {default: ora} = await import('ora');
    spinner = ora({text: `${runId} starting`, stream: process.stderr}).start();
  }
  let leave = false;
  let interrupts = 0;
  let asking = false;
  const runDir = ctx.ledger.getRun(runId).run_dir;
  const onSigint = async () => {
    interrupts++;
    if (interrupts > 1 && !asking) {
      writeStopRequest(runDir, {graceful: false, cause: 'interrupt', reason: 'Ctrl-C twice: killed'});
      ctx.progress('Killing the run.');
      return;
    }
    if (canPrompt() && !ctx.json) {
      asking = true;
      spinner?.stop();
      try {
        const {select} = await import('@inquirer/prompts');
        const answer = await select({
          message: `Stop run ${runId}, or leave it running in the background?`,
          choices: [
            {name: 'Leave it running (follow later with `llmops runs logs --follow`)', value: 'leave'},
            {name: 'Stop it (checkpoint, then exit)', value: 'stop'},
          ],
        });
        if (answer === 'leave') leave = true;
        else writeStopRequest(runDir, {graceful: true, cause: 'user', reason: 'stopped with Ctrl-C'});
      } catch {
        leave = true;
      } finally {
        asking = false;
        spinner?.start();
      }
      return;
    }
    writeStopRequest(runDir, {graceful: true, cause: 'user', reason: 'interrupted (Ctrl-C without a terminal): stopped'});
    ctx.progress(`Stopping ${runId} (graceful)...`);
  };
  const handler = () => void onSigint();
  process.on('SIGINT', handler);
  let lastLine = 0;
  let lastText = '';
  try {
    const final = await followRun(ctx.ledger, runId, {
      until: () => leave,
      onUpdate: (run) => {
        if (ctx.json) return;
        const text = formatView(tracker.view(run));
        if (spinner) spinner.text = text;
        else if (Date.now() - lastLine > 10_000 && text !== lastText) {
          // No TTY: a plain line now and then, not a stream of redraws in a CI log.
          ctx.progress(text);
          lastLine = Date.now();
          lastText = text;
        }
      },
    });
    spinner?.stop();
    if (leave) ctx.progress(`Left ${runId} running. Follow it with: llmops runs logs ${runId} --follow`);
    return {final, detached: leave};
  } finally {
    process.off('SIGINT', handler);
  }
}
