/**
 * `llmops runs stop`: asks the run's supervisor (through the run dir) to stop it, or, when no
 * supervisor is alive, signals the run through its backend directly.
 */
import {LlmopsError} from '../errors.js';
import {FINAL_STATUSES, type Ledger, type RunRow} from '../ledger/ledger.js';
import type {LoadedConfig} from '../config/load.js';
import {writeStopRequest} from './control.js';
import {isOurProcess} from '../system/process.js';
import type {SupervisorState} from './supervisor.js';

export async function requestStop(ledger: Ledger, loaded: LoadedConfig, run: RunRow, opts: {force: boolean}): Promise<{via: 'supervisor' | 'backend'}> {
  if (FINAL_STATUSES.has(run.status)) {
    throw new LlmopsError('USAGE', `Run ${run.id} already ended (${run.status}).`, {fix: 'Try this: `llmops runs list --status running` for runs that can be stopped.'});
  }
  writeStopRequest(run.run_dir, {
    graceful: !opts.force,
    cause: 'user',
    reason: opts.force ? 'killed with `llmops runs stop --force`' : 'stopped with `llmops runs stop`',
  });
  ledger.appendEvent(run.id, 'stop_requested', {force: opts.force, by: 'runs stop'});
  if (isOurProcess(run.pid, run.id)) return {via: 'supervisor'};
  // No supervisor: reach the run through its backend, then let reconcile settle it.
  const state = run.backend_state_json ? (JSON.parse(run.backend_state_json) as SupervisorState) : undefined;
  if (state?.handle) {
    const {getBackend} = await import('./backends/index.js');
    const backend = await getBackend(run.backend, loaded);
    await backend.stop(state.handle, {graceful: !opts.force});
  }
  return {via: 'backend'};
}
