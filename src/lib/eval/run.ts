/**
 * `llmops eval`: which model and which suites, the baseline, the checks, and the ledger record.
 * The command parses flags and renders; everything it decides is here.
 */
import {randomUUID} from 'node:crypto';
import {existsSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import type {EvalConfig} from '../config/schema.js';
import {inputError, usageError} from '../errors.js';
import type {NewEvalResult} from '../ledger/eval-store.js';
import type {Ledger} from '../ledger/ledger.js';
import {lineage, type RunNode} from '../ledger/lineage.js';
import {OnnxModel} from '../serve/engine.js';
import {ModelTokenizer} from '../model/tokenizer.js';
import type {ModelFolder} from '../model/folder.js';
import {loadServableModel, resolveModel} from '../serve/model-dir.js';
import {runChecks, type CheckResult} from './checks.js';
import {readChoices, readGenerate, readPairs, readTexts, type ChoiceRecord, type GenerateRecord, type Loaded, type PairRecord, type TextRecord} from './data.js';
import {progressReporter} from './progress.js';
import {Scorer} from './scorer.js';
import * as suites from './suites.js';

export interface EvalRequest {
  model: string;
  dataset?: string;
  perplexity?: string;
  choices?: string;
  generate?: string;
  pairs?: string;
  /** RUN|DIR|hf:...|auto */
  baseline?: string;
  limit?: number;
  extract?: string;
  /** onnxruntime intra-op threads (overrides eval.threads; 0 = the default). */
  threads?: number;
  config: EvalConfig;
  ledger?: Ledger;
  cwd: string;
  /** Where hf: models are downloaded. */
  cacheDir: string;
  progress: (line: string) => void;
}

export interface ModelRef {
  ref: string;
  dir: string;
  run_id: string | null;
}

export interface SuiteResults {
  perplexity?: {value: number; tokens: number; bits_per_byte: number; n: number; data: string; window: number};
  choices?: {acc: number; acc_norm: number; n: number; data: string};
  generate?: {exact_match: number; n: number; data: string};
  pairs?: suites.PairsResult & {data: string};
}

export interface EvalResult extends SuiteResults {
  eval_id: string;
  model: ModelRef;
  baseline?: SuiteResults & {model: ModelRef; deltas: Record<string, number>};
  checks: CheckResult[];
  recorded: boolean;
}

/** The probe set shipped with llmops (templates/eval/bias-probes.jsonl), for `--pairs builtin`. */
export function builtinProbesPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'templates', 'eval', 'bias-probes.jsonl');
}

interface Inputs {
  perplexity?: {loaded: Loaded<TextRecord>; data: string};
  choices?: Loaded<ChoiceRecord>;
  generate?: Loaded<GenerateRecord>;
  pairs?: Loaded<PairRecord>;
}

export async function runEval(req: EvalRequest): Promise<EvalResult> {
  if (req.extract) compileExtract(req.extract); // a bad pattern fails before any model loads
  const model = await resolveEvalModel(req.model, req);
  const inputs = await loadInputs(req, model);
  const baseline = req.baseline ? await resolveBaseline(req.baseline, model, req) : undefined;
  const measured = await measure(model, inputs, req, 'model');
  const base = baseline ? await measure(baseline, inputs, req, 'baseline') : undefined;
  const checks = runChecks(req.config.checks, measured, base);
  const result: EvalResult = {eval_id: `ev-${randomUUID().slice(0, 12)}`, model, ...measured, checks, recorded: false};
  if (baseline && base) result.baseline = {model: baseline, ...base, deltas: deltas(measured, base)};
  if (req.ledger) {
    req.ledger.evals.insert(ledgerRows(result, dataHashes(inputs)));
    result.recorded = true;
  }
  return result;
}

async function resolveEvalModel(ref: string, req: EvalRequest): Promise<ModelRef> {
  if (ref.startsWith('hf:')) {
    // The files deploy would serve (configs, tokenizer, one graph), resumable and verified, at the
    // commit the revision points at: the same download as `deploy --model hf:`.
    const {fetchHfModel} = await import('../serve/hf-model.js');
    req.progress(`eval: fetching ${ref}`);
    const hf = await fetchHfModel(ref, {projectCache: req.cacheDir, progress: req.progress});
    return {ref: hf.source, dir: hf.dir, run_id: null};
  }
  const {dir, runId} = resolveModel(ref, req.ledger, req.cwd);
  return {ref, dir, run_id: runId ?? loadServableModel(dir).runId};
}

