/**
 * The eval engine's entry for other areas (the pipeline's eval stage, the promote gate): the same
 * runEval as `llmops eval`, taking the project config instead of the command's flags.
 */
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import type {Ledger} from '../ledger/ledger.js';
import {runEval as run, type EvalRequest, type EvalResult} from './run.js';

/** What `llmops eval` takes (model, suites, baseline...), with the project in place of its settings. */
export type EngineRequest = Omit<EvalRequest, 'config' | 'ledger' | 'cwd' | 'cacheDir' | 'progress'> & {
  ledger: Ledger;
  loaded: LoadedConfig;
  progress?: (line: string) => void;
};

export async function runEval(req: EngineRequest): Promise<EvalResult> {
  const {ledger, loaded, progress, ...suites} = req;
  return run({
    ...suites,
    config: loaded.config.eval,
    ledger,
    cwd: loaded.root,
    cacheDir: path.resolve(loaded.root, loaded.config.cache_dir),
    progress: progress ?? (() => {}),
  });
}

export type {EvalResult} from './run.js';
