/**
 * `llmops pipeline run`: for each stage in order, hash its inputs (files, config, upstream output
 * ids); a stage whose hash matches a succeeded execution in the ledger is skipped and its output
 * reused; the others run. A failed stage blocks what depends on it and leaves the rest. Every
 * decision is recorded (pipeline_executions, pipeline_stages). --dry-run only plans.
 */
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {ExitCode, LlmopsError, usageError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import type {PipelineStageRow} from '../ledger/pipeline-store.js';
import {describeChanges, FileHasher, fingerprintHash, type Fingerprint} from './fingerprint.js';
import {buildGraph, selectStages, type Stage} from './graph.js';
import {HANDLERS, StageFailure, type StageContext, type StageOutput} from './kinds.js';

export type Decision = 'run' | 'skip' | 'blocked';

export interface StageResult {
  name: string;
  kind: string;
  decision: Decision;
  /** Why: "up to date: run r-...", "changed: data/x.jsonl", "config finetune.lora.r", "upstream: prep". */
  reason: string;
  status: 'planned' | 'succeeded' | 'failed' | 'skipped' | 'blocked';
  inputHash: string | null;
  output: StageOutput | null;
  seconds: number;
  error: string | null;
}

export interface PipelineRunResult {
  executionId: string | null;
  dryRun: boolean;
  status: 'succeeded' | 'failed' | 'planned';
  stages: StageResult[];
  seconds: number;
  /** The exit code the command ends with: the first failed stage's. */
  exitCode: number;
}

export interface PipelineRunOptions {
  only: string[];
  from?: string;
  force: string[];
  dryRun: boolean;
}

export interface PipelineIo {
  ledger: Ledger;
  loaded: LoadedConfig;
  progress: (msg: string) => void;
  llmopsVersion?: string;
  cliBin?: string;
}

export function newPipelineId(now = new Date()): string {
  const iso = now.toISOString();
  return `p-${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
}

export function pipelineGraph(loaded: LoadedConfig): Stage[] {
  const stages = loaded.config.pipeline.stages;
  if (stages.length === 0) {
    throw new LlmopsError('CONFIG', `${loaded.file ?? 'llmops.yaml'} has no pipeline: stages.`, {
      fix: 'Try this: add a `pipeline:` section (docs/pipeline.md); `llmops init` writes one that reproduces the quickstart.',
    });
  }
  return buildGraph(stages, loaded.file ?? null);
}

const parseJson = <T>(s: string): T => JSON.parse(s) as T;

interface Plan {
  decision: Decision;
  reason: string;
  fingerprint: Fingerprint | null;
  hash: string | null;
  reused?: PipelineStageRow;
}

/** Decides one stage from its fingerprint and the ledger. */
async function planStage(ctx: StageContext, stage: Stage, forced: Set<string>, pending: Set<string>, failed: Set<string>): Promise<Plan> {
  const dead = stage.needs.filter((n) => failed.has(n));
  if (dead.length > 0) return {decision: 'blocked', reason: `upstream ${dead.join(', ')} failed`, fingerprint: null, hash: null};
  const h = HANDLERS[stage.kind];
  const waiting = stage.needs.filter((n) => pending.has(n));
  if (waiting.length > 0) {
    // A dry run cannot know what an upstream stage that will run is going to produce.
    return {decision: 'run', reason: `upstream: ${waiting.join(', ')} will run`, fingerprint: null, hash: null};
  }
  const upstream = Object.fromEntries(stage.needs.map((n) => [n, ctx.outputs.get(n)?.id ?? '(none)']));
  const fingerprint: Fingerprint = {kind: stage.kind, ...(await h.inputs(ctx, stage)), upstream};
  const hash = fingerprintHash(fingerprint);
  if (forced.has(stage.name)) return {decision: 'run', reason: 'forced', fingerprint, hash};
  const store = ctx.ledger.pipeline;
  const done = store.succeededWithHash(stage.name, hash);
  if (done) {
    const out = parseJson<StageOutput>(done.output_json);
    if (!h.stillValid || h.stillValid(ctx, out)) return {decision: 'skip', reason: `up to date: ${h.describe(out)}`, fingerprint, hash, reused: done};
    return {decision: 'run', reason: `${h.describe(out)} is gone`, fingerprint, hash};
  }
  const last = store.lastRan(stage.name);
  if (!last) return {decision: 'run', reason: 'never ran', fingerprint, hash};
  const changes = describeChanges(parseJson<Fingerprint>(last.inputs_json), fingerprint);
  if (changes.length === 0) return {decision: 'run', reason: last.status === 'failed' ? 'last run failed' : 'inputs changed', fingerprint, hash};
  const shown = changes.slice(0, 4).join('; ') + (changes.length > 4 ? `; and ${changes.length - 4} more` : '');
  return {decision: 'run', reason: shown, fingerprint, hash};
}

export async function runPipeline(io: PipelineIo, opts: PipelineRunOptions): Promise<PipelineRunResult> {
  const t0 = performance.now();
  const graph = pipelineGraph(io.loaded);
  const {stages, forced} = selectStages(graph, {only: opts.only, from: opts.from, force: opts.force});
  const executionId = opts.dryRun ? null : newPipelineId();
  let lock: {release(): void} | undefined;
  if (executionId) {
    const {acquireLock} = await import('./lock.js');
    lock = acquireLock(io.ledger.file, executionId);
    io.ledger.pipeline.startExecution(executionId, opts, process.pid);
  }
  const hasher = new FileHasher(path.join(path.dirname(io.ledger.file), 'pipeline-hashes.json'));
  const ctx: StageContext = {...io, graph, outputs: new Map(), executionId: executionId ?? 'dry-run', hasher};
  const pending = new Set<string>();
  const failed = new Set<string>();
  const results: StageResult[] = [];
  let exitCode = 0;
  try {
    for (const stage of stages) {
      const r = await decideAndRun(ctx, stage, {forced, pending, failed, dryRun: opts.dryRun});
      results.push(r.result);
      if (r.result.status === 'failed' && exitCode === 0) exitCode = r.exitCode;
    }
  } finally {
    hasher.save();
    if (executionId) io.ledger.pipeline.endExecution(executionId, failed.size > 0 ? 'failed' : 'succeeded');
    lock?.release();
  }
  return {
    executionId,
    dryRun: opts.dryRun,
    status: opts.dryRun ? 'planned' : failed.size > 0 ? 'failed' : 'succeeded',
    stages: results,
    seconds: (performance.now() - t0) / 1000,
    exitCode,
  };
}

async function decideAndRun(
  ctx: StageContext,
  stage: Stage,
  s: {forced: Set<string>; pending: Set<string>; failed: Set<string>; dryRun: boolean},
): Promise<{result: StageResult; exitCode: number}> {
  const t0 = performance.now();
  let plan: Plan;
  try {
    plan = await planStage(ctx, stage, s.forced, s.pending, s.failed);
  } catch (error) {
    // Bad options or unreadable inputs: this stage fails, the others go on.
    if (!s.dryRun && !(error instanceof LlmopsError && error.code === 'CONFIG')) return failStage(ctx, stage, null, error, t0, s.failed);
    throw error;
  }
  const base = {name: stage.name, kind: stage.kind, decision: plan.decision, reason: plan.reason, inputHash: plan.hash, error: null};
  const store = ctx.ledger.pipeline;
  const exec = ctx.executionId;
  if (plan.decision === 'blocked') {
    s.failed.add(stage.name);
    if (!s.dryRun) store.addStage({executionId: exec, stage: stage.name, kind: stage.kind, decision: 'blocked', reason: plan.reason, inputHash: '', inputs: {}, status: 'blocked'});
    ctx.progress(`${stage.name}: blocked (${plan.reason})`);
    return {result: {...base, status: 'blocked', output: null, seconds: 0}, exitCode: 0};
  }
  if (plan.decision === 'skip') {
    const out = parseJson<StageOutput>(plan.reused!.output_json);
    ctx.outputs.set(stage.name, out);
    if (!s.dryRun) store.addStage({executionId: exec, stage: stage.name, kind: stage.kind, decision: 'skip', reason: plan.reason, inputHash: plan.hash!, inputs: plan.fingerprint, status: 'skipped', output: out, reusedFrom: plan.reused!.id});
    ctx.progress(`${stage.name}: ${plan.reason}`);
    return {result: {...base, status: 'skipped', output: out, seconds: (performance.now() - t0) / 1000}, exitCode: 0};
  }
  if (s.dryRun) {
    s.pending.add(stage.name);
    ctx.progress(`${stage.name}: would run (${plan.reason})`);
    return {result: {...base, status: 'planned', output: null, seconds: 0}, exitCode: 0};
  }
  ctx.progress(`${stage.name}: running (${plan.reason})`);
  const id = store.addStage({executionId: exec, stage: stage.name, kind: stage.kind, decision: 'run', reason: plan.reason, inputHash: plan.hash!, inputs: plan.fingerprint, status: 'running'});
  try {
    const out = await HANDLERS[stage.kind].execute(ctx, stage);
    store.finishStage(id, 'succeeded', out);
    ctx.outputs.set(stage.name, out);
    const seconds = (performance.now() - t0) / 1000;
    ctx.progress(`${stage.name}: done in ${seconds.toFixed(1)}s (${HANDLERS[stage.kind].describe(out)})`);
    return {result: {...base, status: 'succeeded', output: out, seconds}, exitCode: 0};
  } catch (error) {
    return failStage(ctx, stage, id, error, t0, s.failed, plan);
  }
}

function failStage(ctx: StageContext, stage: Stage, rowId: number | null, error: unknown, t0: number, failed: Set<string>, plan?: Plan): {result: StageResult; exitCode: number} {
  const message = (error as Error).message;
  const output = error instanceof StageFailure ? (error.output as StageOutput) : null;
  const store = ctx.ledger.pipeline;
  if (rowId === null) {
    rowId = store.addStage({executionId: ctx.executionId, stage: stage.name, kind: stage.kind, decision: 'run', reason: 'inputs could not be read', inputHash: '', inputs: {}, status: 'running'});
  }
  store.finishStage(rowId, 'failed', output ?? {}, message);
  failed.add(stage.name);
  ctx.progress(`${stage.name}: FAILED: ${message}`);
  const exitCode = error instanceof LlmopsError ? error.exitCode : ExitCode.RUN_FAILED;
  return {
    result: {name: stage.name, kind: stage.kind, decision: 'run', reason: plan?.reason ?? 'inputs could not be read', status: 'failed', inputHash: plan?.hash ?? null, output, seconds: (performance.now() - t0) / 1000, error: message},
    exitCode,
  };
}

/** `pipeline run` with no stage named and nothing selected is a usage error only when the names are wrong; this is the check for the command. */
export function checkRunFlags(opts: PipelineRunOptions): void {
  if (opts.from && opts.only.length > 0) throw usageError('--from runs a stage and everything after it; name stages or use --from, not both.', {fix: 'Try this: llmops pipeline run --from finetune'});
}
