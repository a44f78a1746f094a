/**
 * Off-the-hot-path ledger writes: request rows are buffered and inserted in one transaction every
 * `flushMs` (or when `maxBuffer` rows wait), and the deployment's running cost is appended at least
 * once a minute and at stop.
 */
import type {Ledger, RequestRow} from '../ledger/ledger.js';

export class RequestRecorder {
  private buffer: RequestRow[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ledger: Ledger,
    private readonly flushMs = 250,
    private readonly maxBuffer = 500,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  push(row: RequestRow): void {
    this.buffer.push(row);
    if (this.buffer.length >= this.maxBuffer) setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    try {
      this.ledger.insertRequests(rows);
    } catch (error) {
      // A busy or full disk must not take the server down; the rows are retried once, then dropped.
      process.stderr.write(`llmops: could not record ${rows.length} requests: ${(error as Error).message}\n`);
      if (rows.length < this.maxBuffer * 10) this.buffer.unshift(...rows);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

export interface CostMeterOptions {
  ledger: Ledger;
  deploymentId: string;
  runId: string | null;
  pricePerHour: number;
  backend: string;
  intervalMs?: number;
}

/** Appends serve cost entries for the time the deployment has been up, in slices. */
export class CostMeter {
  private last = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: CostMeterOptions) {
    this.timer = setInterval(() => this.record(), o.intervalMs ?? 60_000);
    this.timer.unref();
  }

  record(): void {
    const now = Date.now();
    const seconds = (now - this.last) / 1000;
    this.last = now;
    if (seconds <= 0) return;
    try {
      this.o.ledger.addCost({
        // Not runId: serving a model is not part of the cost of the run that trained it.
        deploymentId: this.o.deploymentId,
        stage: 'serve',
        phase: 'serve',
        backend: this.o.backend,
        resource: 'cpu',
        seconds,
        pricePerHour: this.o.pricePerHour,
        priceSource: this.o.pricePerHour > 0 ? 'deploy.price_per_hour' : 'deploy.price_per_hour (0: free)',
        meta: {model_run_id: this.o.runId},
      });
    } catch (error) {
      process.stderr.write(`llmops: could not record serve cost: ${(error as Error).message}\n`);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.record();
  }
}
