/**
 * `llmops data prep` as a library: inputs -> (workers: parse, normalise, quality, PII, hashes,
 * MinHash) -> (main thread, in input order: exact dedup, near dedup, split, write) -> outputs.
 *
 * Outputs are written into a temporary sibling folder and moved into place at the end, the
 * manifest last: a folder with a manifest.json is always complete. The manifest holds no times, so
 * the same inputs and parameters give byte-identical files and the same dataset id.
 */
import {createHash, randomBytes} from 'node:crypto';
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {promptOf} from '../profile/profile.js';
import type {DataConfig} from '../config/schema.js';
import {inputError, usageError} from '../errors.js';
import {fileSystemError} from '../ledger/fs-errors.js';
import type {Ledger} from '../ledger/ledger.js';
import {renderCard} from './card.js';
import {MANIFEST_VERSION, type Manifest, type PrepParams} from './manifest.js';
import {effectiveThreshold, jaccard, optimalLsh, sortedSet} from './minhash.js';
import type {PiiCounts, PiiType} from '../util/pii.js';
import {checkOutDir, DATASET_MARKER, writeMarker} from './out-dir.js';
import {OrderedPool} from './pool.js';
import {FORMATS, KINDS, type PackedBatch, type ProcessOptions} from './process.js';
import {ruleWarnings, type RuleTally} from './rule-tally.js';
import {ProfileTotals, TermBatch, inProfileSample, profileEvery} from './profile-terms.js';
import type {Message} from './records.js';
import {emptyInputError, readFile, resolveInputs, type FileStats, type InputFile} from './sources.js';
import {ShingleSpill} from './spill.js';
import {TokenCounter, type TokenStats} from './tokens.js';
import {U64Map} from './u64map.js';
import {tokenizerDir, tokenizerHash} from './model-tokens.js';
import {JsonlWriter} from './writer.js';
import {canonicalJson} from '../util/json.js';

