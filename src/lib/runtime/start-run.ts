/**
 * The one way a run starts, for `llmops train`, `llmops finetune` and anything else that launches
 * (pipelines): settle stale runs, prepare the run from the config and the request, price and
 * estimate it, check the monthly budget, check a remote backend, tokenize for a native Hugging
 * Face base, then launch it under its supervisor. With `dryRun`, everything but the launch.
 * Presentation (what is printed, following the run, Ctrl-C) is the caller's: src/lib/ui/run-command.ts.
 */
import {existsSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import type {MonthlyBudgetCheck} from '../cost/budget.js';
import type {RunEstimate} from '../cost/estimate.js';
import type {Ledger, RunRow} from '../ledger/ledger.js';
import type {Backend, Pricing} from './backend.js';
import type {LaunchRequest, PreparedRun} from './spec.js';

export interface StartRunOptions {
  /** Prepare, price and estimate only; launch nothing. */
  dryRun?: boolean;
  /** Launch even when the estimate exceeds what is left of budget.monthly_usd. */
  force?: boolean;
  /** Progress for people (tokenizing a dataset...). */
  progress?: (msg: string) => void;
}

export interface StartedRun {
  prepared: PreparedRun;
  backend: Backend;
  price: Pricing;
  estimate: RunEstimate;
  monthly: MonthlyBudgetCheck;
  /** Dry run only: the files the backend would submit (sbatch script, Job manifest...). */
  rendered?: Record<string, string>;
  /** The launched run (queued, its supervisor started); undefined for a dry run. */
  run?: RunRow;
}

export async function startRun(ledger: Ledger, loaded: LoadedConfig, req: LaunchRequest, opts: StartRunOptions = {}): Promise<StartedRun> {
  const progress = opts.progress ?? (() => {});
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
    steps: trainerSpec?.max_steps ?? null,
    pricePerHour: price.pricePerHour,
    priceSource: price.source,
  });
  const monthly = checkMonthlyBudget(ledger, loaded.config.budget.monthly_usd, estimate);
  const plan = {prepared, backend, price, estimate, monthly};
  if (opts.dryRun) {
    const rendered = backend.render ? await backend.render(prepared.spec) : undefined;
    return {...plan, ...(rendered ? {rendered} : {})};
  }
  if (!monthly.fits && !opts.force) throw monthlyBudgetError(monthly, estimate);
  // Remote backends: an unreachable host or a request the scheduler refuses fails here, with the
  // backend's exit code (11), instead of as a failed run found later.
  if (backend.type !== 'local') await backend.check();

  // Hugging Face tokenizers (a native finetune base, or train --tokenizer DIR): the data is rendered
  // and tokenized here, by the code the server runs.
  const ft = trainerSpec?.finetune;
  const tokens = ft?.tokens ?? trainerSpec?.tokens;
  const tokDir = ft?.base ?? trainerSpec?.tokenizer;
  if (tokens && tokDir && !existsSync(path.join(tokens, 'meta.json'))) {
    const {writeTokens} = await import('./sft-tokens.js');
    progress(`Tokenizing the dataset with ${tokDir}'s tokenizer and chat template...`);
    const meta = await writeTokens(tokDir, trainerSpec!.dataset.dir, tokens, ft ? 'finetune' : 'train');
    for (const [split, s] of Object.entries(meta.splits)) {
      progress(`  ${split}: ${s.records} ${s.mode === 'chat' ? 'conversations' : 'records'}, ${s.tokens} tokens (longest ${s.maxLength})${s.skipped ? `, ${s.skipped} skipped` : ''}`);
    }
  }
  const {launchRun} = await import('./launch.js');
  const run = launchRun(ledger, loaded, prepared, {name: req.name});
  return {...plan, run};
}
