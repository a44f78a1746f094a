/**
 * Container images built by `llmops image build`: one row per image (tag, engine, target, size,
 * base, the model baked in, if any). Reached through `ledger.images`.
 */
import type {Database} from './db.js';

export interface ImageRow {
  id: number;
  image_id: string;
  tag: string;
  target: 'server' | 'trainer';
  engine: string;
  base: string;
  size_bytes: number;
  llmops_version: string;
  model_run_id: string | null;
  model_sha256: string | null;
  build_seconds: number;
  created_at: string;
}

export class ImageStore {
  constructor(private readonly db: Database) {}

  insert(row: Omit<ImageRow, 'id'>): void {
    this.db
      .prepare(
        `INSERT INTO images (image_id, tag, target, engine, base, size_bytes, llmops_version, model_run_id, model_sha256, build_seconds, created_at)
         VALUES (@image_id, @tag, @target, @engine, @base, @size_bytes, @llmops_version, @model_run_id, @model_sha256, @build_seconds, @created_at)`,
      )
      .run(row);
  }

  /** Newest first; with `target`, only images of that kind. */
  list(target?: ImageRow['target'], limit = 100): ImageRow[] {
    return (
      target
        ? this.db.prepare('SELECT * FROM images WHERE target = ? ORDER BY id DESC LIMIT ?').all(target, limit)
        : this.db.prepare('SELECT * FROM images ORDER BY id DESC LIMIT ?').all(limit)
    ) as ImageRow[];
  }

  /** The newest image built for `target`. */
  latest(target: ImageRow['target']): ImageRow | undefined {
    return this.list(target, 1)[0];
  }

  byTag(tag: string): ImageRow | undefined {
    return this.db.prepare('SELECT * FROM images WHERE tag = ? ORDER BY id DESC LIMIT 1').get(tag) as ImageRow | undefined;
  }
}