export const OUTPUT_FILES = ['train.jsonl', 'val.jsonl', 'test.jsonl', 'rejected.jsonl', 'duplicates.jsonl', 'profile.json', 'card.md'] as const;

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

  mkdirSync(path.dirname(outDir), {recursive: true});
  const tmp = `${outDir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  mkdirSync(tmp, {recursive: true});
  const w = {
    train: new JsonlWriter(path.join(tmp, 'train.jsonl')),
    val: new JsonlWriter(path.join(tmp, 'val.jsonl')),
    test: new JsonlWriter(path.join(tmp, 'test.jsonl')),
    rejected: new JsonlWriter(path.join(tmp, 'rejected.jsonl')),
    duplicates: new JsonlWriter(path.join(tmp, 'duplicates.jsonl')),
  };
  const splitWriters = [w.train, w.val, w.test];
  const spill = params.dedup.near ? new ShingleSpill(path.join(tmp, '.shingles.bin')) : undefined;
  const exact = new U64Map(1 << 16);
  const lsh = new U64Map(1 << 16);
  const keptIds: string[] = [];
  const byReason: Record<string, number> = {};
  const formats: Record<string, number> = {};
  const piiCounts: PiiCounts = {};
  let piiRecords = 0;
  let read = 0;
  let rejected = 0;
  let exactDups = 0;
  let nearDups = 0;
  let kinds = 0; // bit 1: text, bit 2: chat
  const tokens = new TokenCounter(tok.name, cfg.context_length);
  let truncated = 0;
  const profile = new ProfileTotals();
  const profileSample = profileEvery(inputs.reduce((n, f) => n + statSync(f.path).size, 0), o.profileFullBytes);
  // Training prompts the workers counted whose records dedup then removed. Exact duplicates with
  // one content key have one prompt: for the last 1,024 such keys the prompt waits here with a count
  // and is scanned once (a corpus repeated 40 times spent 80% of the main thread scanning the same
  // prompts again).
  const removedPrompts = new TermBatch();
  const repeated = new Map<string, {prompt: string; n: number}>();
  const takeBack = (key: string | undefined, prompt: () => string) => {
    if (key === undefined) return removedPrompts.add(prompt());
    const hit = repeated.get(key);
    if (hit) {
      hit.n++;
      return;
    }
    if (repeated.size >= 1024) {
      const [oldest, e] = repeated.entries().next().value!;
      repeated.delete(oldest);
      removedPrompts.add(e.prompt, e.n);
    }
    repeated.set(key, {prompt: prompt(), n: 1});
  };
  const names = inputs.map((i) => i.name);
  const recordsBySrc = new Array<number>(inputs.length).fill(0);
  const threshold = params.dedup.threshold;
  const nBands = params.dedup.bands;

  // Per record kind: records read, and per rejection reason its count and first three lines.
  const kindRecords = [0, 0, 0];
  const rejections = new Map<string, RuleTally>();
  const tally = (kind: number, reason: string, src: number, line: number) => {
    const key = `${kind}|${reason}`;
    let t = rejections.get(key);
    if (!t) rejections.set(key, (t = {kind: KINDS[kind]!, reason, records: 0, share: 0, examples: []}));
    t.records++;
    if (t.examples.length < 3) t.examples.push({source: names[src]!, line});
  };

  const addPii = (counts: PiiCounts) => {
    piiRecords++;
    for (const [k, v] of Object.entries(counts)) piiCounts[k as PiiType] = (piiCounts[k as PiiType] ?? 0) + v;
  };

  const consume = (b: PackedBatch) => {
    if (b.profile) profile.merge(b.profile);
    truncated += b.truncated ?? 0;
    recordsBySrc[b.src]! += b.n;
    const out = Buffer.from(b.out.buffer, b.out.byteOffset, b.out.byteLength);
    const piiAt = new Map(b.pii);
    const dupLine = (i: number, keptIdx: number, kind: 'exact' | 'near', sim: number) => {
      w.duplicates.line(JSON.stringify({id: b.tags[i], source: names[b.src], line: b.line[i], duplicate_of: keptIds[keptIdx], kind, similarity: round4(sim)}));
      // The worker counted this training record's prompt in the drift profile: take it back.
      if (((b.flags[i]! >> 1) & 3) === 0 && inProfileSample(b.keyLo[i]!, profileSample)) {
        takeBack(kind === 'exact' ? `${b.keyHi[i]}:${b.keyLo[i]}` : undefined, () =>
          promptOf(JSON.parse(out.toString('utf8', i === 0 ? 0 : b.end[i - 1]!, b.end[i]! - 1)) as {text?: string; messages?: Message[]}),
        );
      }
    };
    for (let i = 0; i < b.n; i++) {
      read++;
      const start = i === 0 ? 0 : b.end[i - 1]!;
      const flags = b.flags[i]!;
      kindRecords[flags >> 6]!++;
      if ((flags & 1) === 0) {
        rejected++;
        const reason = b.tags[i]!;
        byReason[reason] = (byReason[reason] ?? 0) + 1;
        tally(flags >> 6, reason, b.src, b.line[i]!);
        const p = piiAt.get(i);
        if (p) addPii(p);
        w.rejected.encoded(out, start, b.end[i]!);
        continue;
      }
      const hi = b.keyHi[i]!;
      const lo = b.keyLo[i]!;
      if (params.dedup.exact) {
        const prev = exact.get(hi, lo);
        if (prev !== undefined) {
          exactDups++;
          dupLine(i, prev, 'exact', 1);
          continue;
        }
      }
      let sh: Uint32Array | undefined;
      if (spill && b.sh) {
        sh = b.sh.subarray(i === 0 ? 0 : b.shEnd![i - 1]!, b.shEnd![i]!);
        let best = -1;
        let bestSim = 0;
        let set: Uint32Array | undefined;
        const tried = new Set<number>();
        for (let k = 0; k < nBands; k++) {
          const cand = lsh.get(k, b.bands![i * nBands + k]!);
          if (cand === undefined || tried.has(cand)) continue;
          tried.add(cand);
          set ??= sortedSet(sh);
          const sim = jaccard(set, sortedSet(spill.get(cand)));
          if (sim >= threshold && (sim > bestSim || (sim === bestSim && cand < best))) {
            best = cand;
            bestSim = sim;
          }
        }
        if (best >= 0) {
          nearDups++;
          if (params.dedup.exact) exact.setIfAbsent(hi, lo, best);
          dupLine(i, best, 'near', bestSim);
          continue;
        }
      }
      const idx = keptIds.length;
      keptIds.push(b.tags[i]!);
      if (params.dedup.exact) exact.setIfAbsent(hi, lo, idx);
      if (spill && sh) {
        spill.add(sh);
        for (let k = 0; k < nBands; k++) lsh.setIfAbsent(k, b.bands![i * nBands + k]!, idx);
      }
      const split = ((flags >> 1) & 3) as 0 | 1 | 2;
      splitWriters[split]!.encoded(out, start, b.end[i]!);
      tokens.add(b.tokens[i]!, split);
      const format = FORMATS[(flags >> 3) & 7]!;
      formats[format] = (formats[format] ?? 0) + 1;
      kinds |= format === 'text' ? 1 : 2;
      const p = piiAt.get(i);
      if (p) addPii(p);
    }
  };

  const procOpts: ProcessOptions = {
    files: names,
    field_map: params.field_map,
    normalize: cfg.normalize,
    quality: cfg.quality,
    pii: {mode: cfg.pii.mode, types: cfg.pii.types},
    near: params.dedup.near,
    ngram: params.dedup.ngram,
    num_perm: params.dedup.num_perm,
    bands: params.dedup.bands,
    rows: params.dedup.rows,
    dedup_seed: params.dedup.seed,
    split: params.split,
    tokenizer: tokenizerPath,
    context_length: cfg.context_length,
    context_policy: cfg.context_policy,
    profile_every: profileSample,
  };
  const workers = o.workers ?? Math.min(4, Math.max(1, os.availableParallelism()));
  const pool = await OrderedPool.create(procOpts, workers, consume);
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
          o.onProgress({stage: 'prep', file: inputs[i]!.name, records: read, bytes: bytesRead, seconds: (now - t0) / 1000});
        }
      }
      inputStats.push(stats);
    }
    await pool.drain();
    for (const part of await pool.finishTerms()) profile.merge(part);
    for (const e of repeated.values()) removedPrompts.add(e.prompt, e.n);
    if (!removedPrompts.empty) profile.subtract(removedPrompts.part());
  } catch (err) {
    await pool.close();
    for (const x of Object.values(w)) x.abort();
    spill?.close();
    rmSync(tmp, {recursive: true, force: true});
    throw fileSystemError(err, outDir) ?? err;
  }
  await pool.close();
  spill?.close();
  try {
    const done = await finishPrep();
    if (o.dryRun) return resultFrom(done.manifest, outDir, false, (performance.now() - t0) / 1000, {dryRun: true});
    record(o.ledger, done.manifest, outDir, done.text);
    return resultFrom(done.manifest, outDir, false, (performance.now() - t0) / 1000);
  } catch (err) {
    // A full disk or a failed rename: the half-written folder goes, the old output stays as it was.
    rmSync(tmp, {recursive: true, force: true});
    throw fileSystemError(err, outDir) ?? err;
  }

  async function finishPrep(): Promise<{manifest: Manifest; text: string}> {
    rmSync(path.join(tmp, '.shingles.bin'), {force: true});
    // Every input's own record count (sources.ts counts lines / CSV rows / array elements itself)
    // against what the run accounted for: a parser that loses a row shows up here, not as a silent gap.
    const warnings: string[] = [];
    const empty = inputs.filter((_, i) => inputStats[i]!.records === 0);
    if (empty.length === inputs.length) throw emptyInputError(inputs[0]!.name, inputStats[0]!.format);
    for (const f of empty) warnings.push(`${f.name}: empty input (no records); the other inputs were prepared.`);
    const unaccounted: string[] = [];
    for (let i = 0; i < inputStats.length; i++) {
      if (inputStats[i]!.records !== recordsBySrc[i]!) unaccounted.push(`${inputs[i]!.name}: ${inputStats[i]!.records} records in the file, ${recordsBySrc[i]!} accounted for`);
    }
    for (const u of unaccounted) warnings.push(`counts do not reconcile: ${u}.`);
    const over = tokens.stats().over_context;
    if (over > 0) {
      warnings.push(`${over} records are longer than data.context_length ${cfg.context_length} tokens (${tok.name}); kept. ` +
        'Set data.context_policy: truncate (chats cut at a turn boundary) or drop to change that.');
    }
    if (truncated > 0) warnings.push(`${truncated} records were cut to data.context_length ${cfg.context_length} tokens (context_policy truncate).`);

    const outputs: Manifest['outputs'] = {};
    for (const [name, x] of Object.entries(w)) {
      const sha = x.close();
      outputs[`${name}.jsonl`] = {sha256: sha, records: x.records, bytes: x.bytes};
    }
    const profileText = JSON.stringify(profile.build(undefined, profileSample), null, 2) + '\n';
    writeFileSync(path.join(tmp, 'profile.json'), profileText);
    outputs['profile.json'] = {sha256: sha256(profileText), records: w.train.records, bytes: Buffer.byteLength(profileText)};

    const written = {train: w.train.records, val: w.val.records, test: w.test.records};
    if (read !== rejected + exactDups + nearDups + written.train + written.val + written.test) {
      throw new Error(`counts do not reconcile: read ${read}, rejected ${rejected}, duplicates ${exactDups}+${nearDups}, written ${JSON.stringify(written)}`);
    }
    const byRule = [...rejections.values()]
      .map((t) => ({...t, share: round4(t.records / Math.max(1, t.kind === 'unknown' ? read : kindRecords[KINDS.indexOf(t.kind)]!))}))
      .sort((a, b) => (a.kind !== b.kind ? (a.kind < b.kind ? -1 : 1) : b.records - a.records || (a.reason < b.reason ? -1 : 1)));
    const idSource = canonicalJson({outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.sha256])), params: paramsSha});
    const manifest: Manifest = {
      version: MANIFEST_VERSION,
      id: `ds-${sha256(idSource).slice(0, 12)}`,
      kind: kinds === 3 ? 'mixed' : kinds === 2 ? 'chat' : 'text',
      llmops_version: o.llmopsVersion ?? '0.0.0',
      inputs: inputs.map((inp, i) => ({name: inp.name, sha256: inputStats[i]!.sha256, bytes: inputStats[i]!.bytes, records: inputStats[i]!.records, format: inputStats[i]!.format})),
      params,
      params_sha256: paramsSha,
      counts: {
        read,
        rejected: {total: rejected, by_reason: Object.fromEntries(Object.entries(byReason).sort(([a], [b]) => (a < b ? -1 : 1))), by_rule: byRule},
        by_kind: {text: kindRecords[1]!, chat: kindRecords[2]!, unknown: kindRecords[0]!},
        duplicates: {exact: exactDups, near: nearDups},
        written,
      },
      reconciled: unaccounted.length === 0,
      warnings,
      formats: Object.fromEntries(Object.entries(formats).sort(([a], [b]) => (a < b ? -1 : 1))),
      pii: {mode: cfg.pii.mode, counts: Object.fromEntries(Object.entries(piiCounts).sort(([a], [b]) => (a < b ? -1 : 1))), records: piiRecords},
      tokens: tokens.stats(),
      outputs,
    };
    const manifestText = JSON.stringify(manifest, null, 2) + '\n';
    if (o.dryRun) {
      rmSync(tmp, {recursive: true, force: true});
      return {manifest, text: manifestText};
    }
    const card = renderCard(manifest);
    writeFileSync(path.join(tmp, 'card.md'), card);
    writeFileSync(path.join(tmp, 'manifest.json'), manifestText);
    writeMarker(tmp);

    // Move into place, manifest last; an old manifest goes first so a crash in between never leaves
    // a complete-looking mix of old and new files.
    mkdirSync(outDir, {recursive: true});
    const oldManifest = path.join(outDir, 'manifest.json');
    if (existsSync(oldManifest)) unlinkSync(oldManifest);
    for (const f of [...OUTPUT_FILES, DATASET_MARKER]) renameSync(path.join(tmp, f), path.join(outDir, f));
    renameSync(path.join(tmp, 'manifest.json'), oldManifest);
    rmSync(tmp, {recursive: true, force: true});
    return {manifest, text: manifestText};
  }
}
