/**
 * The one place the pipeline, the promote gate and `models alias` get eval results from.
 *
 * When the eval engine (src/lib/eval, `llmops eval`) is part of this build, it measures the model.
 * Without it, the summary falls back to what the trainer measured itself: the perplexity on the
 * dataset's validation split at the end of the run (val_ppl), which is all a gate can compare then.
 */
import type {LoadedConfig} from '../config/load.js';
import type {Ledger} from '../ledger/ledger.js';
import {nowIso} from '../util/time.js';

export interface EvalSummary {
  /** Who measured it: the eval engine, or the trainer's own validation loss. */
  source: 'llmops-eval' | 'trainer-validation';
  model: {runId: string | null; dir: string | null; ref: string};
  at: string;
  perplexity?: {value: number; tokens?: number; bits_per_byte?: number};
  choices?: {acc: number; acc_norm: number; n: number};
  generate?: {exact_match: number; n: number};
  pairs?: {pct_stereotype: number; n: number; by_type?: Record<string, unknown>};
  checks?: unknown[];
  dataset?: string | null;
  note?: string;
}

export interface EvalRequest {
  ledger: Ledger;
  loaded: LoadedConfig;
  model: {runId: string | null; dir: string | null; ref: string};
  dataset?: string | null;
  /** Options of the eval stage (suite files, limit), passed to the eval engine as they are. */
  options?: Record<string, unknown>;
  progress?: (msg: string) => void;
}

type EvalEngine = (req: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** The eval engine's entry, when this build has one. */
async function engine(): Promise<EvalEngine | undefined> {
  const specifier = '../eval/index.js';
  const mod = (await import(specifier).catch(() => undefined)) as Record<string, unknown> | undefined;
  const fn = mod?.runEval ?? mod?.evaluate;
  return typeof fn === 'function' ? (fn as EvalEngine) : undefined;
}

export async function evaluate(req: EvalRequest): Promise<EvalSummary> {
  const run = await engine();
  if (run) {
    const r = await run({
      ledger: req.ledger,
      loaded: req.loaded,
      model: req.model.ref,
      ...(req.dataset ? {dataset: req.dataset} : {}),
      ...req.options,
      progress: req.progress,
    });
    return {...pick(r), source: 'llmops-eval', model: req.model, at: nowIso(), dataset: req.dataset ?? null};
  }
  return trainerValidation(req.ledger, req.model) ?? {source: 'trainer-validation', model: req.model, at: nowIso(), note: 'no eval engine in this build and no validation perplexity recorded for this model'};
}

function pick(r: Record<string, unknown>): Partial<EvalSummary> {
  const out: Record<string, unknown> = {};
  for (const k of ['perplexity', 'choices', 'generate', 'pairs', 'checks']) if (r[k] !== undefined) out[k] = r[k];
  return out as Partial<EvalSummary>;
}

/** The trainer's final validation perplexity of a run, or null when it recorded none. */
export function trainerValidation(ledger: Ledger, model: EvalSummary['model']): EvalSummary | null {
  if (!model.runId) return null;
  const m = ledger.metricSummary(model.runId);
  const ppl = m.val_ppl?.last;
  if (ppl === undefined || !Number.isFinite(ppl)) return null;
  const run = ledger.findRun(model.runId);
  return {
    source: 'trainer-validation',
    model,
    at: nowIso(),
    perplexity: {value: ppl},
    dataset: run?.dataset_id ?? null,
    note: 'perplexity on the validation split, measured by the trainer at the end of the run',
  };
}

/** A short, comparable form of a summary for the alias history and reports. */
export function compactSummary(s: EvalSummary | null | undefined): Record<string, unknown> {
  if (!s) return {};
  const out: Record<string, unknown> = {source: s.source, at: s.at};
  if (s.dataset) out.dataset = s.dataset;
  if (s.perplexity) out.perplexity = s.perplexity.value;
  if (s.choices) out.acc = s.choices.acc;
  if (s.generate) out.exact_match = s.generate.exact_match;
  if (s.pairs) out.pct_stereotype = s.pairs.pct_stereotype;
  return out;
}
