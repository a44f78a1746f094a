/**
 * The pipeline's tables (migration "pipeline"): one row per `llmops pipeline run` and one per stage
 * decision in it. A stage is up to date when a succeeded row of the same stage has the same input
 * hash; that lookup is one index probe (pipeline_stages_hash), whatever the size of the ledger.
 */
import {nowIso} from '../util/time.js';
import type {Database} from './db.js';

export type StageStatus = 'running' | 'succeeded' | 'failed' | 'skipped' | 'blocked';

export interface PipelineExecutionRow {
  id: string;
  started_at: string;
  ended_at: string | null;
  status: 'running' | 'succeeded' | 'failed' | 'interrupted';
  options_json: string;
  pid: number | null;
}

export interface PipelineStageRow {
  id: number;
  execution_id: string;
  stage: string;
  kind: string;
  decision: 'run' | 'skip' | 'blocked';
  reason: string;
  input_hash: string;
  inputs_json: string;
  status: StageStatus;
  output_json: string;
  reused_from: number | null;
  started_at: string;
  ended_at: string | null;
  error: string | null;
}

export class PipelineStore {
  constructor(private readonly db: Database) {}

  startExecution(id: string, options: unknown, pid: number): void {
    this.db
      .prepare("INSERT INTO pipeline_executions (id, started_at, status, options_json, pid) VALUES (?, ?, 'running', ?, ?)")
      .run(id, nowIso(), JSON.stringify(options ?? {}), pid);
  }

  endExecution(id: string, status: PipelineExecutionRow['status']): void {
    this.db.prepare('UPDATE pipeline_executions SET status = ?, ended_at = ? WHERE id = ?').run(status, nowIso(), id);
  }

  execution(id: string): PipelineExecutionRow | undefined {
    return this.db.prepare('SELECT * FROM pipeline_executions WHERE id = ?').get(id) as PipelineExecutionRow | undefined;
  }

  executions(limit = 20): PipelineExecutionRow[] {
    return this.db.prepare('SELECT * FROM pipeline_executions ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit) as PipelineExecutionRow[];
  }

  addStage(s: {executionId: string; stage: string; kind: string; decision: PipelineStageRow['decision']; reason: string; inputHash: string; inputs: unknown; status: StageStatus; output?: unknown; reusedFrom?: number | null; error?: string | null}): number {
    const now = nowIso();
    const final = s.status !== 'running';
    const info = this.db
      .prepare(
        `INSERT INTO pipeline_stages (execution_id, stage, kind, decision, reason, input_hash, inputs_json, status, output_json, reused_from, started_at, ended_at, error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(s.executionId, s.stage, s.kind, s.decision, s.reason, s.inputHash, JSON.stringify(s.inputs ?? {}), s.status, JSON.stringify(s.output ?? {}), s.reusedFrom ?? null, now, final ? now : null, s.error ?? null);
    return Number(info.lastInsertRowid);
  }

  finishStage(id: number, status: StageStatus, output: unknown, error: string | null = null): void {
    this.db.prepare('UPDATE pipeline_stages SET status = ?, output_json = ?, error = ?, ended_at = ? WHERE id = ?').run(status, JSON.stringify(output ?? {}), error, nowIso(), id);
  }

  /** The newest succeeded execution of STAGE with exactly these inputs. */
  succeededWithHash(stage: string, inputHash: string): PipelineStageRow | undefined {
    return this.db
      .prepare("SELECT * FROM pipeline_stages WHERE stage = ? AND input_hash = ? AND status = 'succeeded' ORDER BY id DESC LIMIT 1")
      .get(stage, inputHash) as PipelineStageRow | undefined;
  }

  /** The newest row of STAGE that ran (succeeded or failed): what its inputs were last time. */
  lastRan(stage: string): PipelineStageRow | undefined {
    return this.db
      .prepare("SELECT * FROM pipeline_stages WHERE stage = ? AND decision = 'run' AND status IN ('succeeded', 'failed') ORDER BY id DESC LIMIT 1")
      .get(stage) as PipelineStageRow | undefined;
  }

  /** The newest row of STAGE whatever its decision. */
  last(stage: string): PipelineStageRow | undefined {
    return this.db.prepare('SELECT * FROM pipeline_stages WHERE stage = ? ORDER BY id DESC LIMIT 1').get(stage) as PipelineStageRow | undefined;
  }

  stage(id: number): PipelineStageRow | undefined {
    return this.db.prepare('SELECT * FROM pipeline_stages WHERE id = ?').get(id) as PipelineStageRow | undefined;
  }

  stagesOf(executionId: string): PipelineStageRow[] {
    return this.db.prepare('SELECT * FROM pipeline_stages WHERE execution_id = ? ORDER BY id').all(executionId) as PipelineStageRow[];
  }

  /** Stage rows whose output names this run (lineage). */
  stagesProducingRun(runId: string): PipelineStageRow[] {
    return this.db
      .prepare("SELECT * FROM pipeline_stages WHERE decision = 'run' AND json_extract(output_json, '$.runId') = ? ORDER BY id")
      .all(runId) as PipelineStageRow[];
  }
}
