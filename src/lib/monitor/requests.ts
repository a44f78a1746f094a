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

/** A growable Float64Array: no boxed numbers, no array of rows, for up to millions of values. */
class Column {
  private a = new Float64Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  values(): Float64Array {
    return this.a.subarray(0, this.n);
  }
}

interface Collected {
  e2e: Column;
  ttft: Column;
  itl: Column;
}

let collected: Collected | undefined;
const registered = new WeakSet<object>();

/**
 * Registers `monitor_collect(e2e, ttft, itl)`, an aggregate that copies the three latency columns
 * into typed arrays during the same scan that sums the totals. One pass over the window instead of
 * four (totals + one per column): 1.2 s instead of 5.5 s for 1M rows in the window on the loaded
 * 2-core bench machine (see docs/benchmarks.md). SQLite's own percentile_cont() took 5 s.
 */
function register(ledger: Ledger): void {
  if (registered.has(ledger.db)) return;
  registered.add(ledger.db);
  ledger.db.aggregate('monitor_collect', {
    start: () => ({e2e: new Column(), ttft: new Column(), itl: new Column()}),
    // @types/better-sqlite3 types step() with one argument; SQLite passes one per SQL argument.
    step: ((s: Collected, e2e: number | null, ttft: number | null, itl: number | null) => {
      if (e2e !== null) s.e2e.push(e2e);
      if (ttft !== null) s.ttft.push(ttft);
      if (itl !== null) s.itl.push(itl);
      return s;
    }) as unknown as (s: Collected, next: Collected) => Collected,
    result: (s: Collected) => {
      // Queries run synchronously on this thread: the caller reads this right after .get().
      collected = s;
      return s.e2e.n;
    },
  });
  // Reads only: mapping the file spares a copy per page on large windows (0.83 s -> 0.47 s per scan of 1M rows).
  ledger.db.pragma('mmap_size = 1073741824');
}

export interface WindowScan {
  totals: RequestTotals;
  /** Latency columns of the successful requests (a fast 400 is not a fast answer). */
  e2e: Float64Array;
  ttft: Float64Array;
  itl: Float64Array;
}

/** Totals and the latency columns of a window, in one scan. */
export function scanWindow(ledger: Ledger, depId: string, w: TimeWindow): WindowScan {
  register(ledger);
  collected = undefined;
  const row = ledger.db
    .prepare(
      `SELECT count(*) AS requests,
         coalesce(sum(status = 'ok'), 0) AS ok,
         coalesce(sum(status = 'error'), 0) AS error,
         coalesce(sum(status = 'cancelled'), 0) AS cancelled,
         coalesce(sum(prompt_tokens), 0) AS tokens_in,
         coalesce(sum(completion_tokens), 0) AS tokens_out,
         min(ts) AS first_ts, max(ts) AS last_ts,
         monitor_collect(e2e_ms, ttft_ms, itl_ms) FILTER (WHERE status = 'ok') AS collected
       FROM requests WHERE ${RANGE}`,
    )
    .get(params(depId, w)) as RequestTotals & {collected: number | null};
  const c = collected as Collected | undefined;
  collected = undefined;
  const {collected: _n, ...totals} = row;
  const empty = new Float64Array(0);
  return {totals, e2e: c?.e2e.values() ?? empty, ttft: c?.ttft.values() ?? empty, itl: c?.itl.values() ?? empty};
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
