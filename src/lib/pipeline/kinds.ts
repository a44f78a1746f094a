/**
 * What each kind of stage hashes and does. Every stage calls the library services the commands
 * call (data prep, the run launcher, export, eval, the registry, deploy): nothing shells out to
 * the llmops CLI.
 */
import {existsSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {dataSchema, finetuneSchema, trainSchema, deploySchema, evalChecksSchema} from '../config/schema.js';
import {ConfigError, ExitCode, LlmopsError, usageError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import type {EvalSummary} from './eval-adapter.js';
import {checksFromEvalConfig, DEFAULT_CHECKS, type GateCheck} from './gate.js';
import {flatten, hashPaths, type FileHasher, type Fingerprint} from './fingerprint.js';
import {nearestUpstream, type Stage} from './graph.js';

/** What a stage produced; `id` is what downstream stages hash. */
export interface StageOutput {
  id: string;
  datasetId?: string;
  datasetDir?: string;
  runId?: string;
  modelDir?: string;
  eval?: EvalSummary;
  model?: {name: string; alias: string; version: number; from: number | null; moved: boolean};
  checks?: unknown[];
  deploymentId?: string;
  url?: string;
  [key: string]: unknown;
}

export interface StageContext {
  ledger: Ledger;
  loaded: LoadedConfig;
  graph: Stage[];
  outputs: Map<string, StageOutput>;
  executionId: string;
  hasher: FileHasher;
  progress: (msg: string) => void;
  llmopsVersion?: string;
  cliBin?: string;
}

/** A stage that failed with something to record (a gate's comparison) and an exit code. */
export class StageFailure extends LlmopsError {
  constructor(code: 'RUN_FAILED' | 'SLO_BREACHED' | 'BUDGET_EXCEEDED' | 'RUN_STOPPED', message: string, readonly output: Partial<StageOutput> = {}) {
    super(code, message);
  }
}

export interface KindHandler {
  /** Files and config of the stage (upstream ids are added by the planner). */
  inputs(ctx: StageContext, stage: Stage): Promise<Omit<Fingerprint, 'upstream' | 'kind'>>;
  execute(ctx: StageContext, stage: Stage): Promise<StageOutput>;
  /** A reused output that no longer exists (a deleted run folder, a stopped server) is not up to date. */
  stillValid?(ctx: StageContext, output: StageOutput): boolean;
  /** How a skip reads: "up to date: run r-...". */
  describe(output: StageOutput): string;
}

function parseSection<T>(schema: {safeParse(v: unknown): {success: true; data: T} | {success: false; error: {issues: Array<{path: PropertyKey[]; message: string}>}}}, value: unknown, ctx: StageContext, stage: Stage): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ConfigError(
    r.error.issues.map((i) => ({file: ctx.loaded.file ?? 'llmops.yaml', path: `pipeline.stages.${stage.index}.options.${i.path.map(String).join('.')}`, message: i.message})),
  );
}

/** The config section a stage runs with: the project's section with the stage's options on top. */
export function stageSection(ctx: StageContext, stage: Stage): Record<string, unknown> {
  const c = ctx.loaded.config;
  const merge = (base: Record<string, unknown>) => deepMerge(base, stage.options);
  switch (stage.kind) {
    case 'prep':
      return parseSection(dataSchema, merge(c.data as unknown as Record<string, unknown>), ctx, stage) as unknown as Record<string, unknown>;
    case 'train':
      return parseSection(trainSchema, {...merge(c.train as unknown as Record<string, unknown>), ...(stage.backend ? {backend: stage.backend} : {})}, ctx, stage) as unknown as Record<string, unknown>;
    case 'finetune':
      return parseSection(finetuneSchema, {...merge(c.finetune as unknown as Record<string, unknown>), ...(stage.backend ? {backend: stage.backend} : {})}, ctx, stage) as unknown as Record<string, unknown>;
    case 'deploy': {
      const {name, model, ...rest} = stage.options as {name?: unknown; model?: unknown};
      return {...(parseSection(deploySchema, deepMerge(c.deploy as unknown as Record<string, unknown>, rest), ctx, stage) as unknown as Record<string, unknown>), name: name ?? 'default', model: model ?? null};
    }
    default:
      return stage.options;
  }
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {...base};
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

const SECTION_NAME: Record<string, string> = {prep: 'data', train: 'train', finetune: 'finetune', deploy: 'deploy'};

async function commonInputs(ctx: StageContext, stage: Stage, extraFiles: string[] = [], exclude?: (rel: string) => boolean) {
  const section = stageSection(ctx, stage);
  const files = await hashPaths(ctx.loaded.root, [...extraFiles, ...stage.inputs], ctx.hasher, {exclude});
  return {files, config: flatten(section, SECTION_NAME[stage.kind] ?? stage.kind)};
}

function upstreamOutput(ctx: StageContext, stage: Stage, kinds: Stage['kind'][]): StageOutput | undefined {
  const s = nearestUpstream(ctx.graph, stage, kinds);
  return s ? ctx.outputs.get(s.name) : undefined;
}

const runExists = (ctx: StageContext, o: StageOutput) => {
  if (!o.runId) return false;
  const r = ctx.ledger.findRun(o.runId);
  return Boolean(r && r.status === 'succeeded' && existsSync(path.join(r.run_dir, 'model', 'config.json')));
};

// ---- prep -----------------------------------------------------------------------------------

const prep: KindHandler = {
  async inputs(ctx, stage) {
    const data = stageSection(ctx, stage) as {inputs: string[]; out: string; tokenizer: string};
    const out = path.relative(ctx.loaded.root, path.resolve(ctx.loaded.root, data.out));
    // A tokenizer folder or file is an input; byte, auto (finetune.base's, hashed with its config) and hf: refs are not files.
    const extra = ['byte', 'auto'].includes(data.tokenizer) || data.tokenizer.startsWith('hf:') ? [] : [data.tokenizer];
    return commonInputs(ctx, stage, [...data.inputs, ...extra], (rel) => rel === out || rel.startsWith(out + path.sep));
  },
  async execute(ctx, stage) {
    const {prepareData} = await import('../data/pipeline.js');
    const config = stageSection(ctx, stage) as unknown as Parameters<typeof prepareData>[0]['config'];
    const r = await prepareData({root: ctx.loaded.root, config, cacheDir: ctx.loaded.config.cache_dir, ledger: ctx.ledger, llmopsVersion: ctx.llmopsVersion});
    ctx.progress(`  dataset ${r.id}: ${r.records.written.train}/${r.records.written.val}/${r.records.written.test} train/val/test records`);
    return {id: r.id, datasetId: r.id, datasetDir: r.dir};
  },
  stillValid: (ctx, o) => Boolean(o.datasetDir && existsSync(path.join(o.datasetDir, 'train.jsonl'))),
  describe: (o) => `dataset ${o.datasetId}`,
};

// ---- train / finetune -------------------------------------------------------------------------

function trainerDir(ctx: StageContext, stage: Stage): string {
  const section = stageSection(ctx, stage) as {script: string};
  return path.relative(ctx.loaded.root, path.dirname(path.resolve(ctx.loaded.root, section.script))) || '.';
}

function finetuneBase(ctx: StageContext, stage: Stage): string | undefined {
  const opt = (stage.options as {base?: string}).base;
  if (opt) return opt;
  return upstreamOutput(ctx, stage, ['train', 'finetune', 'export'])?.runId ?? ctx.loaded.config.finetune.base;
}

const trainLike: KindHandler = {
  async inputs(ctx, stage) {
    const pyCache = (rel: string) => /(^|\/)__pycache__(\/|$)|\.pyc$/.test(rel);
    const r = await commonInputs(ctx, stage, [trainerDir(ctx, stage)], pyCache);
    if (stage.kind === 'finetune') {
      // A base named through the registry (chat@prod) is an input by the version it points at now.
      const base = finetuneBase(ctx, stage);
      if (base && !upstreamOutput(ctx, stage, ['train', 'finetune', 'export'])) {
        const {isRegistryRef, resolveModelRef} = await import('../registry/resolve.js');
        if (isRegistryRef(ctx.loaded.root, base)) {
          const v = resolveModelRef(ctx.ledger, ctx.loaded.root, base).version!;
          r.config['finetune.base.version'] = `${v.name}@v${v.version}`;
        }
      }
    }
    return r;
  },
  async execute(ctx, stage) {
    const {launchStageRun} = await import('./launch-run.js');
    return launchStageRun(ctx, stage, {
      section: stageSection(ctx, stage),
      dataset: upstreamOutput(ctx, stage, ['prep'])?.datasetId,
      base: stage.kind === 'finetune' ? finetuneBase(ctx, stage) : undefined,
    });
  },
  stillValid: runExists,
  describe: (o) => `run ${o.runId}`,
};

// ---- eval -------------------------------------------------------------------------------------

function evalModel(ctx: StageContext, stage: Stage): StageOutput {
  const m = upstreamOutput(ctx, stage, ['finetune', 'train', 'export']);
  if (!m?.runId) throw usageError(`Stage "${stage.name}" (eval) needs a train, finetune or export stage before it.`, {fix: 'Try this: add `needs: [finetune]` to the eval stage.'});
  return m;
}

const evalKind: KindHandler = {
  async inputs(ctx, stage) {
    // Suite files named in the options (choices, pairs...) are inputs by content.
    const files = Object.values(stage.options).filter((v): v is string => typeof v === 'string' && existsSync(path.resolve(ctx.loaded.root, v)));
    const r = await commonInputs(ctx, stage, files);
    // The eval engine's settings (batching, checks) are inputs of the eval stage too.
    Object.assign(r.config, flatten(ctx.loaded.config.eval, 'eval'));
    return r;
  },
  async execute(ctx, stage) {
    const m = evalModel(ctx, stage);
    const {evaluate} = await import('./eval-adapter.js');
    const run = ctx.ledger.getRun(m.runId!);
    const summary = await evaluate({ledger: ctx.ledger, loaded: ctx.loaded, model: {runId: run.id, dir: m.modelDir ?? null, ref: run.id}, dataset: run.dataset_id, options: stage.options, progress: ctx.progress});
    const {renderSummary} = await import('./render.js');
    ctx.progress(`  ${renderSummary(summary)}`);
    const {canonicalJson} = await import('./fingerprint.js');
    const {createHash} = await import('node:crypto');
    const {at: _at, ...stable} = summary;
    const digest = createHash('sha256').update(canonicalJson(stable)).digest('hex').slice(0, 12);
    return {id: `eval-${run.id}-${digest}`, runId: run.id, modelDir: m.modelDir, eval: summary};
  },
  stillValid: runExists,
  describe: (o) => `eval of ${o.runId}`,
};

// ---- promote ----------------------------------------------------------------------------------

export function promoteOptions(ctx: StageContext, stage: Stage): {model: string; alias: string; checks: GateCheck[]} {
  const o = stage.options as {model?: unknown; alias?: unknown; checks?: unknown};
  const file = ctx.loaded.file ?? 'llmops.yaml';
  const problems = [];
  if (typeof o.model !== 'string') problems.push({file, path: `pipeline.stages.${stage.index}.options.model`, message: 'the registry name to promote into, e.g. model: chat'});
  if (typeof o.alias !== 'string') problems.push({file, path: `pipeline.stages.${stage.index}.options.alias`, message: 'the alias to move, e.g. alias: prod'});
  const unknown = Object.keys(o).filter((k) => !['model', 'alias', 'checks'].includes(k));
  for (const k of unknown) problems.push({file, path: `pipeline.stages.${stage.index}.options.${k}`, message: 'unknown promote option; expected model, alias, checks'});
  // The stage's own checks, else the project's eval.checks (one form for both), the holder as the
  // baseline; with neither, DEFAULT_CHECKS.
  let checks: GateCheck[] | undefined;
  if (o.checks !== undefined) {
    const r = evalChecksSchema.safeParse(o.checks);
    if (r.success) checks = checksFromEvalConfig(r.data);
    else for (const i of r.error.issues) problems.push({file, path: `pipeline.stages.${stage.index}.options.checks.${i.path.map(String).join('.')}`, message: i.message});
  } else {
    checks = checksFromEvalConfig(ctx.loaded.config.eval.checks);
  }
  if (checks?.length === 0) checks = undefined;
  if (problems.length > 0) throw new ConfigError(problems);
  return {model: o.model as string, alias: o.alias as string, checks: checks ?? DEFAULT_CHECKS};
}

const promote: KindHandler = {
  async inputs(ctx, stage) {
    const o = promoteOptions(ctx, stage);
    return {files: await hashPaths(ctx.loaded.root, stage.inputs, ctx.hasher), config: flatten({model: o.model, alias: o.alias, checks: o.checks}, 'promote')};
  },
  async execute(ctx, stage) {
    const {promoteCandidate} = await import('./promote.js');
    return promoteCandidate(ctx, stage, promoteOptions(ctx, stage));
  },
  stillValid(ctx, o) {
    // Up to date while the alias still points where this stage left it.
    if (!o.model) return false;
    const cur = ctx.ledger.registry.lastAliasMove(o.model.name, o.model.alias);
    return cur?.to_version === o.model.version;
  },
  describe: (o) => (o.model ? `${o.model.name}@${o.model.alias} = v${o.model.version}` : o.id),
};

// ---- export -----------------------------------------------------------------------------------

const exportKind: KindHandler = {
  async inputs(ctx, stage) {
    return commonInputs(ctx, stage);
  },
  async execute(ctx, stage) {
    const m = upstreamOutput(ctx, stage, ['finetune', 'train']);
    if (!m?.runId) throw usageError(`Stage "${stage.name}" (export) needs a train or finetune stage before it.`);
    const {exportRun} = await import('../runtime/export-model.js');
    const out = (stage.options as {out?: string}).out;
    const r = await exportRun(ctx.ledger, ctx.loaded, ctx.ledger.getRun(m.runId), out ? {out: path.resolve(ctx.loaded.root, out)} : {});
    if (r.parity.checked && !r.parity.ok) throw new StageFailure('RUN_FAILED', `Export of ${m.runId}: ONNX and torch disagree (max |diff| ${r.parity.maxAbsDiff}).`);
    return {id: `${m.runId}:${r.modelDir}`, runId: m.runId, modelDir: r.modelDir};
  },
  stillValid: (ctx, o) => Boolean(o.modelDir && existsSync(path.join(o.modelDir, 'config.json'))),
  describe: (o) => `export of ${o.runId}`,
};

// ---- deploy -----------------------------------------------------------------------------------

const deploy: KindHandler = {
  async inputs(ctx, stage) {
    return commonInputs(ctx, stage);
  },
  async execute(ctx, stage) {
    const {deployStage} = await import('./deploy-stage.js');
    return deployStage(ctx, stage, stageSection(ctx, stage));
  },
  stillValid(ctx, o) {
    if (!o.deploymentId) return false;
    const row = ctx.ledger.findDeployment(o.deploymentId);
    return row?.status === 'running';
  },
  describe: (o) => `deployment ${o.deploymentId} at ${o.url}`,
};

export const HANDLERS: Record<Stage['kind'], KindHandler> = {prep, train: trainLike, finetune: trainLike, eval: evalKind, promote, export: exportKind, deploy};

export const EXIT_OF = (e: unknown): number => (e instanceof LlmopsError ? e.exitCode : ExitCode.RUN_FAILED);
