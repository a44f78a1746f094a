/**
 * A second, plain better-sqlite3 connection to a ledger's file, for tests that check what was
 * stored independently of the ledger's own queries (or write fixture rows in bulk). The ledger
 * keeps its handle private; a test reads the file as any SQLite client would.
 */
import Database from 'better-sqlite3';

const open = new Map<string, Database.Database>();

export function sqlite(ledgerOrFile: {file: string} | string): Database.Database {
  const file = typeof ledgerOrFile === 'string' ? ledgerOrFile : ledgerOrFile.file;
  let db = open.get(file);
  if (!db || !db.open) {
    db = new Database(file);
    db.pragma('busy_timeout = 10000');
    open.set(file, db);
  }
  return db;
}
