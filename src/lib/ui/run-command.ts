/**
 * What `llmops train` and `llmops finetune` do once their flags are parsed (the CLI side of a run):
 * the runtime's startRun() prepares and launches it; this prints a dry run, then detaches or
 * follows the run to its end with a live status line, and handles Ctrl-C (ask on a TTY, stop
 * otherwise).
 */
import type {LoadedConfig} from '../config/load.js';
import type {MonthlyBudgetCheck} from '../cost/budget.js';
import type {RunEstimate} from '../cost/estimate.js';
import {ExitCode} from '../errors.js';
import type {Ledger, RunRow, RunStatus} from '../ledger/ledger.js';
import type {LaunchRequest} from '../runtime/spec.js';
import type {StartedRun} from '../runtime/start-run.js';
import {formatUsd} from '../util/format.js';
import {formatDuration} from '../util/time.js';
import {canPrompt} from './output.js';

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
  /** The run's --budget, and whether the estimate exceeds it (null: no budget, or no estimate). */
  budgetUsd: number | null;
  estimateExceedsBudget: boolean | null;
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
  const {startRun} = await import('../runtime/start-run.js');
  const started = await startRun(ctx.ledger, ctx.loaded, req, {dryRun: ctx.dryRun, force: ctx.force, progress: ctx.progress});
  const {prepared, price, estimate, monthly} = started;
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
    budgetUsd: prepared.budgetUsd ?? null,
    estimateExceedsBudget: prepared.budgetUsd === undefined || estimate.usd === null ? null : estimate.usd > prepared.budgetUsd,
  };
  if (!started.run) return dryRunResult(ctx, started, base);
  const run = started.run;
  const ds = prepared.spec.trainerSpec?.dataset;
  ctx.progress(`Run ${run.id} (${run.kind}) on ${run.backend}: ${run.run_dir}`);
  if (ds) ctx.progress(`Dataset: ${ds.id ?? 'not in the ledger'} (${ds.dir})`);
  if (price.pricePerHour === 0) ctx.progress(`Cost: $0/h (${price.source}).`);
  if (ctx.detach) {
    if (!ctx.json) ctx.say(run.id);
    return {...base, ...resultFields(ctx.ledger, run), detached: true, dryRun: false};
  }
  const {final, detached} = await attach(ctx, run.id);
  const result = {...base, ...resultFields(ctx.ledger, final), detached, dryRun: false};
  if (!detached) report(ctx, final, result);
  return result;
}

type ResultBase = Pick<RunCommandResult, 'kind' | 'backend' | 'runDir' | 'parentRunId' | 'datasetId' | 'pricePerHour' | 'priceSource' | 'estimate' | 'monthlyBudget' | 'budgetUsd' | 'estimateExceedsBudget'>;

/** --dry-run: the spec, command, price, estimate and rendered files, printed for people; nothing launched. */
function dryRunResult(ctx: RunCommandContext, started: StartedRun, base: ResultBase): RunCommandResult {
  const {prepared, price, estimate, monthly, rendered} = started;
  const trainerSpec = prepared.spec.trainerSpec;
  if (!ctx.json) {
    ctx.say(JSON.stringify(trainerSpec ?? {command: prepared.spec.command}, null, 2));
    ctx.say(`command: ${prepared.spec.command.join(' ')}`);
    ctx.say(`backend: ${prepared.backend} (${price.resource}, ${formatUsd(price.pricePerHour)}/h: ${price.source})`);
    ctx.say(estimateLine(estimate));
    if (base.budgetUsd !== null) ctx.say(budgetLine(estimate, base.budgetUsd));
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

function budgetLine(e: RunEstimate, budget: number): string {
  if (e.usd === null || e.secondsPerStep === null) return `budget: ${formatUsd(budget)} (no estimate to compare: the run is stopped before it would cross it)`;
  if (e.usd <= budget) return `budget: ${formatUsd(budget)}; the estimate ${formatUsd(e.usd)} fits`;
  const steps = Math.max(0, Math.floor(((budget / e.pricePerHour) * 3600) / e.secondsPerStep));
  return `budget: the estimate ${formatUsd(e.usd)} EXCEEDS the budget ${formatUsd(budget)}: the run would be stopped (checkpoint, exit 6) after about ${steps} of ${e.steps} steps`;
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
  const {followRun, formatView, ViewTracker} = await import('../runtime/attach.js');
  const {writeStopRequest} = await import('../runtime/control.js');
  const tracker = new ViewTracker();
  const tty = Boolean(process.stderr.isTTY) && !ctx.json;
  let spinner: {text: string; stop(): void; start(): void} | undefined;
  if (tty) {
    const {default: ora} = await import('ora');
    // discardStdin would put the terminal in raw mode (-isig): Ctrl-C would never become SIGINT.
    spinner = ora({text: `${runId} starting`, stream: process.stderr, discardStdin: false}).start();
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
        else {
          writeStopRequest(runDir, {graceful: true, cause: 'user', reason: 'stopped with Ctrl-C'});
          ctx.progress(`Stopping ${runId} (checkpoint, then exit)...`);
        }
      } catch {
        // Ctrl-C again while the question is shown: that is the answer "stop".
        writeStopRequest(runDir, {graceful: true, cause: 'user', reason: 'stopped with a second Ctrl-C'});
        ctx.progress(`Stopping ${runId} (checkpoint, then exit)...`);
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
  // SIGTERM (a CI runner cancelling the job, `kill`) stops the run gracefully, as SIGINT without a TTY does.
  const onSigterm = () => {
    writeStopRequest(runDir, {graceful: true, cause: 'user', reason: 'the attached CLI received SIGTERM: stopped'});
    ctx.progress(`Stopping ${runId} (graceful)...`);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', onSigterm);
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
    process.off('SIGTERM', onSigterm);
  }
}
