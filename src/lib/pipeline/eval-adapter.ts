/**
 * The one place the pipeline, the promote gate and `models alias` get eval results from.
 *
 * The eval engine (src/lib/eval, the same one as `llmops eval`) measures the model. `models alias`
 * shows what the trainer measured itself (the perplexity on the dataset's validation split at the
 * end of the run, val_ppl) through trainerValidation, without running a model.
 */
import type {LoadedConfig} from '../config/load.js';
import type {Ledger} from '../ledger/ledger.js';
import {nowIso} from '../util/time.js';
import type {EngineRequest} from '../eval/index.js';

/** The suite options an eval stage passes through (files, limit, baseline). */
type EngineSuites = Omit<EngineRequest, 'ledger' | 'loaded' | 'model' | 'progress'>;

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

export async function evaluate(req: EvalRequest): Promise<EvalSummary> {
  // Lazy: the engine loads onnxruntime, which a pipeline without an eval stage never needs.
  const {runEval} = await import('../eval/index.js');
  const r = await runEval({
    ledger: req.ledger,
    loaded: req.loaded,
    model: req.model.ref,
    ...(req.dataset ? {dataset: req.dataset} : {}),
    ...(req.options as Partial<EngineSuites>),
    ...(req.progress ? {progress: req.progress} : {}),
  });
  return {...pick(r as unknown as Record<string, unknown>), source: 'llmops-eval', model: req.model, at: nowIso(), dataset: req.dataset ?? null};
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
