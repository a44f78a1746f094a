/**
 * Turns event lines into ledger rows: metrics in one transaction per batch, checkpoint, artifact,
 * status and protocol_error events appended, and the byte offset saved in the same transaction so
 * that a restarted reader neither loses nor repeats an event.
 */
import type {Ledger, MetricPoint} from '../ledger/ledger.js';
import {parseEventLine} from './events.js';

export interface RunProgress {
  step: number;
  totalSteps?: number;
  /** Last value of each metric key. */
  last: Record<string, number>;
  /** The trainer's first status event's env (python, torch, cuda, gpu...). */
  env?: Record<string, unknown>;
  /** Last status the run itself reported (running, succeeded, failed, stopped) and why. */
  reportedStatus?: string;
  reportedReason?: string;
  checkpoints: Array<{step?: number; path: string}>;
  artifacts: Array<{kind: string; path: string; meta: Record<string, unknown>}>;
  eventsSeen: number;
  protocolErrors: number;
  lastEventAt?: number;
  /** When the first event of any kind arrived (ends the setup phase). */
  firstEventAt?: number;
}

export function emptyProgress(): RunProgress {
  return {step: 0, last: {}, checkpoints: [], artifacts: [], eventsSeen: 0, protocolErrors: 0};
}

export interface IngestHooks {
  /** Called for the first status "running" (lineage gets the env). */
  onRunning?(env: Record<string, unknown> | undefined): void;
}

export class EventIngestor {
  constructor(
    private readonly ledger: Ledger,
    private readonly runId: string,
    readonly progress: RunProgress = emptyProgress(),
    private readonly hooks: IngestHooks = {},
  ) {}

  /**
   * Records a batch of lines; `saveOffset` runs inside the same transaction (it persists the new
   * byte offset). Returns the number of metric points inserted.
   */
  ingest(lines: string[], saveOffset: () => void): number {
    const now = Date.now();
    const points: MetricPoint[] = [];
    const events: Array<{type: string; data: unknown; ts: string}> = [];
    let sawRunning = false;
    const p = this.progress;
    for (const line of lines) {
      const e = parseEventLine(line);
      if (!e) continue;
      p.eventsSeen++;
      p.lastEventAt = now;
      p.firstEventAt ??= now;
      const iso = e.type !== 'protocol_error' && e.ts ? new Date(e.ts * 1000).toISOString() : new Date(now).toISOString();
      switch (e.type) {
        case 'metric': {
          const ts = e.ts ? Math.round(e.ts * 1000) : now;
          for (const [key, value] of Object.entries(e.values)) {
            points.push({runId: this.runId, step: e.step, key, value, ts});
            p.last[key] = value;
          }
          if (e.step > p.step) p.step = e.step;
          if (e.dropped.length > 0) {
            events.push({type: 'protocol_error', data: {error: `non-numeric metric values skipped: ${e.dropped.join(', ')}`, step: e.step}, ts: iso});
            p.protocolErrors++;
          }
          break;
        }
        case 'status': {
          if (e.total_steps !== undefined) p.totalSteps = e.total_steps;
          if (e.status === 'running' && !p.env && e.env) p.env = e.env;
          if (e.status === 'running' && p.reportedStatus === undefined) sawRunning = true;
          p.reportedStatus = e.status;
          p.reportedReason = e.reason;
          events.push({type: 'run_status', data: e.raw, ts: iso});
          break;
        }
        case 'checkpoint':
          p.checkpoints.push({step: e.step, path: e.path});
          events.push({type: 'checkpoint', data: {step: e.step, path: e.path}, ts: iso});
          break;
        case 'artifact': {
          const {type: _t, ts: _ts, kind: _k, path: _p, ...meta} = e.raw;
          p.artifacts.push({kind: e.kind, path: e.path, meta});
          events.push({type: 'artifact', data: e.raw, ts: iso});
          break;
        }
        case 'heartbeat':
          break;
        case 'protocol_error':
          p.protocolErrors++;
          events.push({type: 'protocol_error', data: {error: e.error, line: e.line}, ts: iso});
          break;
      }
    }
    this.ledger.transaction(() => {
      this.ledger.insertMetrics(points);
      for (const ev of events) this.ledger.appendEvent(this.runId, ev.type, ev.data, ev.ts);
      saveOffset();
    });
    if (sawRunning) this.hooks.onRunning?.(p.env);
    return points.length;
  }
}
