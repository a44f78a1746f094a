import {Args} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';
import type {RunDetail} from '../../lib/runtime/inspect.js';

export default class RunsShow extends BaseCommand<typeof RunsShow> {
  static summary = 'Show one run: status, lineage, metrics summary, cost and artifacts.';
  static examples = ['<%= config.bin %> runs show r-20261126-101500-ab12', '<%= config.bin %> runs show r-2026 --json'];
  static args = {id: Args.string({required: true, description: 'Run id (or a unique prefix).'})};

  async run(): Promise<RunDetail> {
    const {reconcileRuns} = await import('../../lib/runtime/reconcile.js');
    const {runDetail} = await import('../../lib/runtime/inspect.js');
    const ledger = await this.ledger();
    await reconcileRuns(ledger, {loaded: await this.projectConfig()});
    const d = runDetail(ledger, ledger.getRun(this.args.id));
    if (!this.jsonEnabled()) {
      const {formatUsd, renderTable} = await import('../../lib/ui/output.js');
      const {formatDuration} = await import('../../lib/util/time.js');
      const lin = d.lineage as Record<string, any>;
      this.log(`${d.id}  ${d.kind}  ${d.status}${d.reason ? `: ${d.reason.split('\n')[0]}` : ''}`);
      this.log(`backend ${d.backend}  preset ${d.preset ?? '-'}  duration ${d.durationS === null ? '-' : formatDuration(d.durationS * 1000)}  run dir ${d.runDir}`);
      this.log(
        `lineage: dataset ${lin.dataset_id ?? lin.dataset_dir ?? '-'}, parent ${lin.parent_run_id ?? '-'}${lin.parent_relation ? ` (${lin.parent_relation})` : ''}${!lin.parent_run_id && lin.base ? `, base ${lin.base}${lin.base_revision ? `@${String(lin.base_revision).slice(0, 10)}` : ''}` : ''}, config ${lin.config_hash ?? '-'}, git ${lin.git?.commit ? String(lin.git.commit).slice(0, 10) + (lin.git.dirty ? ' (dirty)' : '') : '-'}, seed ${lin.seed ?? '-'}`,
      );
      if (lin.env) this.log(`env: python ${lin.env.python ?? '-'}, torch ${lin.env.torch ?? '-'}, cuda ${lin.env.cuda ?? '-'}, gpu ${lin.env.gpu ?? '-'} x${lin.env.gpu_count ?? 0}`);
      const phases = Object.entries(d.cost.byPhase).map(([p, c]) => `${p} ${formatDuration(c.seconds * 1000)}${p === 'queue' ? '' : ` ${formatUsd(c.usd)}`}`);
      this.log(`cost: ${formatUsd(d.cost.usd)}${phases.length > 0 ? ` (${phases.join(', ')})` : ''}`);
      if (Object.keys(d.metrics).length > 0) {
        this.log('');
        this.log(
          renderTable(Object.entries(d.metrics), [
            {header: 'METRIC', get: ([k]) => k},
            {header: 'LAST', get: ([, m]) => +m.last.toPrecision(5), align: 'right'},
            {header: 'MIN', get: ([, m]) => +m.min.toPrecision(5), align: 'right'},
            {header: 'MAX', get: ([, m]) => +m.max.toPrecision(5), align: 'right'},
            {header: 'STEP', get: ([, m]) => m.lastStep, align: 'right'},
            {header: 'POINTS', get: ([, m]) => m.count, align: 'right'},
          ]),
        );
      }
      if (d.artifacts.length > 0) {
        this.log('');
        this.log(renderTable(d.artifacts, [
          {header: 'ARTIFACT', get: (a) => a.kind},
          {header: 'PATH', get: (a) => a.path},
          {header: 'BYTES', get: (a) => a.sizeBytes, align: 'right'},
        ]));
      }
      if (d.evals.length > 0) {
        this.log('');
        this.log(renderTable(d.evals, [
          {header: 'EVAL', get: (e) => e.suite},
          {header: 'METRIC', get: (e) => e.metric},
          {header: 'VALUE', get: (e) => (e.value === null ? '-' : +e.value.toPrecision(5)), align: 'right'},
          {header: 'N', get: (e) => e.n ?? '-', align: 'right'},
          {header: 'DATA', get: (e) => e.data ?? '-'},
          {header: 'AT', get: (e) => e.at},
        ]));
      }
      this.log(`\n${d.events.count} events`);
    }
    return d;
  }
}
