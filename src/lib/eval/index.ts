/**
 * The eval engine's entry for other areas (the pipeline's eval stage, the promote gate): the same
 * runEval as `llmops eval`, taking the project config instead of the command's flags.
 */
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import type {Ledger} from '../ledger/ledger.js';
import {runEval as run, type EvalResult} from './run.js';

export interface EngineRequest {
  ledger: Ledger;
  loaded: LoadedConfig;
  /** RUN|DIR|hf:... */
  model: string;
  dataset?: string;
  perplexity?: string;
  choices?: string;
  generate?: string;
  pairs?: string;
  baseline?: string;
  limit?: number;
  extract?: string;
  progress?: (line: string) => void;
}

export async function runEval(req: EngineRequest): Promise<EvalResult> {
  return run({
    model: req.model,
    dataset: req.dataset,
    perplexity: req.perplexity,
    choices: req.choices,
    generate: req.generate,
    pairs: req.pairs,
    baseline: req.baseline,
    limit: req.limit,
    extract: req.extract,
    config: req.loaded.config.eval,
    ledger: req.ledger,
    cwd: req.loaded.root,
    cacheDir: path.resolve(req.loaded.root, req.loaded.config.cache_dir),
    progress: req.progress ?? (() => {}),
  });
}

export type {EvalResult} from './run.js';
