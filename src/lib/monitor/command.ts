/**
 * What `llmops monitor` and `llmops runs watch` do once their flags are parsed: one snapshot or a
 * live view, the SLO exit code, and the human rendering. Kept out of src/commands so the commands
 * stay thin and this stays testable.
 */
import {renderServed} from './served.js';
import type {LoadedConfig} from '../config/load.js';
import {ExitCode} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {parseDuration} from '../util/time.js';
import {monitorDeployment, monitorRun, windowFor, type DeploymentMonitorResult, type RunMonitorResult} from './index.js';
import {liveView} from './live.js';
import {renderRun, renderSlo, renderSummary} from './render.js';
import {timeSeries} from './requests.js';
import {resolveDeployment} from './deployment.js';

export interface CommandIo {
  /** stdout, suppressed under --json by the caller. */
  log: (s: string) => void;
  /** stderr. */
  warn: (s: string) => void;
  json: boolean;
}

interface Common {
  loaded: LoadedConfig;
  ledger: Ledger;
  watch?: boolean;
  html?: string;
  interval?: string;
  frames?: number;
  io: CommandIo;
}

const sparkWidth = () => Math.max(20, Math.min(90, (process.stdout.columns ?? 80) - 16));

function intervalMs(loaded: LoadedConfig, interval?: string): number {
  return interval ? parseDuration(interval, '--interval') : loaded.config.monitor.refresh_s * 1000;
}

export async function runDeploymentCommand(
  o: Common & {deployment?: string; since?: string; until?: string; check?: boolean; alertWebhook?: string},
): Promise<DeploymentMonitorResult> {
  const cfg = o.loaded.config.monitor;
  const opts = {deployment: o.deployment, since: o.since, until: o.until, check: o.check, html: o.html, alertWebhook: o.alertWebhook};
  if (o.watch) {
    // Fail on a bad deployment or window before the screen switches, so the error stays readable.
    const dep = resolveDeployment(o.ledger, o.deployment);
    windowFor(cfg, opts);
    let last: DeploymentMonitorResult | undefined;
    const view = await liveView({
      intervalMs: intervalMs(o.loaded, o.interval),
      maxFrames: o.frames,
      frame: async () => {
        // A sliding window: each refresh ends now.
        last = await monitorDeployment(o.ledger, cfg, {...opts, deployment: dep.id, check: false, html: undefined});
        const series = timeSeries(o.ledger, dep.id, windowFor(cfg, opts)).buckets;
        return renderSummary(last, series, sparkWidth());
      },
    });
    if (view.end !== 'interrupted') o.io.log(view.lastFrame);
    if (o.html) {
      // The report reflects the moment the view was closed.
      last = await monitorDeployment(o.ledger, cfg, {...opts, deployment: dep.id, check: false});
      o.io.warn(`Report written to ${last.report}`);
    }
    return last!;
  }
  const result = await monitorDeployment(o.ledger, cfg, opts);
  if (!o.io.json) {
    o.io.log(renderSummary(result));
    if (result.served) o.io.log('\n' + renderServed(result.served).join('\n'));
    if (result.slo) o.io.log('\n' + renderSlo(result.slo));
    if (result.report) o.io.warn(`Report written to ${result.report}`);
  }
  if (result.slo && !result.slo.passed) {
    o.io.warn(`SLO breached: ${result.slo.breaches.map((b) => b.slo).join(', ')} (exit ${ExitCode.SLO_BREACHED}).`);
    process.exitCode = ExitCode.SLO_BREACHED;
  }
  if (result.slo?.alert && !result.slo.alert.delivered) o.io.warn(`warning: the alert to ${result.slo.alert.url_origin} was not delivered (${result.slo.alert.error}).`);
  return result;
}

export async function runMonitorCommand(o: Common & {runId: string}): Promise<RunMonitorResult> {
  const cfg = o.loaded.config.monitor;
  const run = o.ledger.getRun(o.runId);
  const warnStall = (m: RunMonitorResult) => {
    if (m.stall.changed === 'stalled') o.io.warn(`warning: run ${m.run.id} is stalled: no new step for ${m.stall.idle_s}s (monitor.stall_after_s = ${m.stall.stall_after_s}). Marked stalled in the ledger.`);
  };
  if (o.watch) {
    let last: RunMonitorResult | undefined;
    let stalledFrame: RunMonitorResult | undefined;
    const view = await liveView({
      intervalMs: intervalMs(o.loaded, o.interval),
      maxFrames: o.frames,
      done: () => Boolean(last?.finished),
      frame: () => {
        last = monitorRun(o.ledger, cfg, run.id);
        // The warning is printed after the view closes (stderr is hidden behind the alternate screen).
        if (last.stall.changed === 'stalled') stalledFrame = last;
        return renderRun(last, sparkWidth());
      },
    });
    // Leave the final state on the normal screen, where it stays after the view is gone.
    if (view.end !== 'interrupted') o.io.log(view.lastFrame);
    if (o.html) last = {...last!, report: monitorRun(o.ledger, cfg, run.id, {html: o.html, detectStall: false}).report};
    if (stalledFrame) warnStall(stalledFrame);
    return last!;
  }
  const m = monitorRun(o.ledger, cfg, run.id, {html: o.html});
  if (!o.io.json) {
    o.io.log(renderRun(m, sparkWidth()));
    if (m.report) o.io.warn(`Report written to ${m.report}`);
  }
  warnStall(m);
  return m;
}
