/** Flags shared by `llmops train` and `llmops finetune` (only @oclif/core: cheap to import). */
import {Flags} from '@oclif/core';
import {usageError} from '../errors.js';

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
