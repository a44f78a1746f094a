/**
 * `llmops pipeline status`: each stage's last execution (when, how it ended, what it produced) and
 * whether it is stale now, which is the dry-run plan's verdict.
 */
import {formatDuration} from '../util/time.js';
import type {PipelineIo, StageResult} from './run.js';
import {runPipeline} from './run.js';

export interface StageStatus {
  name: string;
  kind: string;
  lastExecution: {executionId: string; status: string; endedAt: string | null; ageS: number | null; output: Record<string, unknown>; error: string | null} | null;
  stale: boolean;
  reason: string;
}

export interface PipelineStatusResult {
  stages: StageStatus[];
  lastExecution: {id: string; status: string; startedAt: string; endedAt: string | null} | null;
}

export async function pipelineStatus(io: PipelineIo): Promise<PipelineStatusResult> {
  const plan = await runPipeline({...io, progress: () => {}}, {only: [], force: [], dryRun: true});
  const store = io.ledger.pipeline;
  const stages = plan.stages.map((p: StageResult): StageStatus => {
    const last = store.lastRan(p.name);
    return {
      name: p.name,
      kind: p.kind,
      lastExecution: last
        ? {
            executionId: last.execution_id,
            status: last.status,
            endedAt: last.ended_at,
            ageS: last.ended_at ? Math.round((Date.now() - Date.parse(last.ended_at)) / 1000) : null,
            output: JSON.parse(last.output_json) as Record<string, unknown>,
            error: last.error,
          }
        : null,
      stale: p.decision !== 'skip',
      reason: p.reason,
    };
  });
  const e = store.executions(1)[0];
  return {stages, lastExecution: e ? {id: e.id, status: e.status, startedAt: e.started_at, endedAt: e.ended_at} : null};
}

export function renderStatus(r: PipelineStatusResult): string[] {
  const lines = r.stages.map((s) => {
    const l = s.lastExecution;
    const last = l ? `${l.status} ${l.ageS === null ? '' : formatDuration(l.ageS * 1000) + ' ago'} (${l.executionId})` : 'never ran';
    return `${s.name.padEnd(12)} ${s.kind.padEnd(9)} ${(s.stale ? 'stale' : 'up to date').padEnd(11)} ${last.padEnd(44)} ${s.reason}`;
  });
  return [`${'stage'.padEnd(12)} ${'kind'.padEnd(9)} ${'state'.padEnd(11)} ${'last execution'.padEnd(44)} why`, ...lines];
}
