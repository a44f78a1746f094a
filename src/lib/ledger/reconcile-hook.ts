/**
 * Reconciliation entry point for read commands: runs left in queued/running by a process that
 * died are settled before they are shown. The runtime owns the logic (runtime/reconcile.ts); this
 * hook keeps read-only commands from importing the whole runtime when nothing is active.
 */
import type {Ledger} from './ledger.js';

export async function reconcileActiveRuns(ledger: Ledger): Promise<void> {
  const active = ledger.db.prepare("SELECT count(*) AS n FROM runs WHERE status IN ('queued', 'running', 'lost')").get() as {n: number};
  if (active.n === 0) return;
  // A variable specifier: the runtime module is resolved at run time only.
  const specifier = '../runtime/reconcile.js';
  const mod = (await import(specifier).catch(() => undefined)) as
    | {reconcileRuns?: (l: Ledger) => Promise<unknown> | unknown}
    | undefined;
  await mod?.reconcileRuns?.(ledger);
}
