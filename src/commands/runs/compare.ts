import {Args} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {RunComparison} from '../../lib/runtime/inspect.js';

export default class RunsCompare extends BaseCommand<typeof RunsCompare> {
  static summary = 'Compare runs side by side: config differences, final and best metrics, cost and duration.';
  static examples = ['<%= config.bin %> runs compare r-20261126-101500-ab12 r-20261126-113000-cd34', '<%= config.bin %> runs compare A B C --json'];
  static strict = false;
  static args = {
    a: Args.string({required: true, description: 'First run id.'}),
    b: Args.string({required: true, description: 'Second run id (more may follow).'}),
  };

  async run(): Promise<RunComparison> {
    const {argv} = await this.parse(RunsCompare);
    const {compareRuns} = await import('../../lib/runtime/inspect.js');
    const ledger = await this.ledger();
    const runs = (argv as string[]).map((id) => ledger.getRun(id));
    const c = compareRuns(ledger, runs);
    if (!this.jsonEnabled()) {
      const {formatUsd, renderTable} = await import('../../lib/ui/output.js');
      const {formatDuration} = await import('../../lib/util/time.js');
      const ids = c.runs.map((r) => r.id);
      type Row = {label: string; vals: string[]};
      const cols = [{header: '', get: (r: Row) => r.label}, ...ids.map((id, i) => ({header: id, get: (r: Row) => r.vals[i]}))];
      const rows: Row[] = [
        {label: 'status', vals: c.runs.map((r) => r.status)},
        {label: 'preset', vals: c.runs.map((r) => r.preset ?? '-')},
        {label: 'duration', vals: c.runs.map((r) => (r.durationS === null ? '-' : formatDuration(r.durationS * 1000)))},
        {label: 'cost', vals: c.runs.map((r) => formatUsd(r.costUsd))},
      ];
      for (const [k, vals] of Object.entries(c.metrics)) {
        // No "best" for settings and counters such as lr: only their last value.
        const hasBest = vals.some((v) => v.best !== null);
        const cell = (v: {last: number | null; best: number | null}) =>
          v.last === null ? '-' : hasBest && v.best !== null ? `${+v.last.toPrecision(5)} / ${+v.best.toPrecision(5)}` : `${+v.last.toPrecision(5)}`;
        rows.push({label: hasBest ? `${k} (last / best)` : `${k} (last)`, vals: vals.map(cell)});
      }
      this.log(renderTable(rows, cols));
      const diff = Object.entries(c.configDiff);
      this.log('');
      if (diff.length === 0) this.log('Same settings.');
      else {
        const dcols = [{header: 'SETTING', get: (r: Row) => r.label}, ...ids.map((id, i) => ({header: id, get: (r: Row) => r.vals[i]}))];
        this.log(renderTable(diff.map(([k, vals]) => ({label: k, vals: vals.map((v) => (v === null ? '-' : typeof v === 'string' ? v : JSON.stringify(v)))})), dcols));
      }
    }
    return c;
  }
}