/** `--baseline auto`: the base a fine-tune started from, from the lineage. */
async function resolveBaseline(ref: string, model: ModelRef, req: EvalRequest): Promise<ModelRef> {
  if (ref !== 'auto') return resolveEvalModel(ref, req);
  const node = model.run_id && req.ledger?.findRun(model.run_id) ? (lineage(req.ledger, model.run_id).upstream as RunNode) : undefined;
  if (node?.parent) return resolveEvalModel(node.parent.id, req);
  if (node?.externalBase) return resolveEvalModel(node.externalBase, req);
  throw usageError(`--baseline auto: ${model.run_id ? `run ${model.run_id} has no base model in the lineage (it is not a fine-tune)` : `${model.dir} is not a run of this ledger, so it has no lineage`}.`, {
    fix: 'Try this: --baseline RUN_ID, a model folder or hf:OWNER/NAME.',
  });
}

function limited<T>(l: Loaded<T>, limit: number | undefined): Loaded<T> {
  return limit === undefined ? l : {...l, records: l.records.slice(0, limit)};
}

async function loadInputs(req: EvalRequest, model: ModelRef): Promise<Inputs> {
  const at = (f: string) => path.resolve(req.cwd, f);
  const inputs: Inputs = {};
  const anySuite = req.perplexity || req.choices || req.generate || req.pairs;
  if (req.perplexity) inputs.perplexity = {loaded: limited(readTexts(at(req.perplexity)), req.limit), data: req.perplexity};
  else if (!anySuite || req.dataset) inputs.perplexity = datasetTestSplit(req, model);
  if (req.choices) inputs.choices = limited(readChoices(at(req.choices)), req.limit);
  if (req.generate) inputs.generate = limited(readGenerate(at(req.generate)), req.limit);
  if (req.pairs) inputs.pairs = limited(await readPairs(req.pairs === 'builtin' ? builtinProbesPath() : at(req.pairs)), req.limit);
  return inputs;
}

/** No suite flag: the test split of --dataset, else of the dataset the model's run trained on. */
function datasetTestSplit(req: EvalRequest, model: ModelRef): NonNullable<Inputs['perplexity']> {
  let id = req.dataset;
  if (!id) {
    const run = model.run_id ? req.ledger?.findRun(model.run_id) : undefined;
    id = run?.dataset_id ?? undefined;
    if (!id) {
      throw usageError(`No suite to run: ${model.run_id ? `run ${model.run_id} has no dataset in the ledger` : `${model.dir} is not a run of this ledger`}, so there is no test split to measure perplexity on.`, {
        fix: 'Try this: --dataset ID (see `llmops lineage`), or a suite: --perplexity FILE, --choices FILE, --generate FILE, --pairs FILE|builtin.',
      });
    }
  }
  const ds = req.ledger?.getDataset(id);
  const dir = ds?.path ?? path.resolve(req.cwd, id);
  const file = path.join(dir, 'test.jsonl');
  if (!existsSync(file)) {
    throw inputError(`Dataset ${id} has no test split (${file}).`, {fix: 'Try this: prepare the data with a test split (data.split.test in llmops.yaml), or pass --perplexity FILE.'});
  }
  return {loaded: limited(readTexts(file), req.limit), data: ds ? ds.id : file};
}

async function measure(model: ModelRef, inputs: Inputs, req: EvalRequest, role: 'model' | 'baseline'): Promise<SuiteResults> {
  const spec = loadServableModel(model.dir, {runId: model.run_id});
  const {onnx, scorer} = await openScorer(spec, req.config, req.threads);
  const label = (suite: string) => `eval ${role === 'baseline' ? 'baseline ' : ''}${suite}`;
  const out: SuiteResults = {};
  try {
    if (inputs.perplexity) {
      const r = await suites.perplexity(scorer, inputs.perplexity.loaded.records, progressReporter(req.progress, label('perplexity'), 'windows'));
      out.perplexity = {value: r.value, tokens: r.tokens, bits_per_byte: r.bits_per_byte, n: r.n, data: inputs.perplexity.data, window: scorer.contextLength};
    }
    if (inputs.choices) {
      out.choices = {...(await suites.choices(scorer, inputs.choices.records, progressReporter(req.progress, label('choices'), 'choices'))), data: inputs.choices.file};
    }
    if (inputs.generate) {
      const extract = req.extract ? compileExtract(req.extract) : undefined;
      const r = await suites.generate(scorer, inputs.generate.records, {...(extract ? {extract} : {}), maxTokens: req.config.max_new_tokens}, progressReporter(req.progress, label('generate'), 'answers'));
      out.generate = {exact_match: r.exact_match, n: r.n, data: inputs.generate.file};
    }
    if (inputs.pairs) {
      out.pairs = {...(await suites.pairs(scorer, inputs.pairs.records, progressReporter(req.progress, label('pairs'), 'sentences'))), data: inputs.pairs.file};
    }
  } finally {
    await scorer.close();
    await onnx.close();
  }
  return out;
}

