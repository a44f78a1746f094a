/**
 * Building a run: resolving the dataset, base model and checkpoint a user named, then the RunSpec
 * the backend starts and the trainer's spec.json (contract in docs/trainer.md).
 */
import {existsSync, readdirSync, statSync} from 'node:fs';
import path from 'node:path';
import type {LoadedConfig} from '../config/load.js';
import {inputError, notFoundError, usageError} from '../errors.js';
import type {DatasetRow, Ledger, RunKind, RunRow} from '../ledger/ledger.js';
import type {RunSpec} from './backend.js';
import {backendConfig} from './backends/index.js';
import {configHash, gitInfo} from './lineage.js';
import {isNativeHfBase} from './sft-tokens.js';
import {runPaths} from './paths.js';

export interface LaunchRequest {
  kind: RunKind;
  /** Dataset id or directory; default: the newest dataset in the ledger. */
  dataset?: string;
  preset?: string;
  maxSteps?: number;
  backend?: string;
  budgetUsd?: number;
  seed?: number;
  resume?: string;
  /** A brought-your-own command (argv) instead of our trainer. */
  command?: string[];
  /** Finetune: RUN_ID, a directory, or hf:OWNER/NAME (already downloaded: pass the directory). */
  base?: string;
  /** Where `base` came from when it was downloaded (hf:OWNER/NAME at a commit): lineage names that, not the cache path. */
  baseSource?: {ref: string; revision: string | null};
  method?: 'lora' | 'full';
  /** Train: 'byte' (llmops's GPT), or a folder with tokenizer.json (hf: already downloaded): a Llama-architecture model. */
  tokenizer?: string;
  /** Extra trainer hyper-parameters on top of the config's `overrides`. */
  overrides?: Record<string, string | number | boolean>;
  name?: string;
}

export interface PreparedRun {
  id: string;
  kind: RunKind;
  backend: string;
  backendType: string;
  preset?: string;
  datasetId?: string;
  parentRunId?: string;
  budgetUsd?: number;
  spec: RunSpec;
  lineage: Record<string, unknown>;
}

export function resolveDataset(ledger: Ledger, loaded: LoadedConfig, ref: string | undefined, kind: RunKind): {id?: string; dir: string} {
  let row: DatasetRow | undefined;
  if (ref) {
    const asDir = path.resolve(loaded.root, ref);
    if (existsSync(asDir) && statSync(asDir).isDirectory()) {
      row = ledger.listDatasets().find((d) => path.resolve(loaded.root, d.path) === asDir);
      checkDatasetDir(asDir, ref);
      return {id: row?.id, dir: asDir};
    }
    row = ledger.getDataset(ref);
    if (!row) {
      throw notFoundError(`No dataset "${ref}": neither a dataset id in the ledger nor a directory.`, {
        fix: 'Try this: `llmops data prep` to prepare one, or pass --dataset DIR with a train.jsonl.',
      });
    }
  } else {
    row = (kind === 'finetune' ? ledger.latestDataset('chat') : undefined) ?? ledger.latestDataset();
    if (!row) {
      throw inputError('No prepared dataset in the ledger, and no --dataset given.', {
        fix: 'Try this: `llmops data prep --input data/*.jsonl` first, or pass --dataset DIR.',
      });
    }
  }
  const dir = path.resolve(loaded.root, row.path);
  checkDatasetDir(dir, row.id);
  return {id: row.id, dir};
}

function checkDatasetDir(dir: string, label: string): void {
  if (!existsSync(path.join(dir, 'train.jsonl'))) {
    throw inputError(`Dataset ${label}: ${dir} has no train.jsonl.`, {
      fix: 'Try this: `llmops data prep` to write train/val/test splits, or point --dataset at a prepared directory.',
    });
  }
}

/** The newest checkpoint of a run: its last checkpoint event, else the newest dir under checkpoints/. */
export function latestCheckpoint(ledger: Ledger, run: RunRow): string | undefined {
  const events = ledger.events(run.id).filter((e) => e.type === 'checkpoint');
  for (const e of events.reverse()) {
    const p = (JSON.parse(e.data_json) as {path?: string}).path;
    if (p) {
      const local = existsSync(p) ? p : path.join(run.run_dir, 'checkpoints', path.basename(p));
      if (existsSync(local)) return local;
    }
  }
  const dir = runPaths(run.run_dir).checkpoints;
  if (!existsSync(dir)) return undefined;
  const steps = readdirSync(dir, {withFileTypes: true})
    .filter((d) => d.isDirectory() && /^step-\d+$/.test(d.name))
    .map((d) => d.name)
    .sort();
  return steps.length > 0 ? path.join(dir, steps.at(-1)!) : undefined;
}

