import {Flags} from '@oclif/core';
import type {CostReport} from '../lib/cost/report.js';
import {BaseCommand} from '../lib/ui/base-command.js';

export default class Cost extends BaseCommand<typeof Cost> {
  static summary = 'Report what runs and deployments cost, from the append-only cost ledger.';
  static description =
    'Each entry keeps the price in force when the cost was incurred. Queue time is recorded but not billed.';
  static examples = [
    '<%= config.bin %> cost',
    '<%= config.bin %> cost --by backend --since 30d',
    '<%= config.bin %> cost --by stage --csv > costs.csv',
    '<%= config.bin %> cost --json',
  ];

  static flags = {
    by: Flags.string({summary: 'Group by.', options: ['day', 'stage', 'backend', 'run'], default: 'day'}),
    since: Flags.string({summary: 'Only costs since a duration ago (24h, 30d) or an ISO date.'}),
    csv: Flags.boolean({summary: 'Print CSV instead of a table.', exclusive: ['json']}),
  };

  async run(): Promise<CostReport> {
    const {parseSince} = await import('../lib/util/time.js');
    const {costReport, costReportCsv} = await import('../lib/cost/report.js');
    const ledger = await this.ledger({readonly: true});
    const report = costReport(ledger, {
      groupBy: this.flags.by as CostReport['groupBy'],
      since: this.flags.since ? parseSince(this.flags.since) : undefined,
    });
    if (this.flags.csv) {
      process.stdout.write(costReportCsv(report));
    } else if (!this.jsonEnabled()) {
      const {renderTable, formatUsd} = await import('../lib/ui/output.js');
      const {formatDuration} = await import('../lib/util/time.js');
      if (report.rows.length > 0) {
        this.log(
          renderTable(
            [...report.rows, {group: 'TOTAL', ...report.total, prices: []}],
            [
              {header: report.groupBy.toUpperCase(), get: (r) => r.group},
              {header: 'COST', get: (r) => formatUsd(r.usd), align: 'right'},
              {header: 'TIME', get: (r) => formatDuration(r.seconds * 1000), align: 'right'},
              {header: 'QUEUED', get: (r) => (r.queuedSeconds ? formatDuration(r.queuedSeconds * 1000) : '-'), align: 'right'},
              {header: 'ENTRIES', get: (r) => r.entries, align: 'right'},
              {header: '$/H', get: (r) => r.prices.map((p) => p.toFixed(2)).join(' ')},
            ],
          ),
        );
      }
      for (const n of report.notes) this.log(n);
    }
    return report;
  }
}
