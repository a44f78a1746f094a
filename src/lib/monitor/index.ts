/**
 * The library behind `llmops monitor` and `llmops runs watch`: everything a command does, callable
 * without the CLI (tests, a notebook, a cron script).
 */
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import type {MonitorConfig} from '../config/schema.js';
import type {Ledger} from '../ledger/ledger.js';
import {resolveDeployment} from './deployment.js';
import {deploymentReport, runReport} from './html.js';
import {timeSeries} from './requests.js';
import {lineage, runMonitor, type RunMonitor} from './runs.js';
import {breachPayload, evaluateSlos, postAlert, type SloResult} from './slo.js';
import {summarize, type DeploymentSummary} from './summary.js';
import {resolveWindow, type TimeWindow} from './window.js';

export interface DeploymentMonitorOptions {
  deployment?: string;
  since?: string;
  until?: string;
  check?: boolean;
  /** Write the HTML report here. */
  html?: string;
  /** Overrides monitor.alert_webhook. */
  alertWebhook?: string;
  now?: number;
}

export interface DeploymentMonitorResult extends DeploymentSummary {
  slo?: SloResult;
  /** Absolute path of the HTML report, with --html. */
  report?: string;
}

export function windowFor(cfg: MonitorConfig, opts: Pick<DeploymentMonitorOptions, 'since' | 'until' | 'now'>): TimeWindow {
  return resolveWindow({since: opts.since, until: opts.until, defaultWindow: cfg.window, now: opts.now});
}

export async function monitorDeployment(ledger: Ledger, cfg: MonitorConfig, opts: DeploymentMonitorOptions = {}): Promise<DeploymentMonitorResult> {
  const w = windowFor(cfg, opts);
  const dep = resolveDeployment(ledger, opts.deployment);
  const {summary, distributions} = summarize(ledger, dep, w, cfg, {now: opts.now, distributions: Boolean(opts.html)});
  const result: DeploymentMonitorResult = {...summary};
  if (opts.check) {
    const slo = evaluateSlos(summary, cfg.slo);
    const fromEnv = cfg.alert_webhook_env ? process.env[cfg.alert_webhook_env] : undefined;
    const webhook = opts.alertWebhook ?? cfg.alert_webhook ?? fromEnv;
    if (!slo.passed && webhook) slo.alert = await postAlert(webhook, breachPayload(summary, slo));
    else if (!slo.passed && cfg.alert_webhook_env && !fromEnv) {
      slo.alert = {url_origin: `$${cfg.alert_webhook_env}`, delivered: false, error: `environment variable ${cfg.alert_webhook_env} is not set`};
    }
    result.slo = slo;
  }
  if (opts.html) {
    // The report shows the SLO table whenever SLOs are configured; only --check turns a breach into an exit code.
    const slo = result.slo ?? evaluateSlos(summary, cfg.slo);
    const html = deploymentReport({
      summary,
      distributions: distributions!,
      series: timeSeries(ledger, dep.id, w),
      lineage: lineage(ledger, dep.model_run_id),
      slo,
      evals: dep.model_run_id ? ledger.evals.latestForRun(dep.model_run_id) : ledger.evals.latestForModel(dep.model_dir),
    });
    result.report = writeReport(opts.html, html);
  }
  return result;
}

export interface RunMonitorOptions {
  html?: string;
  now?: number;
  /** Update runs.stalled_at and append stalled/resumed events (default true). */
  detectStall?: boolean;
}

export interface RunMonitorResult extends RunMonitor {
  report?: string;
}

export function monitorRun(ledger: Ledger, cfg: MonitorConfig, runId: string, opts: RunMonitorOptions = {}): RunMonitorResult {
  const run = ledger.getRun(runId);
  const m: RunMonitorResult = runMonitor(ledger, run, {stallAfterS: cfg.stall_after_s, now: opts.now, detectStall: opts.detectStall});
  if (opts.html) {
    const pts = (key: string) => ledger.metricSeries(run.id, key).map((p) => ({x: p.step, y: p.value}));
    m.report = writeReport(opts.html, runReport(m, {tokensPerS: pts('tokens_per_s'), gpuUtil: pts('gpu_util')}));
  }
  return m;
}

function writeReport(file: string, html: string): string {
  const abs = path.resolve(file);
  mkdirSync(path.dirname(abs), {recursive: true});
  writeFileSync(abs, html);
  return abs;
}

export {resolveDeployment} from './deployment.js';
export {renderRun, renderSlo, renderSummary} from './render.js';
export {liveView} from './live.js';
export {timeSeries} from './requests.js';
export {resolveWindow} from './window.js';
