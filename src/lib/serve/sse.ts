/**
 * Server-sent events for a streamed completion, with writes coalesced in time.
 *
 * Each res.write is a socket write (a system call that also wakes the client): on a small model
 * that emits a token every few tenths of a millisecond, one write per token was most of the
 * server's own cost per token (bench/serve.bench.mjs, docs/benchmarks.md "Serve"). So events go
 * out at once when the last write is at least FLUSH_MS old (the first token always is, and so is
 * every token of a model slower than 200 tokens/s), and otherwise wait at most FLUSH_MS, together
 * with the events that follow them. The events themselves are unchanged; only how many share a
 * write. 5 ms is a third of a 60 Hz display frame: text still appears as smoothly as it can be
 * shown, while a model emitting a token every 0.3-3 ms (a small model on a CPU, quiet or loaded)
 * pays for one write per 2-15 tokens.
 */
import type {ServerResponse} from 'node:http';

/** The longest an event waits for company. */
export const FLUSH_MS = 5;

export class SseStream {
  private pending = '';
  private lastWrite = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly res: ServerResponse) {}

  /** Queues one event (`data: JSON`). */
  send(obj: unknown): void {
    this.sendJson(JSON.stringify(obj));
  }

  /** Queues one event whose JSON text is already made. */
  sendJson(json: string): void {
    this.pending += `data: ${json}\n\n`;
    const now = performance.now();
    if (now - this.lastWrite >= FLUSH_MS) this.flush(now);
    else this.timer ??= setTimeout(() => this.flush(performance.now()), FLUSH_MS - (now - this.lastWrite));
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
