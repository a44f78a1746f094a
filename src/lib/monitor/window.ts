/** The time window a summary covers: `--since`/`--until` (durations or ISO dates) or monitor.window. */
import {usageError} from '../errors.js';
import {parseDuration} from '../util/time.js';

export interface TimeWindow {
  /** Inclusive, epoch ms. */
  sinceMs: number;
  /** Exclusive, epoch ms. */
  untilMs: number;
}

export interface WindowJson {
  since: string;
  until: string;
}

export function windowJson(w: TimeWindow): WindowJson {
  return {since: new Date(w.sinceMs).toISOString(), until: new Date(w.untilMs).toISOString()};
}

function parsePoint(text: string, flag: string, now: number): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw usageError(`${flag}: "${text}" is not a valid date`, {fix: 'Try this: an ISO date such as 2026-11-26T10:00:00Z, or a duration such as 1h.'});
    return t;
  }
  if (text === 'now') return now;
  return now - parseDuration(text, flag);
}

/**
 * `since` defaults to the configured window before `until`; `until` defaults to now. A window
 * that ends before it starts is refused rather than answered with zeros.
 */
export function resolveWindow(opts: {since?: string; until?: string; defaultWindow: string; now?: number}): TimeWindow {
  const now = opts.now ?? Date.now();
  const untilMs = opts.until ? parsePoint(opts.until, '--until', now) : now;
  const sinceMs = opts.since ? parsePoint(opts.since, '--since', now) : untilMs - parseDuration(opts.defaultWindow, 'monitor.window');
  if (!(untilMs > sinceMs)) {
    throw usageError(
      `The window is empty: --since ${new Date(sinceMs).toISOString()} is not before --until ${new Date(untilMs).toISOString()}.`,
      {fix: 'Try this: a --since further back (e.g. --since 24h), or an --until after --since.', details: {since: sinceMs, until: untilMs}},
    );
  }
  return {sinceMs, untilMs};
}
