/**
 * Meters a run's time into cost entries while it goes. Time is attributed to the phase the run is
 * in (queue: recorded, not billed; setup; run), and written to the append-only ledger at least
 * every `flushEveryMs` and at the end, each entry with the price in force when it was incurred.
 */
import type {Ledger} from '../ledger/ledger.js';
import type {ResolvedPrice} from './prices.js';

export type CostPhase = 'queue' | 'setup' | 'run';

export class CostMeter {
  private phase: CostPhase;
  private since: number;
  private pending: Record<CostPhase, number> = {queue: 0, setup: 0, run: 0};
  private flushedUsd: number;
  private lastFlush: number;

  constructor(
    private readonly ledger: Ledger,
    private readonly run: {id: string; stage: string; backend: string},
    private price: ResolvedPrice,
    opts: {phase: CostPhase; now?: number; flushEveryMs?: number; alreadyUsd?: number},
  ) {
    this.phase = opts.phase;
    this.since = opts.now ?? Date.now();
    this.lastFlush = this.since;
    this.flushEveryMs = opts.flushEveryMs ?? 60_000;
    this.flushedUsd = opts.alreadyUsd ?? 0;
  }

  private readonly flushEveryMs: number;

  get currentPhase(): CostPhase {
    return this.phase;
  }

  /** Accrues time up to `now` to the current phase. */
  private accrue(now: number): void {
    if (now > this.since) this.pending[this.phase] += (now - this.since) / 1000;
    this.since = now;
  }

  /** The price changed (a backend reported a new one): entries before and after keep their own. */
  setPrice(price: ResolvedPrice, now = Date.now()): void {
    if (price.pricePerHour === this.price.pricePerHour && price.source === this.price.source) return;
    this.accrue(now);
    this.flush(now);
    this.price = price;
  }

  enter(phase: CostPhase, now = Date.now()): void {
    if (phase === this.phase) return;
    this.accrue(now);
    this.phase = phase;
  }

  /** Billed USD so far, including time not yet written. */
  usd(now = Date.now()): number {
    this.accrue(now);
    const pendingBilled = this.pending.setup + this.pending.run;
    return this.flushedUsd + (pendingBilled / 3600) * this.price.pricePerHour;
  }

  /** Writes pending time when the flush interval has passed (or always with force). */
  tick(now = Date.now(), force = false): void {
    this.accrue(now);
    if (force || now - this.lastFlush >= this.flushEveryMs) this.flush(now);
  }

  flush(now = Date.now()): void {
    this.accrue(now);
    const ts = new Date(now).toISOString();
    for (const phase of ['queue', 'setup', 'run'] as const) {
      const seconds = this.pending[phase];
      if (seconds <= 0) continue;
      this.flushedUsd += this.ledger.addCost({
        runId: this.run.id,
        stage: this.run.stage,
        phase,
        backend: this.run.backend,
        resource: this.price.resource,
        seconds,
        pricePerHour: this.price.pricePerHour,
        priceSource: this.price.source,
        billed: phase !== 'queue',
        ts,
      });
      this.pending[phase] = 0;
    }
    this.lastFlush = now;
  }
}
