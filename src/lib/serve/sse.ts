/**
 * Server-sent events for a streamed completion, with writes coalesced in time.
 *
 * Each res.write is a socket write (a system call that also wakes the client): on a small model
 * that emits a token every few tenths of a millisecond, one write per token was most of the
 * server's own cost per token (bench/serve.bench.mjs, docs/benchmarks.md "Serve"). So an event goes
 * out at once when the last write is at least `flushMs` old (the first token always is, and so is
 * every token of a model slower than one per `flushMs`), and otherwise waits at most `flushMs`,
 * together with the events that follow it. The events themselves are unchanged; only how many
 * share a write. The default, 16 ms, is one frame of a 60 Hz display: text cannot appear more
 * smoothly than that, while a small model on a CPU (a token every 0.3-3 ms) pays for one write per
 * 5-50 tokens. Measured against 5 ms: the server's own CPU per token fell by half under load
 * (docs/benchmarks.md). deploy.stream_flush_ms: 0 writes every event at once (for clients that time
 * each token).
 */
import type {ServerResponse} from 'node:http';

/** The longest an event waits for company, by default (deploy.stream_flush_ms). */
export const FLUSH_MS = 16;

export class SseStream {
  private pending = '';
  private lastWrite = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly res: ServerResponse,
    private readonly flushMs = FLUSH_MS,
  ) {}

  /** Queues one event (`data: JSON`). */
  send(obj: unknown): void {
    this.sendJson(JSON.stringify(obj));
  }

  /** Queues one event whose JSON text is already made. */
  sendJson(json: string): void {
    this.pending += `data: ${json}\n\n`;
    const now = performance.now();
    if (now - this.lastWrite >= this.flushMs) this.flush(now);
    else this.timer ??= setTimeout(() => this.flush(performance.now()), this.flushMs - (now - this.lastWrite));
  }

  /** Ends the stream with what is pending and the `[DONE]` sentinel, in one write. */
  end(): void {
    this.cancelTimer();
    const text = this.pending + 'data: [DONE]\n\n';
    this.pending = '';
    this.res.end(text);
  }

  private flush(now: number): void {
    this.cancelTimer();
    if (this.pending === '' || this.res.destroyed || this.res.writableEnded) return;
    this.res.write(this.pending);
    this.pending = '';
    this.lastWrite = now;
  }

  private cancelTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }
}
