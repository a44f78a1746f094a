/**
 * On-demand fetch of a remote run's checkpoints and model into its local run dir, while it runs
 * (to look at a checkpoint) or after (when the automatic fetch failed or the run was lost).
 */
import {existsSync, readdirSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../../config/load.js';
import {usageError} from '../../errors.js';
import type {Ledger, RunRow} from '../../ledger/ledger.js';
import type {BackendHandle} from '../backend.js';
import {decodeRunSpec} from '../run-spec.js';
import {getBackend} from '../backends/index.js';

export interface FetchResult {
  id: string;
  backend: string;
  runDir: string;
  /** What the local run dir holds afterwards. */
  checkpoints: string[];
  model: boolean;
}

export async function fetchRunArtifacts(ledger: Ledger, loaded: LoadedConfig, run: RunRow): Promise<FetchResult> {
  if (run.backend_type === 'local') throw usageError(`Run ${run.id} ran locally: its files are already in ${run.run_dir}.`);
  const state = run.backend_state_json ? (JSON.parse(run.backend_state_json) as {handle?: BackendHandle}) : {};
  if (!state.handle) {
    throw usageError(`Run ${run.id} was never submitted to ${run.backend} (${run.status}): nothing to fetch.`, {
      fix: 'Try this: `llmops runs show ' + run.id + '` for its reason.',
    });
  }
  const backend = await getBackend(run.backend, loaded);
  const spec = decodeRunSpec(run);
  await backend.fetchArtifacts(state.handle, spec);
  const ck = path.join(run.run_dir, 'checkpoints');
  return {
    id: run.id,
    backend: run.backend,
    runDir: run.run_dir,
    checkpoints: existsSync(ck) ? readdirSync(ck).filter((n) => n.startsWith('step-')).sort() : [],
    model: existsSync(path.join(run.run_dir, 'model', 'config.json')),
  };
}