/** A finetune base: a run id (its exported model, else its latest checkpoint) or a directory. */
export function resolveBase(ledger: Ledger, loaded: LoadedConfig, base: string): {dir: string; runId?: string} {
  const asDir = path.resolve(loaded.root, base);
  if (existsSync(asDir) && statSync(asDir).isDirectory()) return {dir: asDir};
  const run = ledger.findRun(base);
  if (!run) {
    throw notFoundError(`--base ${base}: neither a run id in the ledger nor a directory.`, {
      fix: 'Try this: `llmops runs list` for run ids, a model directory, or hf:OWNER/NAME.',
    });
  }
  const model = runPaths(run.run_dir).model;
  if (existsSync(path.join(model, 'config.json'))) return {dir: model, runId: run.id};
  const ckpt = latestCheckpoint(ledger, run);
  if (ckpt) return {dir: ckpt, runId: run.id};
  throw inputError(`Run ${run.id} (${run.status}) has neither an exported model nor a checkpoint to fine-tune from.`, {
    fix: `Try this: \`llmops export ${run.id}\` if it has checkpoints, or pick a run that succeeded (\`llmops runs list --status succeeded\`).`,
  });
}

export async function prepareRun(ledger: Ledger, loaded: LoadedConfig, req: LaunchRequest, id: string): Promise<PreparedRun> {
  const cfg = loaded.config;
  let kind = req.kind;
  let parent: RunRow | undefined;
  let resumeFrom: string | undefined;
  let inherited: Record<string, unknown> | undefined;
  if (req.resume) {
    parent = ledger.getRun(req.resume);
    resumeFrom = latestCheckpoint(ledger, parent);
    if (!resumeFrom) {
      throw inputError(`Run ${parent.id} has no checkpoint to resume from.`, {
        fix: `Try this: start a new run instead (\`llmops ${parent.kind} ...\`); checkpoints are written every checkpoint_every steps.`,
      });
    }
    if (parent.kind === 'command') throw usageError('--resume works for our trainer\'s runs, not for brought-your-own commands.');
    kind = parent.kind;
    inherited = (JSON.parse(parent.spec_json) as RunSpec).trainerSpec;
  }
  const section = kind === 'finetune' ? cfg.finetune : cfg.train;
  const backendName = req.backend ?? section.backend;
  const bcfg = backendConfig(backendName, loaded);
  const runDir = path.resolve(loaded.root, cfg.runs_dir, id);
  const paths = runPaths(runDir);
  const budgetUsd = req.budgetUsd ?? cfg.budget.per_run_usd;
  const git = await gitInfo(loaded.root);
  const gpus = bcfg.type === 'local' || bcfg.type === 'ssh' || bcfg.type === 'docker' ? (bcfg.gpus?.count ?? 0) : bcfg.type === 'slurm' ? bcfg.gpus_per_node * bcfg.nodes : bcfg.gpus * bcfg.nodes;

  if (kind === 'command') {
    const command = req.command ?? [];
    if (command.length === 0) throw usageError('No command after `--`.', {fix: 'Try this: llmops train -- python my_script.py --epochs 3'});
    const settings = {kind, command, backend: backendName};
    const spec: RunSpec = {runId: id, kind, runDir, projectRoot: loaded.root, command, env: {}, passEnv: [], inputs: [], gpus};
    return {
      id,
      kind,
      backend: backendName,
      backendType: bcfg.type,
      budgetUsd,
      spec,
      lineage: {config_hash: configHash(settings), git, command, backend: backendName},
    };
  }

  const ds = inherited
    ? {id: (inherited.dataset as {id?: string})?.id, dir: (inherited.dataset as {dir: string}).dir}
    : resolveDataset(ledger, loaded, req.dataset ?? undefined, kind);
  let finetune: Record<string, unknown> | null = null;
  let baseRunId: string | undefined;
  if (kind === 'finetune') {
    if (inherited?.finetune) finetune = inherited.finetune as Record<string, unknown>;
    else {
      const baseRef = req.base ?? cfg.finetune.base;
      if (!baseRef) {
        throw usageError('A finetune needs a base model.', {fix: 'Try this: llmops finetune --base RUN_ID (or a model directory, or hf:OWNER/NAME).'});
      }
      const base = resolveBase(ledger, loaded, baseRef);
      baseRunId = base.runId;
      finetune = {base: base.dir, method: req.method ?? cfg.finetune.method, lora: cfg.finetune.lora};
      // A Hugging Face base of a family the trainer runs natively: the data is rendered with the
      // model's chat template and tokenized here, by the same code the server uses (sft-tokens.ts,
      // written at launch), and the trainer reads ids + loss masks.
      if (isNativeHfBase(base.dir)) {
        finetune.tokens = path.join(runDir, 'tokens');
        finetune.long_records = cfg.finetune.long_records;
      }
    }
  }
  const script = path.resolve(loaded.root, section.script);
  if (bcfg.type === 'local' && !existsSync(script)) {
    throw inputError(`The trainer ${script} does not exist.`, {
      fix: 'Try this: `llmops init` copies the trainer into trainer/ (or set train.script in llmops.yaml).',
    });
  }
  const tokRef = req.tokenizer ?? cfg.data.tokenizer;
  const tokenizer = tokRef === 'byte' ? 'byte' : path.resolve(loaded.root, tokRef);
  // A tokenizer FOLDER (an HF tokenizer or model) for a from-scratch run: a Llama-architecture model
  // whose data the CLI tokenizes (sft-tokens.ts), exported in the onnx-community layout.
  const llama = kind === 'train' && !inherited && tokenizer !== 'byte' && existsSync(tokenizer) && statSync(tokenizer).isDirectory();
  if (llama && !existsSync(path.join(tokenizer, 'tokenizer.json'))) {
    throw inputError(`--tokenizer ${tokRef}: ${tokenizer} has no tokenizer.json.`, {
      fix: 'Try this: a folder with tokenizer.json (and tokenizer_config.json), hf:OWNER/NAME, or byte.',
    });
  }
  const trainerSpec: Record<string, unknown> = inherited
    ? {...inherited, run_id: id, run_dir: runDir, resume_from: resumeFrom, ...(req.maxSteps ? {max_steps: req.maxSteps} : {})}
    : {
        version: 1,
        run_id: id,
        kind,
        run_dir: runDir,
        dataset: {id: ds.id ?? null, dir: ds.dir},
        preset: req.preset ?? section.preset,
        max_steps: req.maxSteps ?? section.max_steps ?? null,
        seed: req.seed ?? section.seed,
        overrides: {...section.overrides, ...req.overrides},
        eval_every: section.eval_every ?? null,
        checkpoint_every: section.checkpoint_every ?? null,
        resume_from: null,
        finetune,
        tokenizer,
        ...(llama ? {arch: 'llama', tokens: path.join(runDir, 'tokens')} : {}),
        export: true,
        threads: section.threads ?? ((bcfg.type === 'local' || bcfg.type === 'docker') && !bcfg.gpus ? 1 : null),
      };
  const python = (bcfg.type === 'local' ? bcfg.python : undefined) ?? (bcfg.type === 'local' ? cfg.python : (bcfg as {python?: string}).python ?? cfg.python);
  const settings = {
    kind,
    preset: trainerSpec.preset,
    max_steps: trainerSpec.max_steps,
    seed: trainerSpec.seed,
    overrides: trainerSpec.overrides,
    eval_every: trainerSpec.eval_every,
    checkpoint_every: trainerSpec.checkpoint_every,
    finetune: finetune ? {method: finetune.method, lora: finetune.method === 'lora' ? finetune.lora : undefined} : null,
    dataset: ds.id ?? ds.dir,
    tokenizer,
    ...(llama ? {arch: 'llama'} : {}),
  };
  const parentRunId = parent?.id ?? baseRunId;
  const spec: RunSpec = {
    runId: id,
    kind,
    runDir,
    projectRoot: loaded.root,
    command: [python, script, '--spec', paths.spec],
    env: {},
    passEnv: ['HF_TOKEN'],
    inputs: [
      {local: path.dirname(script), kind: 'trainer'},
      {local: ds.dir, kind: 'dataset', ...(ds.id ? {id: ds.id} : {})},
      ...(finetune ? [{local: String(finetune.base), kind: 'base-model' as const}] : []),
      ...(resumeFrom ? [{local: resumeFrom, kind: 'other' as const}] : []),
      ...(finetune?.tokens ? [{local: String(finetune.tokens), kind: 'other' as const}] : []),
      ...(llama ? [{local: tokenizer, kind: 'other' as const}, {local: path.join(runDir, 'tokens'), kind: 'other' as const}] : []),
    ],
    trainerSpec,
    gpus,
  };
  return {
    id,
    kind,
    backend: backendName,
    backendType: bcfg.type,
    preset: String(trainerSpec.preset),
    datasetId: ds.id,
    parentRunId,
    budgetUsd,
    spec,
    lineage: {
      dataset_id: ds.id ?? null,
      dataset_dir: ds.dir,
      parent_run_id: parentRunId ?? null,
      parent_relation: parent ? 'resumed' : baseRunId ? 'finetune-base' : null,
      resume_from: resumeFrom ?? null,
      base: req.baseSource && finetune ? req.baseSource.ref : (finetune?.base ?? null),
      ...(req.baseSource && finetune ? {base_revision: req.baseSource.revision, base_dir: finetune.base} : {}),
      config_hash: configHash(settings),
      git,
      seed: trainerSpec.seed,
      preset: trainerSpec.preset,
      backend: backendName,
    },
  };
}
