/**
 * The model registry: named models whose versions are runs, folders or hf: refs, and aliases
 * (prod, staging) that point at one version each. Every alias move is appended to its history with
 * the reason and the eval summary it was made with; a rollback undoes the newest move that is
 * still in force.
 */
import {existsSync, statSync} from 'node:fs';
import path from 'node:path';
import {inputError, notFoundError, usageError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import type {AliasMoveRow, ModelVersionRow} from '../ledger/registry-store.js';
import {isValidAlias, isValidName, parseModelRef} from './refs.js';
import {runModelDir} from './resolve.js';

export interface VersionInfo {
  version: number;
  label: string;
  source: ModelVersionRow['source'];
  runId: string | null;
  dir: string | null;
  hfRef: string | null;
  createdAt: string;
  aliases: string[];
}

export interface AliasMove {
  ts: string;
  alias: string;
  action: 'move' | 'rollback';
  from: string | null;
  to: string;
  reason: string | null;
  actor: string;
  eval: Record<string, unknown>;
}

export interface ModelInfo {
  name: string;
  versions: VersionInfo[];
  aliases: Record<string, {version: string; since: string}>;
  history: AliasMove[];
}

const label = (v: number | null) => (v === null ? null : `v${v}`);

function checkName(name: string): void {
  if (!isValidName(name)) {
    throw usageError(`"${name}" is not a valid model name.`, {fix: 'Try this: letters, digits, ".", "_" and "-", starting with a letter or digit (e.g. chat).'});
  }
}

export function moveFromRow(r: AliasMoveRow): AliasMove {
  return {ts: r.ts, alias: r.alias, action: r.action, from: label(r.from_version), to: label(r.to_version)!, reason: r.reason, actor: r.actor, eval: JSON.parse(r.eval_json) as Record<string, unknown>};
}

/**
 * Registers SOURCE (a run id, a model folder, or hf:OWNER/NAME) as the next version of NAME. A
 * source already registered under NAME returns its version (created: false).
 */
export function registerModel(ledger: Ledger, root: string, name: string, source: string, note?: string): {version: ModelVersionRow; created: boolean} {
  checkName(name);
  const reg = ledger.registry;
  if (source.startsWith('hf:')) {
    if (!/^hf:[\w.-]+\/[\w.-]+(@[\w./-]+)?$/.test(source)) throw usageError(`${source}: expected hf:OWNER/NAME.`, {fix: 'Try this: hf:HuggingFaceTB/SmolLM2-135M-Instruct'});
    const had = reg.versionOfSource(name, 'hf', source);
    return had ? {version: had, created: false} : {version: reg.addVersion({name, source: 'hf', hfRef: source, note}), created: true};
  }
  const asDir = path.resolve(root, source);
  if (existsSync(asDir) && statSync(asDir).isDirectory()) {
    if (!existsSync(path.join(asDir, 'config.json'))) {
      throw inputError(`${asDir} has no config.json, so it is not a model folder.`, {fix: 'Try this: point at an exported model folder (RUN_DIR/model) or register the run id.'});
    }
    const had = reg.versionOfSource(name, 'dir', asDir);
    return had ? {version: had, created: false} : {version: reg.addVersion({name, source: 'dir', dir: asDir, note}), created: true};
  }
  const run = ledger.findRun(source);
  if (!run) {
    throw notFoundError(`"${source}" is neither a run id in the ledger, a model folder, nor hf:OWNER/NAME.`, {fix: 'Try this: `llmops runs list --status succeeded` for run ids.'});
  }
  const had = reg.versionOfRun(name, run.id);
  if (had) return {version: had, created: false};
  if (!existsSync(path.join(runModelDir(run.run_dir), 'config.json'))) {
    throw inputError(`Run ${run.id} (${run.status}) has no exported model (${runModelDir(run.run_dir)}).`, {
      fix: `Try this: \`llmops export ${run.id}\` if it has checkpoints, or register a run that succeeded.`,
    });
  }
  return {version: reg.addVersion({name, source: 'run', runId: run.id, note}), created: true};
}

/** VERSION of `models alias`: vN, N, a run id (registered under NAME if new), or a folder / hf: ref. */
export function versionFor(ledger: Ledger, root: string, name: string, spec: string): {version: ModelVersionRow; created: boolean} {
  const m = /^v?(\d+)$/.exec(spec);
  if (m && !ledger.findRun(spec)) {
    const v = ledger.registry.version(name, Number(m[1]));
    if (!v) throw notFoundError(`${name} has no version v${m[1]}.`, {fix: `Try this: \`llmops models show ${name}\` lists its versions.`});
    return {version: v, created: false};
  }
  return registerModel(ledger, root, name, spec);
}

export function parseAliasRef(ref: string): {name: string; alias: string} {
  const p = parseModelRef(ref);
  if (!p || p.alias === undefined || !isValidAlias(p.alias)) {
    throw usageError(`"${ref}" is not NAME@ALIAS.`, {fix: 'Try this: chat@prod (an alias is a name such as prod or staging; not vN, not latest).'});
  }
  return {name: p.name, alias: p.alias};
}

/** Points NAME@ALIAS at a version; a no-op (moved: false) when it already points there. */
export function moveAlias(
  ledger: Ledger,
  m: {name: string; alias: string; version: number; reason?: string | null; actor?: string; evalSummary?: unknown},
): {moved: boolean; from: number | null; to: number} {
  const reg = ledger.registry;
  if (!reg.version(m.name, m.version)) throw notFoundError(`${m.name} has no version v${m.version}.`);
  const cur = reg.lastAliasMove(m.name, m.alias);
  const from = cur?.to_version ?? null;
  if (from === m.version) return {moved: false, from, to: m.version};
  reg.appendAliasMove({name: m.name, alias: m.alias, action: 'move', from, to: m.version, reason: m.reason ?? null, actor: m.actor, evalSummary: m.evalSummary});
  return {moved: true, from, to: m.version};
}

/**
 * The versions the alias went through that are still "on the stack": each move pushes, each
 * rollback pops. Rolling back twice goes back two steps, not back and forth.
 */
export function aliasStack(history: AliasMoveRow[]): number[] {
  const stack: number[] = [];
  for (const h of history) {
    if (h.action === 'rollback') stack.pop();
    else stack.push(h.to_version);
  }
  return stack;
}

export function rollbackAlias(ledger: Ledger, name: string, alias: string, reason?: string): {from: number; to: number} {
  const reg = ledger.registry;
  const history = reg.aliasHistory(name, alias);
  if (history.length === 0) throw notFoundError(`${name}@${alias} does not exist.`, {fix: `Try this: \`llmops models show ${name}\`.`});
  const stack = aliasStack(history);
  if (stack.length < 2) {
    throw usageError(`${name}@${alias} has no earlier version to go back to (it has only ever pointed at v${stack[0] ?? history.at(-1)!.to_version} since its history began).`, {
      fix: `Try this: \`llmops models alias ${name}@${alias} vN\` to point it somewhere else.`,
    });
  }
  const from = stack.at(-1)!;
  const to = stack.at(-2)!;
  const restored = [...history].reverse().find((h) => h.action === 'move' && h.to_version === to);
  reg.appendAliasMove({name, alias, action: 'rollback', from, to, reason: reason ?? `rollback from v${from}`, evalSummary: restored ? JSON.parse(restored.eval_json) : {}});
  return {from, to};
}

export function showModel(ledger: Ledger, name: string): ModelInfo {
  const reg = ledger.registry;
  const versions = reg.versions(name);
  if (versions.length === 0) {
    throw notFoundError(`No model named "${name}" in the registry.`, {fix: `Try this: \`llmops models list\`, or \`llmops models register ${name} RUN_ID\`.`});
  }
  const aliases = reg.aliases(name);
  return {
    name,
    versions: versions.map((v) => ({
      version: v.version,
      label: `v${v.version}`,
      source: v.source,
      runId: v.run_id,
      dir: v.dir,
      hfRef: v.hf_ref,
      createdAt: v.created_at,
      aliases: aliases.filter((a) => a.version === v.version).map((a) => a.alias),
    })),
    aliases: Object.fromEntries(aliases.map((a) => [a.alias, {version: `v${a.version}`, since: a.ts}])),
    history: reg.aliasHistory(name).map(moveFromRow),
  };
}

export function listModels(ledger: Ledger): Array<{name: string; versions: number; latest: string; aliases: Record<string, string>}> {
  const reg = ledger.registry;
  return reg.names().map((n) => ({
    name: n.name,
    versions: n.versions,
    latest: `v${n.latest}`,
    aliases: Object.fromEntries(reg.aliases(n.name).map((a) => [a.alias, `v${a.version}`])),
  }));
}
