import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../lib/ui/base-command.js';
import type {DeploymentMonitorResult, RunMonitorResult} from '../lib/monitor/index.js';

export type MonitorResult = DeploymentMonitorResult | RunMonitorResult;

export default class Monitor extends BaseCommand<typeof Monitor> {
  static summary = 'Watch a deployment (latency, errors, tokens, cost, drift, SLOs) or a training run.';
  static description = `Summarises the requests a deployment served over a window: requests/s, error rate (failed and cut-off streams), latency p50/p95/p99, time to first token, inter-token latency, tokens, cost per 1,000 tokens and drift of the prompts against the training data.

--check evaluates monitor.slo and exits 7 on a breach (for CI and cron); --html writes a self-contained report; --watch refreshes a live view. With --run ID it follows a training run instead: loss curves, tokens/s, GPU, dollars against the budget, and stall detection.`;

  static examples = [
    '<%= config.bin %> monitor',
    '<%= config.bin %> monitor my-model --since 24h',
    '<%= config.bin %> monitor my-model --check --alert-webhook https://hooks.example.com/llmops',
    '<%= config.bin %> monitor my-model --html report.html',
    '<%= config.bin %> monitor my-model --watch',
    '<%= config.bin %> monitor --run 20261126-101500-tiny-ab12 --watch',
    '<%= config.bin %> monitor my-model --json',
  ];

  static args = {
    deployment: Args.string({description: 'Deployment id or name (default: the newest running deployment).', required: false}),
  };

  static flags = {
    since: Flags.string({summary: 'Start of the window: a duration back from now (30m, 24h, 7d) or an ISO date. Default: monitor.window.'}),
    until: Flags.string({summary: 'End of the window (duration back from now or ISO date). Default: now.'}),
    watch: Flags.boolean({char: 'w', summary: 'Live view, refreshed every monitor.refresh_s; Ctrl-C to quit.'}),
    check: Flags.boolean({summary: 'Evaluate monitor.slo; exit 7 (SLO_BREACHED) when one fails.'}),
    html: Flags.string({summary: 'Write a self-contained HTML report to this file.'}),
    'alert-webhook': Flags.string({summary: 'POST the breach as JSON to this URL (with --check); overrides monitor.alert_webhook.'}),
    run: Flags.string({summary: 'Monitor a training run instead of a deployment.'}),
    interval: Flags.string({summary: 'Refresh interval of --watch (e.g. 5s); default monitor.refresh_s.', hidden: true}),
    frames: Flags.integer({summary: 'Stop --watch after this many refreshes.', hidden: true}),
  };

  async run(): Promise<MonitorResult> {
    const {flags, args} = this;
    const {usageError} = await import('../lib/errors.js');
    if (flags.watch && this.jsonEnabled()) throw usageError('--watch draws a live view and cannot be combined with --json.', {fix: 'Try this: drop --json, or drop --watch for one JSON snapshot.'});
    if (flags.run && args.deployment) throw usageError('Give either a DEPLOYMENT or --run RUN_ID, not both.');
    if (flags.run && (flags.check || flags['alert-webhook'])) throw usageError('--check evaluates deployment SLOs; it does not apply to --run.', {fix: 'Try this: llmops monitor DEPLOYMENT --check'});
    if (flags['alert-webhook'] && !flags.check) throw usageError('--alert-webhook is used by --check.', {fix: 'Try this: add --check.'});
    const {runMonitorCommand, runDeploymentCommand} = await import('../lib/monitor/command.js');
    const loaded = await this.projectConfig();
    const io = {log: (s: string) => this.log(s), warn: (s: string) => this.progress(s), json: this.jsonEnabled()};
    if (flags.run) {
      return runMonitorCommand({loaded, ledger: await this.ledger(), runId: flags.run, watch: flags.watch, html: flags.html, interval: flags.interval, frames: flags.frames, io});
    }
    return runDeploymentCommand({
      loaded,
      ledger: await this.ledger({readonly: true}),
      deployment: args.deployment,
      since: flags.since,
      until: flags.until,
      watch: flags.watch,
      check: flags.check,
      html: flags.html,
      alertWebhook: flags['alert-webhook'],
      interval: flags.interval,
      frames: flags.frames,
      io,
    });
  }
}
