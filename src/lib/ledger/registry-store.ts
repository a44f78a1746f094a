/**
 * The model registry's tables (migration "model-registry"): versions of named models, the
 * append-only history of alias moves, and which version each deployment served.
 *
 * An alias has no mutable row: its current version is the newest row of its history, and a
 * rollback is a row too (action "rollback"), so every state the alias was in can be explained.
 */
import {nowIso} from '../util/time.js';
import type {Database} from './db.js';

export type VersionSource = 'run' | 'dir' | 'hf';

export interface ModelVersionRow {
  name: string;
  version: number;
  source: VersionSource;
  run_id: string | null;
  dir: string | null;
  hf_ref: string | null;
  created_at: string;
  note: string | null;
}

export interface AliasMoveRow {
  id: number;
  name: string;
  alias: string;
  ts: string;
  action: 'move' | 'rollback';
  from_version: number | null;
  to_version: number;
  reason: string | null;
  actor: string;
  eval_json: string;
}

export interface DeploymentModelRow {
  id: number;
  deployment_id: string;
  ts: string;
  model_ref: string;
  name: string;
  alias: string | null;
  version: number;
}

export class RegistryStore {
  constructor(private readonly db: Database) {}

  /** Adds the next version of NAME (v1 for a new name) and returns it. */
  addVersion(v: {name: string; source: VersionSource; runId?: string | null; dir?: string | null; hfRef?: string | null; note?: string | null}): ModelVersionRow {
    const tx = this.db.transaction(() => {
      const next = (this.db.prepare('SELECT coalesce(max(version), 0) + 1 AS n FROM model_versions WHERE name = ?').get(v.name) as {n: number}).n;
      this.db
        .prepare('INSERT INTO model_versions (name, version, source, run_id, dir, hf_ref, created_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(v.name, next, v.source, v.runId ?? null, v.dir ?? null, v.hfRef ?? null, nowIso(), v.note ?? null);
      return next;
    });
    return this.version(v.name, tx.immediate())!;
  }

  version(name: string, version: number): ModelVersionRow | undefined {
    return this.db.prepare('SELECT * FROM model_versions WHERE name = ? AND version = ?').get(name, version) as ModelVersionRow | undefined;
  }

  versionOfRun(name: string, runId: string): ModelVersionRow | undefined {
    return this.db.prepare('SELECT * FROM model_versions WHERE name = ? AND run_id = ?').get(name, runId) as ModelVersionRow | undefined;
  }

  versionOfSource(name: string, source: VersionSource, ref: string): ModelVersionRow | undefined {
    const col = source === 'hf' ? 'hf_ref' : 'dir';
    return this.db.prepare(`SELECT * FROM model_versions WHERE name = ? AND source = ? AND ${col} = ? ORDER BY version DESC LIMIT 1`).get(name, source, ref) as
      | ModelVersionRow
      | undefined;
  }

  versions(name: string): ModelVersionRow[] {
    return this.db.prepare('SELECT * FROM model_versions WHERE name = ? ORDER BY version').all(name) as ModelVersionRow[];
  }

  /** Every registered version of a run, under any name (lineage). */
  versionsOfRun(runId: string): ModelVersionRow[] {
    return this.db.prepare('SELECT * FROM model_versions WHERE run_id = ? ORDER BY name, version').all(runId) as ModelVersionRow[];
  }

  names(): Array<{name: string; versions: number; latest: number; created_at: string}> {
    return this.db
      .prepare('SELECT name, count(*) AS versions, max(version) AS latest, min(created_at) AS created_at FROM model_versions GROUP BY name ORDER BY name')
      .all() as Array<{name: string; versions: number; latest: number; created_at: string}>;
  }

  appendAliasMove(m: {name: string; alias: string; action: 'move' | 'rollback'; from: number | null; to: number; reason?: string | null; actor?: string; evalSummary?: unknown}): AliasMoveRow {
    const info = this.db
      .prepare('INSERT INTO alias_history (name, alias, ts, action, from_version, to_version, reason, actor, eval_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(m.name, m.alias, nowIso(), m.action, m.from, m.to, m.reason ?? null, m.actor ?? 'cli', JSON.stringify(m.evalSummary ?? {}));
    return this.db.prepare('SELECT * FROM alias_history WHERE id = ?').get(info.lastInsertRowid) as AliasMoveRow;
  }

  /** Oldest first. */
  aliasHistory(name: string, alias?: string): AliasMoveRow[] {
    return (
      alias === undefined
        ? this.db.prepare('SELECT * FROM alias_history WHERE name = ? ORDER BY id').all(name)
        : this.db.prepare('SELECT * FROM alias_history WHERE name = ? AND alias = ? ORDER BY id').all(name, alias)
    ) as AliasMoveRow[];
  }

  lastAliasMove(name: string, alias: string): AliasMoveRow | undefined {
    return this.db.prepare('SELECT * FROM alias_history WHERE name = ? AND alias = ? ORDER BY id DESC LIMIT 1').get(name, alias) as AliasMoveRow | undefined;
  }

  /** The current version of every alias of NAME. */
  aliases(name: string): Array<{alias: string; version: number; ts: string}> {
    return this.db
      .prepare(
        `SELECT alias, to_version AS version, ts FROM alias_history h
         WHERE name = ? AND id = (SELECT max(id) FROM alias_history WHERE name = h.name AND alias = h.alias) ORDER BY alias`,
      )
      .all(name) as Array<{alias: string; version: number; ts: string}>;
  }

  recordDeploymentModel(d: {deploymentId: string; modelRef: string; name: string; alias: string | null; version: number}): void {
    this.db
      .prepare('INSERT INTO deployment_models (deployment_id, ts, model_ref, name, alias, version) VALUES (?, ?, ?, ?, ?, ?)')
      .run(d.deploymentId, nowIso(), d.modelRef, d.name, d.alias, d.version);
  }

  /** Oldest first: what the deployment served, and from when. */
  deploymentModels(deploymentId: string): DeploymentModelRow[] {
    return this.db.prepare('SELECT * FROM deployment_models WHERE deployment_id = ? ORDER BY id').all(deploymentId) as DeploymentModelRow[];
  }
}
