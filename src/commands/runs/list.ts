import {Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';

export interface RunListItem {
  id: string;
  kind: string;
  status: string;
  preset: string | null;
  backend: string;
  datasetId: string | null;
  parentRunId: string | null;
  createdAt: string;
  endedAt: string | null;
  reason: string | null;
}

export interface RunsListResult {
  runs: RunListItem[];
  total: number;
}

export default class RunsList extends BaseCommand<typeof RunsList> {
  static summary = 'List runs, newest first.';
  static examples = [
    '<%= config.bin %> runs list',
    '<%= config.bin %> runs list --status failed --since 7d',
    '<%= config.bin %> runs list --kind finetune --limit 5 --json',
  ];

  static flags = {
    kind: Flags.string({summary: 'Only runs of this kind.', options: ['train', 'finetune', 'command', 'export']}),
    status: Flags.string({
      summary: 'Only runs in this status.',
      options: ['queued', 'running', 'succeeded', 'failed', 'stopped', 'budget_exceeded', 'lost'],
    }),
    since: Flags.string({summary: 'Only runs created since a duration ago (24h, 7d) or an ISO date.'}),
    limit: Flags.integer({summary: 'At most this many runs (0: all).', default: 50, min: 0}),
  };

  async run(): Promise<RunsListResult> {
    const {parseSince} = await import('../../lib/util/time.js');
    const since = this.flags.since ? parseSince(this.flags.since) : undefined;
    const ledger = await this.ledger();
    if (ledger.runs.countActive() > 0) {
      // Runs left queued/running by a process that died are settled before they are shown; the
      // runtime is loaded only when some run is active.
      const {reconcileRuns} = await import('../../lib/runtime/reconcile.js');
      await reconcileRuns(ledger);
    }
    const rows = ledger.listRuns({kind: this.flags.kind, status: this.flags.status, since, limit: this.flags.limit || undefined});
    const runs: RunListItem[] = rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      status: r.status,
      preset: r.preset,
      backend: r.backend,
      datasetId: r.dataset_id,
      parentRunId: r.parent_run_id,
      createdAt: r.created_at,
      endedAt: r.ended_at,
      reason: r.reason,
    }));
    const result = {runs, total: ledger.countRuns()};
    if (!this.jsonEnabled()) {
      if (runs.length === 0) {
        this.log('No runs yet. Try this: `llmops train` to start one.');
      } else {
        const {renderTable} = await import('../../lib/ui/output.js');
        this.log(
          renderTable(runs, [
            {header: 'ID', get: (r) => r.id},
            {header: 'KIND', get: (r) => r.kind},
            {header: 'STATUS', get: (r) => r.status},
            {header: 'PRESET', get: (r) => r.preset},
            {header: 'BACKEND', get: (r) => r.backend},
            {header: 'DATASET', get: (r) => r.datasetId},
            {header: 'CREATED', get: (r) => r.createdAt.replace('T', ' ').slice(0, 19)},
          ]),
        );
        if (result.total > runs.length) this.log(`(${runs.length} of ${result.total}; --limit 0 for all)`);
      }
    }
    return result;
  }
}
