/**
 * Billing a run from its own timestamps. The supervisor meters time as it goes, but a supervisor
 * killed between flushes takes its unwritten seconds with it, and a new one starts metering only
 * when it starts. So when a run ends (decided by its supervisor or settled by reconcile), its billed
 * time is made whole: from the start of its setup to its end (exit.json, its last event), less the
 * time it spent queued, minus what is already in the ledger. The ledger's total then never depends
 * on which process survived.
 */
import type {Ledger} from '../ledger/ledger.js';
import type {ResolvedPrice} from './prices.js';

export function billToTimestamps(
  ledger: Ledger,
  run: {id: string; stage: string; backend: string},
  span: {startMs: number; endMs: number},
  price: ResolvedPrice,
): number {
  if (!(span.endMs > span.startMs)) return 0;
  const cost = ledger.runCost(run.id);
  const queued = cost.byPhase.queue?.seconds ?? 0;
  const due = (span.endMs - span.startMs) / 1000 - queued - cost.seconds;
  if (due < 0.01) return 0;
  ledger.addCost({
    runId: run.id,
    stage: run.stage,
    phase: 'run',
    backend: run.backend,
    resource: price.resource,
    seconds: due,
    pricePerHour: price.pricePerHour,
    priceSource: price.source,
    ts: new Date(span.endMs).toISOString(),
    meta: {from_timestamps: true, start: new Date(span.startMs).toISOString(), end: new Date(span.endMs).toISOString()},
  });
  return due;
}
