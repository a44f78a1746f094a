/**
 * One resolver for every place that takes a model: `deploy --model`, `eval --model`,
 * `finetune --base`, `push`, and the pipeline. NAME@ALIAS and NAME@vN go through the registry;
 * a folder, a run id and hf:OWNER/NAME are passed through as they are.
 */
import {existsSync, statSync} from 'node:fs';
import path from 'node:path';
import {notFoundError} from '../errors.js';
import type {Ledger} from '../ledger/ledger.js';
import type {ModelVersionRow} from '../ledger/registry-store.js';
import {formatRef, parseModelRef, type ModelRef} from './refs.js';

export interface ResolvedModel {
  /** The model folder (a run's exported model/, or a registered folder). */
  dir?: string;
  runId?: string;
  /** hf:OWNER/NAME, for the caller to download. */
  hfRef?: string;
  /** Set when the reference went through the registry. */
  version?: {name: string; version: number; alias?: string; ref: string};
}

/** A run's exported model folder. */
export function runModelDir(runDir: string): string {
  return path.join(runDir, 'model');
}

/** What a registered version points at. */
export function versionTarget(ledger: Ledger, v: ModelVersionRow): Omit<ResolvedModel, 'version'> {
  if (v.source === 'hf') return {hfRef: v.hf_ref!};
  if (v.source === 'dir') return {dir: v.dir!};
  const run = ledger.findRun(v.run_id!);
  return {runId: v.run_id!, dir: runModelDir(run?.run_dir ?? '')};
}

/** The version a registry reference names now (an alias's current version), or an error that says what exists. */
export function lookupVersion(ledger: Ledger, ref: ModelRef): ModelVersionRow {
  const reg = ledger.registry;
  const versions = reg.versions(ref.name);
  if (versions.length === 0) {
    const names = reg.names().map((n) => n.name);
    throw notFoundError(`No model named "${ref.name}" in the registry.`, {
      fix: names.length > 0 ? `Try this: one of ${names.join(', ')} (\`llmops models list\`).` : `Try this: \`llmops models register ${ref.name} RUN_ID\` first.`,
    });
  }
  if (ref.version !== undefined) {
    const v = versions.find((x) => x.version === ref.version);
    if (!v) throw notFoundError(`${formatRef(ref)}: ${ref.name} has versions v1..v${versions.at(-1)!.version}.`, {fix: `Try this: \`llmops models show ${ref.name}\`.`});
    return v;
  }
  if (ref.alias === 'latest') return versions.at(-1)!;
  const move = reg.lastAliasMove(ref.name, ref.alias!);
  if (!move) {
    const aliases = reg.aliases(ref.name).map((a) => a.alias);
    throw notFoundError(`${formatRef(ref)}: ${ref.name} has no alias "${ref.alias}"${aliases.length > 0 ? ` (its aliases: ${aliases.join(', ')})` : ''}.`, {
      fix: `Try this: \`llmops models alias ${ref.name}@${ref.alias} v${versions.at(-1)!.version}\`, or ${ref.name}@latest.`,
    });
  }
  return versions.find((x) => x.version === move.to_version)!;
}

/**
 * RUN_ID | DIR | hf:OWNER/NAME | NAME@ALIAS | NAME@vN -> what it names. A folder that exists wins
 * over a registry reference of the same spelling. `root` resolves relative folders.
 */
export function resolveModelRef(ledger: Ledger, root: string, ref: string): ResolvedModel {
  if (ref.startsWith('hf:')) return {hfRef: ref};
  const asDir = path.resolve(root, ref);
  if (existsSync(asDir) && statSync(asDir).isDirectory()) return {dir: asDir};
  const parsed = parseModelRef(ref);
  if (parsed) {
    const v = lookupVersion(ledger, parsed);
    return {...versionTarget(ledger, v), version: {name: v.name, version: v.version, ...(parsed.alias ? {alias: parsed.alias} : {}), ref}};
  }
  const run = ledger.findRun(ref);
  if (run) return {runId: run.id, dir: runModelDir(run.run_dir)};
  throw notFoundError(`"${ref}" is not a model folder, a run id, hf:OWNER/NAME, or NAME@ALIAS / NAME@vN of the registry.`, {
    fix: 'Try this: `llmops models list`, `llmops runs list`, or the path of an exported model folder.',
  });
}

/** True when `ref` would go through the registry (and is not an existing folder). */
export function isRegistryRef(root: string, ref: string): boolean {
  if (!parseModelRef(ref)) return false;
  const asDir = path.resolve(root, ref);
  return !(existsSync(asDir) && statSync(asDir).isDirectory());
}

/** When a deployment was started from NAME@ALIAS or NAME@vN, records the version it serves. */
export function recordServedVersion(ledger: Ledger, deploymentId: string, ref: string, root: string): ResolvedModel['version'] | undefined {
  if (!isRegistryRef(root, ref)) return undefined;
  const r = resolveModelRef(ledger, root, ref);
  if (!r.version) return undefined;
  ledger.registry.recordDeploymentModel({deploymentId, modelRef: ref, name: r.version.name, alias: r.version.alias ?? null, version: r.version.version});
  return r.version;
}

/** A finetune base as the runtime takes it (RUN_ID, folder or hf:...), from any model reference. */
export function baseFromRegistry(ledger: Ledger, root: string, base: string | undefined): string | undefined {
  if (!base || !isRegistryRef(root, base)) return base;
  const r = resolveModelRef(ledger, root, base);
  return r.hfRef ?? r.runId ?? r.dir;
}
