/**
 * `llmops data prep` as a library: inputs -> (workers: parse, normalise, quality, PII, hashes,
 * MinHash) -> (main thread, in input order: exact dedup, near dedup, split, write) -> outputs.
 *
 * Outputs are written into a temporary sibling folder and moved into place at the end, the
 * manifest last: a folder with a manifest.json is always complete. The manifest holds no times, so
 * the same inputs and parameters give byte-identical files and the same dataset id.
 */
import {createHash} from 'node:crypto';
import {closeSync, existsSync, openSync, readFileSync, readSync, statSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {DataConfig} from '../config/schema.js';
import {inputError, usageError} from '../errors.js';
import {fileSystemError} from '../ledger/fs-errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {renderCard} from './card.js';
import {MANIFEST_VERSION, type Manifest, type PrepParams} from './manifest.js';
import {effectiveThreshold, optimalLsh} from './minhash.js';
import type {PiiCounts} from '../util/pii.js';
import {checkOutDir} from './out-dir.js';
import {OrderedPool} from './pool.js';
import {Deduper} from './prep-dedup.js';
import {ProfileTakeBack} from './prep-profile.js';
import {RecordSink} from './prep-sink.js';
import {OutputStage} from './prep-stage.js';
import type {ProcessOptions} from './process.js';
import {ruleWarnings, type RuleTally} from './rule-tally.js';
import {ProfileTotals, profileEvery} from './profile-terms.js';
import {emptyInputError, readFile, resolveInputs, type FileStats, type InputFile} from './sources.js';
import {TokenCounter, type TokenStats} from './tokens.js';
import {tokenizerDir, tokenizerHash} from './model-tokens.js';
import {canonicalJson} from '../util/json.js';

export {OUTPUT_FILES} from './prep-stage.js';

export interface PrepProgress {
  stage: string;
  file: string;
  records: number;
  bytes: number;
  seconds: number;
}

export interface PrepOptions {
  /** The project root: relative inputs, out and tokenizer paths resolve against it. */
  root: string;
  config: DataConfig;
  /** hf:// downloads go here (config cache_dir). */
  cacheDir: string;
  hubUrl?: string;
  force?: boolean;
  /** Count and report everything, write nothing (no outputs, no ledger row). */
  dryRun?: boolean;
  /** Worker threads; 0 runs in-process. Default: the number of CPUs, at most 4. */
  workers?: number;
  /** Input bytes above which the drift profile samples its prompts (default PROFILE_FULL_BYTES; tests set it low). */
  profileFullBytes?: number;
  ledger?: Ledger;
  onProgress?: (p: PrepProgress) => void;
  /** The model finetune.base names: data.tokenizer "auto" counts with its tokenizer. */
  modelHint?: string;
  /** Called once with the LSH parameters before records flow (the command prints them). */
  onLsh?: (lsh: {bands: number; rows: number; effective_threshold: number; threshold: number}) => void;
  llmopsVersion?: string;
}

export interface PrepResult {
  id: string;
  dir: string;
  kind: 'text' | 'chat' | 'mixed';
  records: {
    read: number;
    written: {train: number; val: number; test: number};
    rejected: number;
    duplicates: {exact: number; near: number};
  };
  rejected_by_reason: Record<string, number>;
  /** Per record kind and reason: count, share of that kind's records, up to three example lines. */
  rejected_by_rule: RuleTally[];
  /** What a person should know (a rule removing > 5% of a kind, an empty input...): also on stderr. */
  warnings: string[];
  /** --dry-run: everything counted, nothing written. */
  dry_run: boolean;
  pii: {mode: string; counts: PiiCounts; records: number};
  tokens: TokenStats;
  lsh: {bands: number; rows: number; effective_threshold: number; threshold: number} | null;
  skipped: boolean;
  manifest: string;
  seconds: number;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** The tokenizer a prep counts with: its spec as given, where it is, and its identity hash. */
export interface ResolvedTokenizer {
  name: string;
  path: string;
  sha256: string | null;
}

/**
 * data.tokenizer (or --tokenizer): "byte"; a model folder or a tokenizer.json; hf:OWNER/NAME (its
 * tokenizer files downloaded into the cache); "auto": the model finetune.base names when that is a
 * folder or hf:, else byte.
 */
export async function resolveTokenizer(spec: string, o: {root: string; cacheDir: string; hubUrl?: string; modelHint?: string}): Promise<ResolvedTokenizer> {
  if (spec === 'auto') {
    const hint = o.modelHint;
    const local = hint && !hint.startsWith('hf:') ? path.resolve(o.root, hint) : undefined;
    if (hint?.startsWith('hf:') || (local && existsSync(path.join(local, 'tokenizer.json')))) return resolveTokenizer(hint!, o);
    return {name: 'byte', path: 'byte', sha256: null};
  }
  if (spec === 'byte') return {name: 'byte', path: 'byte', sha256: null};
  let p: string;
  if (spec.startsWith('hf:')) {
    const repo = spec.replace(/^hf:(\/\/)?/, '');
    const {downloadFile} = await import('../hub/index.js');
    const opts = {cacheDir: path.resolve(o.root, o.cacheDir), hubUrl: o.hubUrl};
    p = await downloadFile(`hf://${repo}/tokenizer.json`, opts);
    await downloadFile(`hf://${repo}/tokenizer_config.json`, opts).catch(() => undefined);
  } else {
    p = path.resolve(o.root, spec);
    if (!existsSync(p) || (statSync(p).isDirectory() && !existsSync(path.join(p, 'tokenizer.json')))) {
      throw inputError(`Tokenizer not found: ${spec} (--tokenizer / data.tokenizer): expected a model folder with tokenizer.json, a tokenizer.json, hf:OWNER/NAME or byte.`, {
        fix: 'Try this: --tokenizer byte, or the folder of the model you fine-tune.',
      });
    }
  }
  return {name: spec, path: p, sha256: tokenizerHash(tokenizerDir(p))};
}

export function resolveParams(cfg: DataConfig, root: string, tok: ResolvedTokenizer = {name: 'byte', path: 'byte', sha256: null}): {params: PrepParams; tokenizerPath: string} {
  const tokenizerPath = tok.path;
  const s = cfg.split;
  const sum = s.train + s.val + s.test;
  if (Math.abs(sum - 1) > 1e-6) {
    throw usageError(`data.split ratios must add up to 1 (train ${s.train} + val ${s.val} + test ${s.test} = ${round4(sum)}).`, {
      fix: 'Try this: e.g. data.split: {train: 0.9, val: 0.05, test: 0.05}.',
    });
  }
  const d = cfg.dedup;
  let bands = d.bands;
  let rows = d.rows;
  if (bands === undefined || rows === undefined) {
    const o = optimalLsh(d.threshold, d.num_perm);
    bands ??= rows === undefined ? o.bands : Math.max(1, Math.floor(d.num_perm / rows));
    rows ??= Math.max(1, Math.floor(d.num_perm / bands));
  }
  if (bands * rows > d.num_perm) {
    throw usageError(`data.dedup: bands × rows (${bands} × ${rows}) exceeds num_perm (${d.num_perm}).`, {fix: 'Try this: remove bands/rows to derive them from the threshold.'});
  }
  const params: PrepParams = {
    format: cfg.format,
    text_unit: cfg.text_unit,
    field_map: Object.fromEntries(Object.entries(cfg.field_map).filter(([, v]) => typeof v === 'string')) as Record<string, string>,
    normalize: {...cfg.normalize},
    quality: {...cfg.quality},
    pii: {mode: cfg.pii.mode, types: [...cfg.pii.types].sort()},
    dedup: {
      exact: d.exact,
      near: d.near,
      ngram: d.ngram,
      num_perm: d.num_perm,
      threshold: d.threshold,
      bands,
      rows,
      effective_threshold: round4(effectiveThreshold(bands, rows)),
      seed: d.seed,
    },
    split: {...s},
    tokenizer: {name: tok.name, sha256: tok.sha256},
    context_length: cfg.context_length,
    context_policy: cfg.context_policy,
  };
  return {params, tokenizerPath};
}

function hashFile(p: string): string {
  // Inputs can be large: hash in 8 MiB blocks rather than reading the file at once.
  const h = createHash('sha256');
  const fd = openSync(p, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}


/** The previous run's manifest when inputs and parameters match and every output is there. */
function reusable(outDir: string, inputs: InputFile[], paramsSha: string): Manifest | undefined {
  const mf = path.join(outDir, 'manifest.json');
  if (!existsSync(mf)) return undefined;
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(mf, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  if (m.version !== MANIFEST_VERSION || m.params_sha256 !== paramsSha || m.inputs.length !== inputs.length) return undefined;
  for (const [name, info] of Object.entries(m.outputs ?? {})) {
    const p = path.join(outDir, name);
    if (!existsSync(p) || statSync(p).size !== info.bytes) return undefined;
  }
  for (let i = 0; i < inputs.length; i++) {
    if (m.inputs[i]!.name !== inputs[i]!.name || m.inputs[i]!.sha256 !== hashFile(inputs[i]!.path)) return undefined;
  }
  return m;
}

function resultFrom(m: Manifest, dir: string, skipped: boolean, seconds: number, extra: {warnings?: string[]; dryRun?: boolean} = {}): PrepResult {
  const c = m.counts;
  return {
    id: m.id,
    dir,
    kind: m.kind,
    records: {read: c.read, written: c.written, rejected: c.rejected.total, duplicates: c.duplicates},
    rejected_by_reason: c.rejected.by_reason,
    rejected_by_rule: c.rejected.by_rule,
    warnings: [...m.warnings, ...ruleWarnings(c.rejected.by_rule), ...(extra.warnings ?? [])],
    dry_run: extra.dryRun ?? false,
    pii: m.pii,
    tokens: m.tokens,
    lsh: m.params.dedup.near
      ? {bands: m.params.dedup.bands, rows: m.params.dedup.rows, effective_threshold: m.params.dedup.effective_threshold, threshold: m.params.dedup.threshold}
      : null,
    skipped,
    manifest: path.join(dir, 'manifest.json'),
    seconds,
  };
}

function record(ledger: Ledger | undefined, m: Manifest, dir: string, manifestText: string): void {
  if (!ledger) return;
  const c = m.counts.written;
  ledger.upsertDataset({id: m.id, path: dir, manifestSha256: sha256(manifestText), manifest: m, records: c.train + c.val + c.test, kind: m.kind});
}

/** What the read phase gathered: the sink's tallies, per-input stats, the profile and its sample. */
interface PrepRun {
  sink: RecordSink;
  dedup: Deduper;
  inputStats: FileStats[];
  profile: ProfileTotals;
  profileSample: number;
  tokens: TokenCounter;
}

interface Prepared {
  o: PrepOptions;
  t0: number;
  outDir: string;
  tok: ResolvedTokenizer;
  params: PrepParams;
  paramsSha: string;
  tokenizerPath: string;
  inputs: InputFile[];
}

export async function prepareData(o: PrepOptions): Promise<PrepResult> {
  const t0 = performance.now();
  const cfg = o.config;
  const outDir = path.resolve(o.root, cfg.out);
  checkOutDir(outDir, Boolean(o.force));
  const tok = await resolveTokenizer(cfg.tokenizer, {root: o.root, cacheDir: o.cacheDir, hubUrl: o.hubUrl, modelHint: o.modelHint});
  const {params, tokenizerPath} = resolveParams(cfg, o.root, tok);
  const paramsSha = sha256(canonicalJson(params));

  const download = async (url: string) => {
    const {downloadFile} = await import('../hub/index.js');
    o.onProgress?.({stage: 'download', file: url, records: 0, bytes: 0, seconds: (performance.now() - t0) / 1000});
    return downloadFile(url, {cacheDir: path.resolve(o.root, o.cacheDir), hubUrl: o.hubUrl});
  };
  const inputs = await resolveInputs(cfg.inputs, {root: o.root, exclude: outDir, download});

  if (!o.force && !o.dryRun) {
    const m = reusable(outDir, inputs, paramsSha);
    if (m) {
      record(o.ledger, m, outDir, readFileSync(path.join(outDir, 'manifest.json'), 'utf8'));
      return resultFrom(m, outDir, true, (performance.now() - t0) / 1000);
    }
  }

  o.onLsh?.(
    params.dedup.near
      ? {bands: params.dedup.bands, rows: params.dedup.rows, effective_threshold: params.dedup.effective_threshold, threshold: params.dedup.threshold}
      : {bands: 0, rows: 0, effective_threshold: 0, threshold: params.dedup.threshold},
  );

  const p: Prepared = {o, t0, outDir, tok, params, paramsSha, tokenizerPath, inputs};
  const stage = new OutputStage(outDir);
  const run = await readInputs(p, stage);
  try {
    const done = finishPrep(p, stage, run);
    if (o.dryRun) return resultFrom(done.manifest, outDir, false, (performance.now() - t0) / 1000, {dryRun: true});
    record(o.ledger, done.manifest, outDir, done.text);
    return resultFrom(done.manifest, outDir, false, (performance.now() - t0) / 1000);
  } catch (err) {
    // A full disk or a failed rename: the half-written folder goes, the old output stays as it was.
    stage.remove();
    throw fileSystemError(err, outDir) ?? err;
  }
}

/**
 * Reads every input through the worker pool into the sink (dedup, splits, tallies), then settles
 * the drift profile: the workers' last term counts in, the prompts of removed records out. On a
 * failure the staged folder goes and the error is a user error where it is the filesystem's.
 */
async function readInputs(p: Prepared, stage: OutputStage): Promise<PrepRun> {
  const {o, params, inputs} = p;
  const cfg = o.config;
  const names = inputs.map((i) => i.name);
  const dedup = new Deduper(params.dedup, stage.spillFile);
  const takeBack = new ProfileTakeBack();
  const profile = new ProfileTotals();
  const profileSample = profileEvery(inputs.reduce((n, f) => n + statSync(f.path).size, 0), o.profileFullBytes);
  const tokens = new TokenCounter(p.tok.name, cfg.context_length);
  const sink = new RecordSink({names, w: stage.w, dedup, takeBack, profile, profileSample, tokens});
  const pool = await OrderedPool.create(processOptions(p, names, profileSample), o.workers ?? Math.min(4, Math.max(1, os.availableParallelism())), (b) => sink.consume(b));
  const inputStats: FileStats[] = [];
  let bytesRead = 0;
  let lastProgress = 0;
  try {
    for (let i = 0; i < inputs.length; i++) {
      const stats: FileStats = {sha256: '', bytes: 0, records: 0, format: 'jsonl'};
      for await (const batch of readFile(inputs[i]!, i, {format: cfg.format, textUnit: cfg.text_unit, fieldMap: params.field_map, batchItems: 2000, batchChars: 1 << 20}, stats)) {
        if (Array.isArray(batch)) for (const it of batch) bytesRead += it.raw.length;
        else bytesRead += batch.bytes.byteLength;
        await pool.submit(batch);
        const now = performance.now();
        if (o.onProgress && now - lastProgress > 250) {
          lastProgress = now;
          o.onProgress({stage: 'prep', file: inputs[i]!.name, records: sink.read, bytes: bytesRead, seconds: (now - p.t0) / 1000});
        }
      }
      inputStats.push(stats);
    }
    await pool.drain();
    for (const part of await pool.finishTerms()) profile.merge(part);
    takeBack.applyTo(profile);
  } catch (err) {
    await pool.close();
    stage.abortWriters();
    dedup.close();
    stage.remove();
    throw fileSystemError(err, p.outDir) ?? err;
  }
  await pool.close();
  dedup.close();
  return {sink, dedup, inputStats, profile, profileSample, tokens};
}

/** What each worker needs to process records. */
function processOptions(p: Prepared, names: string[], profileSample: number): ProcessOptions {
  const cfg = p.o.config;
  const d = p.params.dedup;
  return {
    files: names,
    field_map: p.params.field_map,
    normalize: cfg.normalize,
    quality: cfg.quality,
    pii: {mode: cfg.pii.mode, types: cfg.pii.types},
    near: d.near,
    ngram: d.ngram,
    num_perm: d.num_perm,
    bands: d.bands,
    rows: d.rows,
    dedup_seed: d.seed,
    split: p.params.split,
    tokenizer: p.tokenizerPath,
    context_length: cfg.context_length,
    context_policy: cfg.context_policy,
    profile_every: profileSample,
  };
}

/**
 * What a person should know about the run: empty inputs, inputs whose own record count the run
 * does not account for (a parser that loses a row shows up here, not as a silent gap), records over
 * the context. Throws when every input is empty.
 */
function prepWarnings(p: Prepared, run: PrepRun): {warnings: string[]; reconciled: boolean} {
  const {inputs, tok} = p;
  const cfg = p.o.config;
  const {inputStats, sink} = run;
  const warnings: string[] = [];
  const empty = inputs.filter((_, i) => inputStats[i]!.records === 0);
  if (empty.length === inputs.length) throw emptyInputError(inputs[0]!.name, inputStats[0]!.format);
  for (const f of empty) warnings.push(`${f.name}: empty input (no records); the other inputs were prepared.`);
  const unaccounted: string[] = [];
  for (let i = 0; i < inputStats.length; i++) {
    if (inputStats[i]!.records !== sink.recordsBySrc[i]!) unaccounted.push(`${inputs[i]!.name}: ${inputStats[i]!.records} records in the file, ${sink.recordsBySrc[i]!} accounted for`);
  }
  for (const u of unaccounted) warnings.push(`counts do not reconcile: ${u}.`);
  const over = run.tokens.stats().over_context;
  if (over > 0) {
    warnings.push(`${over} records are longer than data.context_length ${cfg.context_length} tokens (${tok.name}); kept. ` +
      'Set data.context_policy: truncate (chats cut at a turn boundary) or drop to change that.');
  }
  if (sink.truncated > 0) warnings.push(`${sink.truncated} records were cut to data.context_length ${cfg.context_length} tokens (context_policy truncate).`);
  return {warnings, reconciled: unaccounted.length === 0};
}

/** Closes the outputs, builds the manifest and publishes the folder (a dry run only discards it). */
function finishPrep(p: Prepared, stage: OutputStage, run: PrepRun): {manifest: Manifest; text: string} {
  const {warnings, reconciled} = prepWarnings(p, run);
  const outputs = stage.closeOutputs(JSON.stringify(run.profile.build(undefined, run.profileSample), null, 2) + '\n');
  const manifest = buildManifest(p, run, outputs, warnings, reconciled);
  const manifestText = JSON.stringify(manifest, null, 2) + '\n';
  if (p.o.dryRun) stage.remove();
  else stage.publish(manifestText, renderCard(manifest));
  return {manifest, text: manifestText};
}

const sortedEntries = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

/** The manifest: counts that reconcile (or an error), and an id from the outputs' hashes and the parameters. */
function buildManifest(p: Prepared, run: PrepRun, outputs: Manifest['outputs'], warnings: string[], reconciled: boolean): Manifest {
  const {sink, dedup} = run;
  const written = {train: outputs['train.jsonl']!.records, val: outputs['val.jsonl']!.records, test: outputs['test.jsonl']!.records};
  if (sink.read !== sink.rejected + dedup.exactDups + dedup.nearDups + written.train + written.val + written.test) {
    throw new Error(`counts do not reconcile: read ${sink.read}, rejected ${sink.rejected}, duplicates ${dedup.exactDups}+${dedup.nearDups}, written ${JSON.stringify(written)}`);
  }
  const idSource = canonicalJson({outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.sha256])), params: p.paramsSha});
  const cfg = p.o.config;
  return {
    version: MANIFEST_VERSION,
    id: `ds-${sha256(idSource).slice(0, 12)}`,
    kind: sink.kinds === 3 ? 'mixed' : sink.kinds === 2 ? 'chat' : 'text',
    llmops_version: p.o.llmopsVersion ?? '0.0.0',
    inputs: p.inputs.map((inp, i) => {
      const st = run.inputStats[i]!;
      return {name: inp.name, sha256: st.sha256, bytes: st.bytes, records: st.records, format: st.format};
    }),
    params: p.params,
    params_sha256: p.paramsSha,
    counts: {
      read: sink.read,
      rejected: {total: sink.rejected, by_reason: sortedEntries(sink.byReason), by_rule: sink.byRule()},
      by_kind: {text: sink.kindRecords[1]!, chat: sink.kindRecords[2]!, unknown: sink.kindRecords[0]!},
      duplicates: {exact: dedup.exactDups, near: dedup.nearDups},
      written,
    },
    reconciled,
    warnings,
    formats: sortedEntries(sink.formats),
    pii: {mode: cfg.pii.mode, counts: sortedEntries(sink.piiCounts), records: sink.piiRecords},
    tokens: run.tokens.stats(),
    outputs,
  };
}
