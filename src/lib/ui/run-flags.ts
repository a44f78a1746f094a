/** Flags shared by `llmops train` and `llmops finetune`, and how they become a launch (only @oclif/core at run time: cheap to import). */
import {Flags} from '@oclif/core';
import type {LoadedConfig} from '../config/load.js';
import {usageError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import type {LaunchRequest} from '../runtime/spec.js';
import type {RunCommandContext} from './run-command.js';

export const runFlags = {
  dataset: Flags.string({summary: 'Dataset id or prepared directory (default: the newest in the ledger).'}),
  preset: Flags.string({summary: 'Trainer preset (tiny, small, medium, gpt2-124m...).'}),
  'max-steps': Flags.integer({summary: 'Stop after this many optimizer steps.', min: 1}),
  backend: Flags.string({summary: 'Backend name from llmops.yaml `backends` (default: local).'}),
  budget: Flags.string({summary: 'Stop the run (gracefully) when its cost reaches this many USD.'}),
  seed: Flags.integer({summary: 'Random seed.'}),
  set: Flags.string({summary: 'A trainer hyper-parameter, KEY=VALUE (repeatable), e.g. --set lr=0.001.', multiple: true}),
  detach: Flags.boolean({summary: 'Return at once with the run id; the run goes on in the background.'}),
  resume: Flags.string({summary: 'Continue RUN_ID from its latest checkpoint, as a new run linked to it.'}),
  'dry-run': Flags.boolean({summary: 'Print the spec and the estimated time and cost; launch nothing.'}),
  force: Flags.boolean({summary: 'Launch even if the estimate exceeds what is left of budget.monthly_usd.'}),
  name: Flags.string({summary: 'A human name for the run.'}),
};

export function parseBudget(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text.replace(/^\$/, ''));
  if (!Number.isFinite(v) || v < 0) throw usageError(`--budget: "${text}" is not an amount of USD`, {fix: 'Try this: --budget 5 (or 0.50).'});
  return v;
}

export function parseSets(sets: string[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const s of sets ?? []) {
    const i = s.indexOf('=');
    if (i <= 0) throw usageError(`--set: "${s}" is not KEY=VALUE`, {fix: 'Try this: --set lr=0.001 --set batch_size=16'});
    const key = s.slice(0, i);
    const raw = s.slice(i + 1);
    out[key] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return out;
}

/** The values of runFlags as parsed by oclif. */
export interface RunFlagValues {
  dataset?: string;
  preset?: string;
  'max-steps'?: number;
  backend?: string;
  budget?: string;
  seed?: number;
  set?: string[];
  detach: boolean;
  resume?: string;
  'dry-run': boolean;
  force: boolean;
  name?: string;
}

/** The part of a launch request that every run command takes from the shared flags, the same way. */
export function requestFromFlags(f: RunFlagValues): Pick<LaunchRequest, 'dataset' | 'preset' | 'maxSteps' | 'backend' | 'budgetUsd' | 'seed' | 'resume' | 'overrides' | 'name'> {
  return {
    dataset: f.dataset,
    preset: f.preset,
    maxSteps: f['max-steps'],
    backend: f.backend,
    budgetUsd: parseBudget(f.budget),
    seed: f.seed,
    resume: f.resume,
    overrides: parseSets(f.set),
    name: f.name,
  };
}

/** How a run command runs: its ledger and config, output mode and the launch flags. */
export function runContext(
  cmd: {json: boolean; progress: (m: string) => void; say: (m: string) => void},
  ledger: Ledger,
  loaded: LoadedConfig,
  f: RunFlagValues,
): RunCommandContext {
  return {ledger, loaded, json: cmd.json, detach: f.detach, dryRun: f['dry-run'], force: f.force, progress: cmd.progress, say: cmd.say};
}
