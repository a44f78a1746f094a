/**
 * File-system and SQLite failures of the ledger as user errors: which file, what went wrong, and
 * what to do. A read-only folder, a full disk, damaged pages or a deleted write-ahead log are the
 * user's machine speaking, not a bug in llmops, and each has its own fix.
 */
import {accessSync, constants, existsSync, statfsSync, statSync} from 'node:fs';
import path from 'node:path';
import {LlmopsError} from '../errors.js';

interface CodedError {
  code?: string;
  message?: string;
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** True when the file system holding `dir` has no block left for us. */
function diskFull(dir: string): boolean {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize < 64 * 1024;
  } catch {
    return false;
  }
}

const sizeOf = (f: string) => {
  try {
    return statSync(f).size;
  } catch {
    return -1;
  }
};

/** True when the error is SQLite's or the OS's word about the ledger file (not a bug of ours). */
export function isStorageError(error: unknown): boolean {
  const code = (error as CodedError | undefined)?.code ?? '';
  return /^SQLITE_(READONLY|CANTOPEN|FULL|CORRUPT|NOTADB|IOERR|PERM)/.test(code) || ['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'EIO'].includes(code);
}

/**
 * The user error for a failure on the ledger `file`, or undefined when the error is not about
 * storage (then it stays what it is). `doing` says what llmops was doing ("opening", "writing").
 */
export function ledgerStorageError(file: string, error: unknown, doing = 'using'): LlmopsError | undefined {
  if (error instanceof LlmopsError) return error;
  if (!isStorageError(error)) return undefined;
  const e = error as CodedError;
  const code = e.code ?? '';
  const dir = path.dirname(file);
  const details = {path: file, cause: code};
  const opts = (fix: string) => ({fix: `Try this: ${fix}`, details, cause: error});
  const where = `the ledger ${file}`;

  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC' || code === 'EDQUOT' || (code.startsWith('SQLITE_IOERR') && diskFull(dir))) {
    return new LlmopsError('LEDGER', `The disk holding ${where} is full (${code} while ${doing} it); nothing was recorded by this command.`, opts(`free space on the file system of ${dir} (\`df -h ${dir}\`), then run the command again; the ledger itself is intact.`));
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new LlmopsError('LEDGER', `${where} is damaged (${code}: ${e.message ?? ''}).`, opts(`restore it from a backup, or recover what is readable with \`sqlite3 ${file} ".recover" | sqlite3 ${file}.recovered\` and point LLMOPS_DB at ${file}.recovered; llmops did not modify the file.`));
  }
  const readOnly =
    code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_PERM' ||
    (code.startsWith('SQLITE_CANTOPEN') && (!writable(dir) || (existsSync(file) && !writable(file))));
  if (readOnly) {
    const what = !writable(dir) ? `its folder ${dir} is read-only` : existsSync(file) && !writable(file) ? 'the file is read-only' : 'the file cannot be written';
    return new LlmopsError('LEDGER', `Cannot write ${where}: ${what} (${code}). llmops records every run, cost and dataset there, and keeps its lock files (-wal, -shm) next to it.`, opts(`make ${dir} and the file writable (\`chmod u+w ${dir} ${file}\`, or remount it read-write), or point LLMOPS_DB at a writable copy.`));
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') {
    const wal = `${file}-wal`;
    const shm = `${file}-shm`;
    // SQLite makes a new, empty -wal on open; the -shm still indexes frames of the deleted one.
    if (existsSync(shm) && sizeOf(wal) <= 32 && code === 'SQLITE_IOERR_SHORT_READ') {
      return new LlmopsError('LEDGER', `${where} lost its write-ahead log: ${wal} is missing while ${shm} says it holds recent writes (${code}).`, opts(`stop the llmops processes that use this ledger (\`llmops runs list\` shows running runs), then remove ${shm} and run the command again; writes that were only in the deleted -wal are lost.`));
    }
    return new LlmopsError('LEDGER', `The disk failed while ${doing} ${where} (${code}: ${e.message ?? ''}).`, opts(`check the disk and the file system of ${dir} (\`dmesg\`), and that ${wal} was not removed; then run the command again.`));
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new LlmopsError('LEDGER', `Cannot open ${where} (${code}).`, opts(`check that ${dir} exists and is writable, or point LLMOPS_DB at another file.`));
  }
  return undefined;
}

/**
 * A file-system failure outside the ledger (ENOSPC writing a dataset, EROFS on a run folder) as a
 * user error naming the file; undefined for anything else.
 */
export function fileSystemError(error: unknown, where?: string): LlmopsError | undefined {
  if (error instanceof LlmopsError) return error;
  const e = error as CodedError & {path?: string; syscall?: string};
  const code = e?.code ?? '';
  const target = e?.path ?? where;
  const file = target ? ` ${target}` : '';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new LlmopsError('ENVIRONMENT', `The disk is full: could not write${file} (${code}).`, {fix: `Try this: free space (\`df -h${file ? ` ${path.dirname(target!)}` : ''}\`) and run the command again.`, details: {path: target, cause: code}, cause: error});
  }
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return new LlmopsError('ENVIRONMENT', `Permission denied or read-only file system: could not ${e.syscall ?? 'write'}${file} (${code}).`, {fix: `Try this: make${file || ' the folder'} writable (chmod u+w), or use another folder.`, details: {path: target, cause: code}, cause: error});
  }
  return undefined;
}
