/**
 * Opening the ledger: one SQLite file per project, WAL, a busy timeout, migrations on open.
 *
 * Before anything writes to the file we check that it is SQLite at all and that its schema is not
 * newer than ours: either problem is reported and the file is left byte-for-byte untouched
 * (setting WAL or migrating would otherwise rewrite its header).
 */
import {closeSync, existsSync, linkSync, mkdirSync, openSync, readSync, rmSync, statSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import {LlmopsError} from '../errors.js';
import {ledgerStorageError} from './fs-errors.js';
import {LATEST_SCHEMA_VERSION, migrations} from './migrations.js';

export type Database = BetterSqlite3.Database;

/** Milliseconds a writer waits for the lock before SQLITE_BUSY (8 concurrent writers: 0 errors). */
export const BUSY_TIMEOUT_MS = 10_000;

const SQLITE_MAGIC = 'SQLite format 3\0';

export interface OpenOptions {
  /** Open without creating or migrating (read-only commands). A missing file is then empty. */
  readonly?: boolean;
}

// better-sqlite3 is a native addon that costs ~70 ms to load: load it only when a ledger is opened.
const require = createRequire(import.meta.url);
let DatabaseCtor: typeof BetterSqlite3 | undefined;
function sqlite(): typeof BetterSqlite3 {
  DatabaseCtor ??= require('better-sqlite3') as typeof BetterSqlite3;
  return DatabaseCtor;
}

// Naming the compiled addon directly skips the `bindings` package's search of a dozen candidate
// paths on every start (measured 4-40 ms of `llmops runs list`; docs/benchmarks.md).
let addonPath: string | null | undefined;
function nativeBinding(): {nativeBinding?: string} {
  if (addonPath === undefined) {
    try {
      const candidate = path.join(path.dirname(require.resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
      addonPath = existsSync(candidate) ? candidate : null;
    } catch {
      addonPath = null;
    }
  }
  return addonPath ? {nativeBinding: addonPath} : {};
}

function checkHeader(file: string): void {
  const size = statSync(file).size;
  if (size === 0) {
    // llmops creates a ledger whole (createLedger), so an empty file is one that lost its content:
    // starting a new history on top of it would hide that loss.
    throw new LlmopsError('LEDGER', `${file} is empty (0 bytes): the ledger's history is gone (truncated, or a copy that failed).`, {
      fix: `Try this: restore ${file} from a backup; to start a new, empty ledger on purpose, delete the empty file (\`rm ${file}\`). The file was not modified.`,
      details: {path: file, sizeBytes: 0},
    });
  }
  if (size < 100) {
    throw new LlmopsError('LEDGER', `${file} is damaged: ${size} bytes is shorter than an SQLite header.`, {
      fix: 'Try this: restore it from a backup, or point LLMOPS_DB or ledger.path in llmops.yaml at another file; the file was not modified.',
      details: {path: file, sizeBytes: size},
    });
  }
  const buf = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (buf.toString('latin1') !== SQLITE_MAGIC) {
    throw new LlmopsError('LEDGER', `${file} is not an SQLite database, so it cannot be the llmops ledger.`, {
      fix: 'Try this: point LLMOPS_DB or ledger.path in llmops.yaml at another file; the file was not modified.',
      details: {path: file},
    });
  }
}

function checkVersion(db: Database, file: string): number {
  const version = db.pragma('user_version', {simple: true}) as number;
  if (version > LATEST_SCHEMA_VERSION) {
    db.close();
    throw new LlmopsError(
      'LEDGER',
      `${file} was written by a newer llmops (ledger schema ${version}; this llmops knows up to ${LATEST_SCHEMA_VERSION}).`,
      {
        fix: 'Try this: upgrade llmops (npm install -g llmops@latest); the ledger was not modified.',
        details: {path: file, schemaVersion: version, supported: LATEST_SCHEMA_VERSION},
      },
    );
  }
  return version;
}

export function openLedgerDb(file: string, opts: OpenOptions = {}): Database {
  try {
    return openOrCreate(file, opts);
  } catch (error) {
    throw ledgerStorageError(file, error, 'opening') ?? error;
  }
}

/**
 * A new ledger is built under a temporary name and linked into place, so that no other process
 * ever sees a half-made (empty) ledger, and two first commands racing on a new project agree.
 */
function createLedger(file: string): void {
  const Ctor = sqlite();
  mkdirSync(path.dirname(file), {recursive: true});
  const tmp = `${file}.new-${process.pid}`;
  try {
    const db = new Ctor(tmp, nativeBinding());
    db.pragma('journal_mode = WAL');
    migrate(db);
    db.close();
    try {
      linkSync(tmp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  } finally {
    for (const s of ['', '-wal', '-shm', '-journal']) rmSync(tmp + s, {force: true});
  }
}

function openOrCreate(file: string, opts: OpenOptions): Database {
  const Ctor = sqlite();
  const exists = existsSync(file);
  if (exists) checkHeader(file);
  if (opts.readonly && !exists) {
    // Nothing recorded yet: an in-memory database with the schema answers every query with nothing.
    const mem = new Ctor(':memory:', nativeBinding());
    migrate(mem);
    return mem;
  }
  if (exists) {
    // Check the version on a read-only handle first, so that a newer ledger is never touched.
    let probe: Database;
    try {
      probe = new Ctor(file, {readonly: true, fileMustExist: true, ...nativeBinding()});
    } catch (error) {
      const storage = ledgerStorageError(file, error, 'opening');
      if (storage) throw storage;
      throw new LlmopsError('LEDGER', `${file} cannot be opened as an SQLite database: ${(error as Error).message}`, {
        fix: 'Try this: point LLMOPS_DB or ledger.path at another file; this one was not modified.',
        cause: error,
      });
    }
    try {
      probe.pragma('busy_timeout = ' + BUSY_TIMEOUT_MS);
      checkVersion(probe, file);
    } catch (error) {
      if (error instanceof LlmopsError) throw error;
      const storage = ledgerStorageError(file, error, 'opening');
      if (storage) throw storage;
      throw new LlmopsError('LEDGER', `${file} is not a readable SQLite database: ${(error as Error).message}`, {
        fix: 'Try this: point LLMOPS_DB or ledger.path at another file; this one was not modified.',
        cause: error,
      });
    } finally {
      if (probe.open) probe.close();
    }
  } else {
    createLedger(file);
    checkHeader(file);
  }
  if (opts.readonly) {
    const db = new Ctor(file, {readonly: true, fileMustExist: true, ...nativeBinding()});
    db.pragma('busy_timeout = ' + BUSY_TIMEOUT_MS);
    if ((db.pragma('user_version', {simple: true}) as number) < LATEST_SCHEMA_VERSION) {
      // An older ledger: migrate through a writable handle once, then read.
      db.close();
      openLedgerDb(file).close();
      return openLedgerDb(file, opts);
    }
    return db;
  }
  const db = new Ctor(file, nativeBinding());
  db.pragma('busy_timeout = ' + BUSY_TIMEOUT_MS);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/** Runs the pending migrations, each in an IMMEDIATE transaction so concurrent openers serialise. */
export function migrate(db: Database): number {
  for (const m of migrations) {
    const apply = db.transaction(() => {
      const current = db.pragma('user_version', {simple: true}) as number;
      if (current >= m.version) return;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
    apply.immediate();
  }
  return db.pragma('user_version', {simple: true}) as number;
}

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', {simple: true}) as number;
}

/**
 * The schema version written in a ledger file, read without creating, migrating or locking it;
 * null when there is no file (`llmops version` reports it for bug reports and must never fail).
 */
export function fileSchemaVersion(file: string): number | null {
  if (!existsSync(file)) return null;
  checkHeader(file);
  const db = new (sqlite())(file, {readonly: true, fileMustExist: true, ...nativeBinding()});
  try {
    return schemaVersion(db);
  } finally {
    db.close();
  }
}
