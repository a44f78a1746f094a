/** Terminal rendering of monitor results (plain text; colour only where output.ts allows it). */
import chalk from 'chalk';
import {formatUsd, renderTable, sparkline} from '../util/format.js';
import {formatDuration} from '../util/time.js';
import type {DriftResult} from './drift.js';
import type {TimeBucket} from './requests.js';
import type {RunMonitor} from './runs.js';
import type {SloResult} from './slo.js';
import type {DeploymentSummary} from './summary.js';

const ms = (v: number | null) => (v === null ? '-' : v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(v < 10 ? 1 : 0)}ms`);
const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
const num = (v: number | null, d = 1) => (v === null ? '-' : v.toFixed(d));

const KEY_WIDTH = 13;

/** ": 400 x3, 429 x1" (the five most frequent), or nothing. */
function clientCodes(s: DeploymentSummary): string {
  const codes = Object.entries(s.client_errors_by_http_status);
  if (codes.length === 0) return '';
  return `: ${codes.slice(0, 5).map(([code, n]) => `${code} x${n}`).join(', ')}${codes.length > 5 ? ', ...' : ''}`;
}

export function renderSummary(s: DeploymentSummary, series?: TimeBucket[], width = 60): string {
  const lines: string[] = [];
  lines.push(chalk.bold(`${s.deployment.name} (${s.deployment.id})  ${s.deployment.status}  ${s.deployment.url}`));
  lines.push(chalk.dim(`window ${s.window.since} .. ${s.window.until}`));
  lines.push('');
  const c = s.by_class;
  const rows: Array<[string, string, string?]> = [
    ['requests', `${s.requests}  (${num(s.rps, 3)}/s)`, series ? sparkline(series.map((b) => b.requests), width) : undefined],
    ['errors', `${c.server_error + c.cut_off}  (${pct(s.error_rate)}: ${c.server_error} 5xx, ${c.cut_off} cut off)`, series ? sparkline(series.map((b) => b.errors), width) : undefined],
    ['client errors', `${c.client_error}  (${pct(s.client_error_rate)}${clientCodes(s)}; not in the error rate)`, series && c.client_error > 0 ? sparkline(series.map((b) => b.client_errors), width) : undefined],
    ['latency', `p50 ${ms(s.latency_ms.p50)}  p95 ${ms(s.latency_ms.p95)}  p99 ${ms(s.latency_ms.p99)}`, series ? sparkline(series.map((b) => b.e2e_avg_ms ?? 0), width) : undefined],
    ['TTFT', `p50 ${ms(s.ttft_ms.p50)}  p95 ${ms(s.ttft_ms.p95)}`, series ? sparkline(series.map((b) => b.ttft_avg_ms ?? 0), width) : undefined],
    ['inter-token', `p50 ${ms(s.itl_ms.p50)}  p95 ${ms(s.itl_ms.p95)}`],
    ['tokens', `in ${s.tokens.in}  out ${s.tokens.out}  ${num(s.tokens.per_s)}/s (per request ${num(s.tokens.per_s_per_request)}/s)`, series ? sparkline(series.map((b) => b.tokens_out), width) : undefined],
    [
      'cost',
      `${formatUsd(s.cost.usd)} over ${formatDuration(s.cost.running_s * 1000)} at ${formatUsd(s.cost.price_per_hour)}/h` +
        (s.cost.per_1k_tokens === null ? '' : `  = ${formatUsd(s.cost.per_1k_tokens)} per 1k tokens`) +
        (s.cost.price_per_hour === 0 ? chalk.dim('  (no host price set: deploy.price_per_hour)') : ''),
    ],
  ];
  for (const [k, v, spark] of rows) lines.push(`${k.padEnd(KEY_WIDTH)} ${v}${spark ? '\n' + ' '.repeat(KEY_WIDTH + 1) + chalk.cyan(spark) : ''}`);
  lines.push('');
  lines.push(renderDrift(s.drift));
  for (const n of s.notes) lines.push(chalk.yellow(`note: ${n}`));
  return lines.join('\n');
}

export function renderDrift(d: DriftResult): string {
  const head = `${'drift'.padEnd(KEY_WIDTH)} ${driftBadge(d.status)}`;
  if (d.status === 'no_reference' || d.status === 'not_enough_traffic') return `${head}  ${chalk.dim(d.message ?? '')}`;
  const lines = [head + chalk.dim(`  (${d.requests} recent requests vs ${d.reference?.count ?? '?'} reference prompts)`)];
  const l = d.features.prompt_length;
  const t = d.features.terms;
  if (l) lines.push(`  prompt length  PSI ${l.psi.toFixed(3)}  ${l.level}  (notable >= ${d.thresholds.psi_notable}, significant >= ${d.thresholds.psi_significant})`);
  if (t) lines.push(`  terms          JS  ${t.js.toFixed(3)}  ${t.drifted ? 'drifted' : 'ok'}  (threshold ${d.thresholds.js_threshold})`);
  if (d.top_moved_terms.length > 0) {
    lines.push(
      '  moved terms    ' +
        d.top_moved_terms
          .slice(0, 6)
          .map((m) => `${m.term} ${m.delta >= 0 ? '+' : ''}${(m.delta * 100).toFixed(1)}pp`)
          .join(', '),
    );
  }
  return lines.join('\n');
}

function driftBadge(status: DriftResult['status']): string {
  switch (status) {
    case 'ok':
      return chalk.green('ok');
    case 'notable':
      return chalk.yellow('notable');
    case 'drift':
      return chalk.red('DRIFT');
    case 'not_enough_traffic':
      return chalk.dim('not enough traffic');
    default:
      return chalk.dim('no reference');
  }
}

export function renderSlo(r: SloResult): string {
  if (!r.configured) return 'No SLOs configured (monitor.slo in llmops.yaml): nothing to check.';
  const table = renderTable(r.checks, [
    {header: 'SLO', get: (c) => c.slo},
    {header: 'MEASURED', get: (c) => c.metric},
    {header: 'ACTUAL', get: (c) => (c.actual === null ? '-' : round(c.actual)), align: 'right'},
    {header: 'LIMIT', get: (c) => `${c.comparator} ${c.threshold}`, align: 'right'},
    {header: 'RESULT', get: (c) => (c.status === 'pass' ? chalk.green('pass') : c.status === 'fail' ? chalk.red('FAIL') : chalk.dim('skipped'))},
    {header: 'NOTE', get: (c) => c.reason ?? ''},
  ]);
  const verdict = r.passed ? chalk.green(`All ${r.checks.length} SLO checks passed.`) : chalk.red(`${r.breaches.length} of ${r.checks.length} SLO checks failed.`);
  const alert = r.alert
    ? `\nAlert to ${r.alert.url_origin}: ${r.alert.delivered ? `delivered (HTTP ${r.alert.status})` : `NOT delivered (${r.alert.error})`}`
    : '';
  return `${table}\n${verdict}${alert}`;
}

const round = (x: number) => String(Math.round(x * 1000) / 1000);

export function renderRun(m: RunMonitor, width = 60): string {
  const lines: string[] = [];
  const r = m.run;
  lines.push(chalk.bold(`run ${r.id}  ${r.kind}${r.preset ? ` (${r.preset})` : ''}  ${r.status}${m.stall.stalled ? chalk.red('  STALLED') : ''}`));
  lines.push(chalk.dim(`backend ${r.backend}  started ${r.started_at ?? '-'}${r.ended_at ? `  ended ${r.ended_at}` : ''}`));
  lines.push('');
  const lossVals = m.curves.loss.map((p) => p.value);
  const valVals = m.curves.val_loss.map((p) => p.value);
  lines.push(`step         ${m.step ?? '-'}${m.last_metric_at ? chalk.dim(`  (last metric ${m.last_metric_at})`) : ''}`);
  lines.push(`loss         ${num(m.last.loss ?? null, 4)}  ${chalk.cyan(sparkline(lossVals, width))}`);
  lines.push(`val_loss     ${num(m.last.val_loss ?? null, 4)}  ${chalk.magenta(sparkline(valVals, width))}`);
  if (m.last.val_ppl !== undefined) lines.push(`val_ppl      ${num(m.last.val_ppl, 2)}`);
  lines.push(`tokens/s     ${num(m.tokens_per_s, 0)}`);
  lines.push(
    `GPU          ${m.gpu.util === null ? 'no GPU metrics' : `util ${num(m.gpu.util, 0)}%  mem ${num(m.gpu.mem_mb, 0)} MB  power ${num(m.gpu.power_w, 0)} W`}`,
  );
  const budget = m.cost.budget_usd === null ? chalk.dim('  (no budget)') : `  of ${formatUsd(m.cost.budget_usd)} budget (${pct(m.cost.budget_used)})${budgetBar(m.cost.budget_used)}`;
  lines.push(`cost         ${formatUsd(m.cost.usd)}${budget}`);
  if (m.stall.stalled) {
    lines.push(
      chalk.red(`warning: no new step for ${formatDuration((m.stall.idle_s ?? 0) * 1000)} (monitor.stall_after_s = ${m.stall.stall_after_s}): the run looks stalled, and a stalled GPU still costs money.`),
    );
  }
  return lines.join('\n');
}

function budgetBar(used: number | null, width = 20): string {
  if (used === null) return '';
  const filled = Math.min(width, Math.round(Math.min(1, used) * width));
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  return '  ' + (used >= 1 ? chalk.red(bar) : used >= 0.8 ? chalk.yellow(bar) : chalk.green(bar));
}
