/**
 * What a run is, independent of where it is stored: its kinds and the statuses it moves through.
 * The ledger stores these; the runtime, monitor and commands reason about them.
 */
export type RunKind = 'train' | 'finetune' | 'command' | 'export';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'budget_exceeded' | 'lost';
export const RUN_STATUSES: RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'stopped', 'budget_exceeded', 'lost'];
/** A run in one of these has ended; its status no longer changes. */
export const FINAL_STATUSES = new Set<RunStatus>(['succeeded', 'failed', 'stopped', 'budget_exceeded', 'lost']);
/** Statuses of a run that has not ended yet (reconciliation looks at these). */
export const ACTIVE_STATUSES: readonly RunStatus[] = ['queued', 'running'];
