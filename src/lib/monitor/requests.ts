/**
 * Reads of the requests table for one deployment over a window. Every query is bounded by the
 * index requests(deployment_id, ts), so its cost grows with the traffic in the window, not with
 * the size of the ledger.
 */
import type {Ledger} from '../ledger/ledger.js';
import type {RequestProfile} from './profile.js';
import type {TimeWindow} from './window.js';

const RANGE = 'deployment_id = @dep AND ts >= @since AND ts < @until';

export interface RequestTotals {
  requests: number;
  ok: number;
  error: number;
  cancelled: number;
  tokens_in: number;
  tokens_out: number;
  first_ts: number | null;
  last_ts: number | null;
}

function params(depId: string, w: TimeWindow) {
  return {dep: depId, since: w.sinceMs, until: w.untilMs};
}

export function requestTotals(ledger: Ledger, depId: string, w: TimeWindow): RequestTotals {
  const r = ledger.db
    .prepare(
      `SELECT count(*) AS requests,
         coalesce(sum(status = 'ok'), 0) AS ok,
         coalesce(sum(status = 'error'), 0) AS error,
         coalesce(sum(status = 'cancelled'), 0) AS cancelled,
         coalesce(sum(prompt_tokens), 0) AS tokens_in,
         coalesce(sum(completion_tokens), 0) AS tokens_out,
         min(ts) AS first_ts, max(ts) AS last_ts
       FROM requests WHERE ${RANGE}`,
    )
    .get(params(depId, w)) as RequestTotals;
  return r;
}

export type LatencyColumn = 'e2e_ms' | 'ttft_ms' | 'itl_ms';

/**
 * One latency column of the successful requests, as a Float64Array for exact order statistics.
 * Errors are left out: a fast 400 is not a fast answer, and errors are counted in error_rate.
 */
export function latencyColumn(ledger: Ledger, depId: string, w: TimeWindow, column: LatencyColumn): Float64Array {
  const values = ledger.db
    .prepare(`SELECT ${column} FROM requests WHERE ${RANGE} AND status = 'ok' AND ${column} IS NOT NULL`)
    .pluck()
    .all(params(depId, w)) as number[];
  return Float64Array.from(values);
}

/** The newest request profiles in the window (drift compares recent traffic, bounded in size). */
export function recentProfiles(ledger: Ledger, depId: string, w: TimeWindow, limit: number): RequestProfile[] {
  const rows = ledger.db
    .prepare(`SELECT profile_json FROM requests WHERE ${RANGE} AND profile_json IS NOT NULL ORDER BY ts DESC LIMIT @limit`)
    .pluck()
    .all({...params(depId, w), limit}) as string[];
  const out: RequestProfile[] = [];
  for (const text of rows) {
    try {
      const p = JSON.parse(text) as RequestProfile;
      if (typeof p?.len === 'number' && Array.isArray(p.terms)) out.push(p);
    } catch {
      // A profile the server could not write whole is skipped, not fatal to the summary.
    }
  }
  return out;
}

export interface TimeBucket {
  /** Bucket start, epoch ms. */
  t: number;
  requests: number;
  errors: number;
  tokens_out: number;
  e2e_avg_ms: number | null;
  ttft_avg_ms: number | null;
  ttft_max_ms: number | null;
}

const BUCKET_SIZES_MS = [1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000];

/** The smallest round bucket that cuts the window into at most `maxBuckets`. */
export function bucketSize(w: TimeWindow, maxBuckets = 90): number {
  const span = w.untilMs - w.sinceMs;
  return BUCKET_SIZES_MS.find((b) => span / b <= maxBuckets) ?? Math.ceil(span / maxBuckets);
}

/** Requests, errors and tokens per time bucket; every bucket of the window is present (zeros included). */
export function timeSeries(ledger: Ledger, depId: string, w: TimeWindow, size = bucketSize(w)): {bucket_ms: number; buckets: TimeBucket[]} {
  const rows = ledger.db
    .prepare(
      `SELECT CAST((ts - @since) / @size AS INTEGER) AS b, count(*) AS requests,
         coalesce(sum(status != 'ok'), 0) AS errors, coalesce(sum(completion_tokens), 0) AS tokens_out,
         avg(CASE WHEN status = 'ok' THEN e2e_ms END) AS e2e_avg_ms,
         avg(CASE WHEN status = 'ok' THEN ttft_ms END) AS ttft_avg_ms,
         max(CASE WHEN status = 'ok' THEN ttft_ms END) AS ttft_max_ms
       FROM requests WHERE ${RANGE} GROUP BY b ORDER BY b`,
    )
    .all({...params(depId, w), size}) as Array<Omit<TimeBucket, 't'> & {b: number}>;
  const n = Math.ceil((w.untilMs - w.sinceMs) / size);
  const buckets: TimeBucket[] = Array.from({length: n}, (_, i) => ({
    t: w.sinceMs + i * size,
    requests: 0,
    errors: 0,
    tokens_out: 0,
    e2e_avg_ms: null,
    ttft_avg_ms: null,
    ttft_max_ms: null,
  }));
  for (const {b, ...rest} of rows) if (b >= 0 && b < n) buckets[b] = {t: w.sinceMs + b * size, ...rest};
  return {bucket_ms: size, buckets};
}
