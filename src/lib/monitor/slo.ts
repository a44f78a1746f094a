/**
 * `monitor --check`: the SLOs of monitor.slo against a summary, and the breach posted to a webhook.
 * A check whose figure cannot be measured (no traffic, no reference profile) is "skipped", never a
 * breach: a quiet night must not page anyone, and "not enough traffic" is said as such.
 */
import type {MonitorConfig} from '../config/schema.js';
import type {DeploymentSummary} from './summary.js';

export type SloKey = keyof MonitorConfig['slo'];

export interface SloCheck {
  slo: SloKey;
  /** What is measured, for the table. */
  metric: string;
  comparator: '<=' | '>=';
  threshold: number;
  actual: number | null;
  status: 'pass' | 'fail' | 'skipped';
  reason?: string;
}

export interface SloResult {
  configured: boolean;
  passed: boolean;
  checks: SloCheck[];
  breaches: SloCheck[];
  /** Set when a webhook was called. */
  alert?: {url_origin: string; delivered: boolean; status?: number; error?: string};
}

interface SloDef {
  metric: string;
  comparator: '<=' | '>=';
  actual: (s: DeploymentSummary) => number | null;
  skipWhy?: (s: DeploymentSummary) => string | undefined;
}

const driftSkip = (s: DeploymentSummary) =>
  s.drift.status === 'not_enough_traffic' || s.drift.status === 'no_reference' ? s.drift.message ?? s.drift.status : undefined;

const DEFS: Record<SloKey, SloDef> = {
  p95_latency_ms: {metric: 'latency p95 (ms)', comparator: '<=', actual: (s) => s.latency_ms.p95},
  ttft_p95_ms: {metric: 'TTFT p95 (ms)', comparator: '<=', actual: (s) => s.ttft_ms.p95},
  error_rate: {metric: 'error rate (5xx + cut off)', comparator: '<=', actual: (s) => s.error_rate},
  client_error_rate: {metric: 'client error rate (4xx)', comparator: '<=', actual: (s) => s.client_error_rate},
  drift_psi: {metric: 'drift PSI (prompt length)', comparator: '<=', actual: (s) => s.drift.features.prompt_length?.psi ?? null, skipWhy: driftSkip},
  drift_js: {metric: 'drift JS (terms)', comparator: '<=', actual: (s) => s.drift.features.terms?.js ?? null, skipWhy: driftSkip},
  cost_per_1k_tokens: {metric: 'cost per 1k tokens ($)', comparator: '<=', actual: (s) => s.cost.per_1k_tokens},
  min_tokens_per_s: {metric: 'tokens/s per request (median)', comparator: '>=', actual: (s) => s.tokens.per_s_per_request},
};

export function evaluateSlos(summary: DeploymentSummary, slo: MonitorConfig['slo']): SloResult {
  const checks: SloCheck[] = [];
  for (const key of Object.keys(DEFS) as SloKey[]) {
    const threshold = slo[key];
    if (threshold === undefined) continue;
    const def = DEFS[key];
    const skip = def.skipWhy?.(summary);
    const actual = skip ? null : def.actual(summary);
    let status: SloCheck['status'];
    let reason: string | undefined;
    if (skip) {
      status = 'skipped';
      reason = skip;
    } else if (actual === null) {
      status = 'skipped';
      reason = summary.requests === 0 ? 'no requests in the window' : 'not measured in this window';
    } else {
      status = (def.comparator === '<=' ? actual <= threshold : actual >= threshold) ? 'pass' : 'fail';
    }
    checks.push({slo: key, metric: def.metric, comparator: def.comparator, threshold, actual, status, ...(reason ? {reason} : {})});
  }
  const breaches = checks.filter((c) => c.status === 'fail');
  return {configured: checks.length > 0, passed: breaches.length === 0, checks, breaches};
}

/** The JSON posted to the webhook on a breach. */
export function breachPayload(summary: DeploymentSummary, result: SloResult): Record<string, unknown> {
  return {
    event: 'llmops.slo_breach',
    deployment: summary.deployment,
    window: summary.window,
    breaches: result.breaches,
    checks: result.checks,
    summary: {
      requests: summary.requests,
      error_rate: summary.error_rate,
      client_error_rate: summary.client_error_rate,
      by_class: summary.by_class,
      latency_ms: summary.latency_ms,
      ttft_ms: summary.ttft_ms,
      tokens: summary.tokens,
      cost: summary.cost,
      drift_status: summary.drift.status,
    },
    text: `llmops: ${result.breaches.length} SLO breach(es) on ${summary.deployment.name} (${summary.deployment.id}): ` +
      result.breaches.map((b) => `${b.metric} ${b.actual} (limit ${b.comparator} ${b.threshold})`).join('; '),
  };
}

/**
 * Posts the breach. A webhook URL can embed a secret (Slack's do), so only its origin is ever
 * reported back; a failed delivery is reported, and the check still fails on the breach.
 */
export async function postAlert(url: string, payload: unknown, timeoutMs = 5000): Promise<NonNullable<SloResult['alert']>> {
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    return {url_origin: '(invalid URL)', delivered: false, error: 'not a valid URL'};
  }
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {'content-type': 'application/json', 'user-agent': 'llmops-monitor'},
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    return {url_origin: origin, delivered: res.ok, status: res.status, ...(res.ok ? {} : {error: `HTTP ${res.status}`})};
  } catch (error) {
    const e = error as Error & {cause?: {code?: string}};
    return {url_origin: origin, delivered: false, error: e.cause?.code ?? e.name ?? 'request failed'};
  }
}
