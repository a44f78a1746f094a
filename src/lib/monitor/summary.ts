/** The summary of one deployment over a window: the object `llmops monitor DEP --json` prints. */
import type {DeploymentRow, Ledger} from '../ledger/ledger.js';
import type {MonitorConfig} from '../config/schema.js';
import {computeDrift, type DriftResult} from './drift.js';
import {loadReference} from './reference.js';
import {clientErrorCodes, recentProfiles, scanWindow} from './requests.js';
import {histogram, quantile, type Histogram} from './stats.js';
import {windowJson, type TimeWindow, type WindowJson} from './window.js';

export interface DeploymentInfo {
  id: string;
  name: string;
  status: string;
  model_run_id: string | null;
  model_dir: string;
  url: string;
}

export interface DeploymentSummary {
  deployment: DeploymentInfo;
  window: WindowJson;
  requests: number;
  /** Requests per second over the whole window. */
  rps: number;
  /** ok, error, cancelled, as the server recorded them. */
  by_status: {ok: number; error: number; cancelled: number};
  /**
   * The same requests by who failed: client_error (a 4xx), server_error (a 5xx: the generation
   * failed, timed out, the server was shutting down; a stream the server cut off carries its 5xx),
   * cut_off (the connection closed before the answer ended, 499). The four add up to `requests`.
   */
  by_class: {ok: number; client_error: number; server_error: number; cut_off: number};
  /** (server_error + cut_off) / requests: what the error_rate SLO checks; 4xx are not counted. Null with no requests. */
  error_rate: number | null;
  /** client_error / requests: the client_error_rate SLO. Null with no requests. */
  client_error_rate: number | null;
  /** Client errors per HTTP status ({"400": 3, "429": 1}), most frequent first; {} with none. */
  client_errors_by_http_status: Record<string, number>;
  latency_ms: {p50: number | null; p95: number | null; p99: number | null};
  ttft_ms: {p50: number | null; p95: number | null};
  itl_ms: {p50: number | null; p95: number | null};
  tokens: {
    in: number;
    out: number;
    /** Output tokens per second over the window (throughput). */
    per_s: number;
    /** Median decode speed of one request: 1000 / median inter-token latency. */
    per_s_per_request: number | null;
  };
  cost: {
    usd: number;
    /** USD per 1,000 tokens (in + out); null when no token was served. */
    per_1k_tokens: number | null;
    price_per_hour: number;
    /** Seconds the deployment was up inside the window. */
    running_s: number;
  };
  drift: DriftResult;
  /** Human notes: an empty window, a reference that could not be read... */
  notes: string[];
}

/** Data kept for charts (the HTML report), not part of the JSON result. */
export interface SummaryDistributions {
  latency: Histogram;
  ttft: Histogram;
}

const r3 = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);
const rate = (n: number, of: number): number | null => (of === 0 ? null : r3(n / of));

/** Seconds the deployment was up inside the window, from its started/stopped timestamps. */
export function runningSeconds(dep: DeploymentRow, w: TimeWindow, now = Date.now()): number {
  const start = Date.parse(dep.started_at ?? dep.created_at);
  let end: number;
  if (dep.stopped_at) end = Date.parse(dep.stopped_at);
  else if (dep.status === 'running' || dep.status === 'starting') end = now;
  else end = start; // failed before it served: no running time known
  const s = Math.max(start, w.sinceMs);
  const e = Math.min(end, w.untilMs);
  return Number.isFinite(s) && Number.isFinite(e) ? Math.max(0, (e - s) / 1000) : 0;
}

export function summarize(
  ledger: Ledger,
  dep: DeploymentRow,
  w: TimeWindow,
  cfg: Pick<MonitorConfig, 'drift'> & {drift: {max_requests?: number}},
  opts: {now?: number; distributions?: boolean} = {},
): {summary: DeploymentSummary; distributions?: SummaryDistributions} {
  const notes: string[] = [];
  const {totals, e2e, ttft, itl} = scanWindow(ledger, dep.id, w);
  const seconds = (w.untilMs - w.sinceMs) / 1000;
  // Histograms read the arrays before quantile() reorders them (it only permutes, so either order works).
  const distributions = opts.distributions ? {latency: histogram(e2e), ttft: histogram(ttft)} : undefined;
  const itl50 = quantile(itl, 0.5);

  const ref = loadReference(ledger, dep);
  if (ref.problem && ref.profile) notes.push(ref.problem);
  const profiles = recentProfiles(ledger, dep.id, w, cfg.drift.max_requests ?? 5000);
  const drift = computeDrift(ref.profile, profiles, cfg.drift, {referenceSource: ref.source});
  if (!ref.profile && ref.problem) drift.message = `No reference profile: drift is not measured (${ref.problem}).`;

  const running = runningSeconds(dep, w, opts.now);
  const usd = dep.price_per_hour * (running / 3600);
  const tokens = totals.tokens_in + totals.tokens_out;
  if (totals.requests === 0) notes.push(`No requests between ${windowJson(w).since} and ${windowJson(w).until}.`);

  const summary: DeploymentSummary = {
    deployment: {id: dep.id, name: dep.name, status: dep.status, model_run_id: dep.model_run_id, model_dir: dep.model_dir, url: dep.url},
    window: windowJson(w),
    requests: totals.requests,
    rps: r3(totals.requests / seconds)!,
    by_status: {ok: totals.ok, error: totals.error, cancelled: totals.cancelled},
    by_class: {ok: totals.ok, client_error: totals.client_error, server_error: totals.server_error, cut_off: totals.cut_off},
    error_rate: rate(totals.server_error + totals.cut_off, totals.requests),
    client_error_rate: rate(totals.client_error, totals.requests),
    // A second, small query, only when there is something to break down.
    client_errors_by_http_status: totals.client_error > 0 ? clientErrorCodes(ledger, dep.id, w) : {},
    latency_ms: {p50: r3(quantile(e2e, 0.5)), p95: r3(quantile(e2e, 0.95)), p99: r3(quantile(e2e, 0.99))},
    ttft_ms: {p50: r3(quantile(ttft, 0.5)), p95: r3(quantile(ttft, 0.95))},
    itl_ms: {p50: r3(itl50), p95: r3(quantile(itl, 0.95))},
    tokens: {
      in: totals.tokens_in,
      out: totals.tokens_out,
      per_s: r3(totals.tokens_out / seconds)!,
      per_s_per_request: itl50 && itl50 > 0 ? r3(1000 / itl50) : null,
    },
    cost: {
      usd: Math.round(usd * 1e6) / 1e6,
      per_1k_tokens: tokens > 0 ? Math.round((usd / (tokens / 1000)) * 1e6) / 1e6 : null,
      price_per_hour: dep.price_per_hour,
      running_s: Math.round(running),
    },
    drift,
    notes,
  };
  return {summary, distributions};
}
