/**
 * Reads of the requests table for one deployment over a window, through the ledger's deployments
 * store (which holds the SQL and keeps every query on the index requests(deployment_id, ts)).
 */
import type {RequestBucketRow, RequestScan as WindowScan} from '../ledger/deployments-store.js';
import type {Ledger} from '../ledger/ledger.js';
import type {RequestProfile} from '../profile/profile.js';
import type {TimeWindow} from './window.js';

export type {RequestScan as WindowScan, RequestTotals} from '../ledger/deployments-store.js';

/** Totals and the latency columns of a window, in one scan. */
export function scanWindow(ledger: Ledger, depId: string, w: TimeWindow): WindowScan {
  return ledger.deployments.scanRequests(depId, w);
}

/** Client errors (4xx) per HTTP status, as {"400": n, "429": n}, most frequent first. */
export function clientErrorCodes(ledger: Ledger, depId: string, w: TimeWindow): Record<string, number> {
  return Object.fromEntries(ledger.deployments.clientErrorCodes(depId, w).map((r) => [String(r.http_status), r.n]));
}

/** The newest request profiles in the window (drift compares recent traffic, bounded in size). */
export function recentProfiles(ledger: Ledger, depId: string, w: TimeWindow, limit: number): RequestProfile[] {
  const out: RequestProfile[] = [];
  for (const text of ledger.deployments.recentProfileJson(depId, w, limit)) {
    try {
      const p = JSON.parse(text) as RequestProfile;
      if (typeof p?.len === 'number' && Array.isArray(p.terms)) out.push(p);
    } catch {
      // A profile the server could not write whole is skipped, not fatal to the summary.
    }
  }
  return out;
}

/** One bucket of the time series: the store's row, keyed by its start time (epoch ms) instead of its index. */
export type TimeBucket = Omit<RequestBucketRow, 'b'> & {t: number};

const BUCKET_SIZES_MS = [1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000];

/** The smallest round bucket that cuts the window into at most `maxBuckets`. */
export function bucketSize(w: TimeWindow, maxBuckets = 90): number {
  const span = w.untilMs - w.sinceMs;
  return BUCKET_SIZES_MS.find((b) => span / b <= maxBuckets) ?? Math.ceil(span / maxBuckets);
}

/** Requests, errors and tokens per time bucket; every bucket of the window is present (zeros included). */
export function timeSeries(ledger: Ledger, depId: string, w: TimeWindow, size = bucketSize(w)): {bucket_ms: number; buckets: TimeBucket[]} {
  const rows = ledger.deployments.requestBuckets(depId, w, size);
  const n = Math.ceil((w.untilMs - w.sinceMs) / size);
  const buckets: TimeBucket[] = Array.from({length: n}, (_, i) => ({
    t: w.sinceMs + i * size,
    requests: 0,
    errors: 0,
    client_errors: 0,
    tokens_out: 0,
    e2e_avg_ms: null,
    ttft_avg_ms: null,
    ttft_max_ms: null,
  }));
  for (const {b, ...rest} of rows) if (b >= 0 && b < n) buckets[b] = {t: w.sinceMs + b * size, ...rest};
  return {bucket_ms: size, buckets};
}
