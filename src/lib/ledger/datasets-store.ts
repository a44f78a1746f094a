/** Prepared datasets (one row per content-addressed dataset id). */
import {nowIso} from '../util/time.js';
import type {Database} from './db.js';
import type {DatasetRow} from './types.js';

export class DatasetsStore {
  constructor(private readonly db: Database) {}

  upsert(d: {id: string; path: string; manifestSha256: string; manifest: unknown; records: number; kind: string}): void {
    this.db
      .prepare(
        `INSERT INTO datasets (id, created_at, path, manifest_sha256, manifest_json, records, kind)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET path = excluded.path`,
      )
      .run(d.id, nowIso(), d.path, d.manifestSha256, JSON.stringify(d.manifest), d.records, d.kind);
  }

  /** Exact id, or a unique prefix of one. */
  get(id: string): DatasetRow | undefined {
    const exact = this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as DatasetRow | undefined;
    if (exact || id.length < 4) return exact;
    const rows = this.db.prepare('SELECT * FROM datasets WHERE id LIKE ? LIMIT 2').all(id.replaceAll(/[%_]/g, '') + '%') as DatasetRow[];
    return rows.length === 1 ? rows[0] : undefined;
  }

  latest(kind?: string): DatasetRow | undefined {
    return (
      kind
        ? this.db.prepare('SELECT * FROM datasets WHERE kind = ? ORDER BY created_at DESC, rowid DESC LIMIT 1').get(kind)
        : this.db.prepare('SELECT * FROM datasets ORDER BY created_at DESC, rowid DESC LIMIT 1').get()
    ) as DatasetRow | undefined;
  }

  list(): DatasetRow[] {
    return this.db.prepare('SELECT * FROM datasets ORDER BY created_at DESC').all() as DatasetRow[];
  }
}