/** The eval engine on a model: its onnxruntime session and the scorer, with eval's settings. */
export async function openScorer(spec: ModelFolder, config: EvalConfig, threadsFlag?: number): Promise<{onnx: OnnxModel; scorer: Scorer; threads: number}> {
  const threads = evalThreads(threadsFlag || config.threads, (await import('node:os')).availableParallelism());
  const onnx = await OnnxModel.load(spec, threads, {spin: false});
  const scorer = new Scorer(onnx, ModelTokenizer.fromFolder(spec.dir), {
    maxRows: config.batch_rows,
    maxTokens: config.batch_tokens,
    threads,
    ...(config.max_length ? {maxLength: config.max_length} : {}),
  });
  return {onnx, scorer, threads};
}

/**
 * onnxruntime intra-op threads of the eval engine: the setting, else one per CPU core up to 8 (an
 * offline batch job, unlike the server's one thread per session). The threads do not spin (see
 * OnnxModel.load): measured faster on cores shared with other work (docs/benchmarks.md, "Eval").
 */
export function evalThreads(setting: number | undefined, cores: number): number {
  return setting || Math.min(8, cores);
}

export function compileExtract(re: string): RegExp {
  try {
    return new RegExp(re);
  } catch (error) {
    throw usageError(`--extract ${re}: not a valid regular expression (${(error as Error).message}).`, {fix: 'Try this: --extract "#### (\\-?[0-9.,]+)" (the first capture group is the answer).'});
  }
}

function deltas(m: SuiteResults, b: SuiteResults): Record<string, number> {
  const d: Record<string, number> = {};
  if (m.perplexity && b.perplexity) {
    d.perplexity_ratio = m.perplexity.value / b.perplexity.value;
    d.bits_per_byte = m.perplexity.bits_per_byte - b.perplexity.bits_per_byte;
  }
  if (m.choices && b.choices) {
    d.acc = m.choices.acc - b.choices.acc;
    d.acc_norm = m.choices.acc_norm - b.choices.acc_norm;
  }
  if (m.generate && b.generate) d.exact_match = m.generate.exact_match - b.generate.exact_match;
  if (m.pairs && b.pairs) d.pct_stereotype = m.pairs.pct_stereotype - b.pairs.pct_stereotype;
  return d;
}

/** One ledger row per metric, for the model and (when there is one) the baseline. */
function dataHashes(inputs: Inputs): Map<string, string> {
  const m = new Map<string, string>();
  if (inputs.perplexity) m.set(inputs.perplexity.data, inputs.perplexity.loaded.sha256);
  for (const l of [inputs.choices, inputs.generate, inputs.pairs]) if (l) m.set(l.file, l.sha256);
  return m;
}

export function ledgerRows(r: EvalResult, hashes: Map<string, string>): NewEvalResult[] {
  const rows: NewEvalResult[] = [];
  const push = (who: ModelRef, s: SuiteResults, role: 'model' | 'baseline', baseline: string | null) => {
    const row = (suite: NewEvalResult['suite'], data: string, metric: string, value: number, n: number) =>
      rows.push({eval_id: r.eval_id, model: who.dir, run_id: who.run_id, suite, metric, value: Number.isFinite(value) ? value : null, n, data, data_sha256: hashes.get(data) ?? null, baseline, role});
    if (s.perplexity) {
      row('perplexity', s.perplexity.data, 'perplexity', s.perplexity.value, s.perplexity.n);
      row('perplexity', s.perplexity.data, 'bits_per_byte', s.perplexity.bits_per_byte, s.perplexity.n);
    }
    if (s.choices) for (const k of ['acc', 'acc_norm'] as const) row('choices', s.choices.data, k, s.choices[k], s.choices.n);
    if (s.generate) row('generate', s.generate.data, 'exact_match', s.generate.exact_match, s.generate.n);
    if (s.pairs) {
      row('pairs', s.pairs.data, 'pct_stereotype', s.pairs.pct_stereotype, s.pairs.n);
      row('pairs', s.pairs.data, 'likelihood_diff', s.pairs.likelihood_diff, s.pairs.n);
      for (const [t, v] of Object.entries(s.pairs.by_type)) row('pairs', s.pairs.data, `pct_stereotype[${t}]`, v.pct_stereotype, v.n);
    }
  };
  push(r.model, r, 'model', r.baseline?.model.dir ?? null);
  if (r.baseline) push(r.baseline.model, r.baseline, 'baseline', null);
  return rows;
}
