/**
 * Issue 15, items 7-10: the ledger and the files llmops writes, under file-system faults, through
 * the real CLI: a read-only folder or file, a full disk (a tiny tmpfs), damaged pages, a deleted
 * -wal, a ledger truncated to 0 bytes, a `data prep --out` pointed at someone else's folder.
 */
import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, openSync, writeSync, closeSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js';
import {makeProject, withLedger} from '../runtime/helpers.js';
import {CAN_MOUNT, fillDisk, inMountNs, llmops, q, readOnly, tinyDisk} from './helpers.js';

const noBug = (s: string) => {
  expect(s).not.toMatch(/Unexpected error|report .* at|not a readable SQLite database/);
};

describe.skipIf(!CAN_MOUNT)(CAN_MOUNT ? 'ledger under file-system faults (private mount namespace)' : 'ledger faults (skipped: cannot mount here)', () => {
  it('a read-only .llmops folder: exit 10 naming the folder as read-only, with the fix', async () => {
    const p = makeProject();
    const r = await inMountNs(`${readOnly(path.join(p.dir, '.llmops'))} && ${llmops('runs', 'list')}`, {cwd: p.dir});
    expect(r.code).toBe(10);
    noBug(r.stderr);
    expect(r.stderr).toContain(`${p.dir}/.llmops is read-only`);
    expect(r.stderr).toContain('Try this: make');
  });

  it('a read-only ledger file: train fails with exit 10 and leaves no run folder without a ledger row', async () => {
    const p = makeProject();
    const r = await inMountNs(`${readOnly(p.dbFile)} && ${llmops('train', '--max-steps', '2')}`, {cwd: p.dir});
    expect(r.code, r.stderr).toBe(10);
    noBug(r.stderr);
    expect(r.stderr).toContain(p.dbFile);
    expect(r.stderr).toMatch(/read-only/);
    expect(existsSync(path.join(p.dir, 'runs')) ? readdirSync(path.join(p.dir, 'runs')) : []).toEqual([]);
  });

  it('a full disk under the ledger: exit 10, "full", the fix, and the ledger still opens afterwards', async () => {
    const p = makeProject();
    const disk = path.join(p.dir, 'disk');
    // The ledger is created on the tmpfs, then the tmpfs is filled, then a run is launched.
    const db = path.join(disk, 'llmops.db');
    const r = await inMountNs(
      `${tinyDisk(disk, '1m')} && LLMOPS_DB=${q(db)} ${llmops('runs', 'list')} >/dev/null && ${fillDisk(disk)} && LLMOPS_DB=${q(db)} ${llmops('train', '--max-steps', '2', '--dataset', 'data/prepared')}`,
      {cwd: p.dir},
    );
    expect(r.code, r.stderr).toBe(10);
    noBug(r.stderr);
    expect(r.stderr).toContain(`The disk holding the ledger ${db} is full`);
    expect(r.stderr).toContain('Try this: free space');
  });

  it('data prep on a full disk: a user error naming the file, and no prepared.tmp-… folder left', async () => {
    const dir = tempDir('llmops-prep-full-');
    const lines = Array.from({length: 3000}, (_, i) => JSON.stringify({text: `record ${i} ${'lorem ipsum dolor sit amet '.repeat(8)}`}));
    writeFileSync(path.join(dir, 'in.jsonl'), lines.join('\n') + '\n');
    writeFileSync(path.join(dir, 'llmops.yaml'), 'data:\n  out: disk/prepared\n');
    const disk = path.join(dir, 'disk');
    const r = await inMountNs(`${tinyDisk(disk, '256k')} && ${llmops('data', 'prep', '--input', 'in.jsonl')}; echo "left: $(ls -a ${q(disk)} | tr '\\n' ' ')"`, {cwd: dir});
    noBug(r.stderr);
    expect(r.stderr).toMatch(/disk is full|ENOSPC/);
    expect(r.stderr).toContain(disk);
    expect(r.stdout).not.toContain('prepared.tmp-');
  });
});

describe('ledger files refused, not replaced', () => {
  it('a ledger truncated to 0 bytes is refused with the fix and left as it is; a missing one is created', async () => {
    const p = makeProject();
    truncateSync(p.dbFile, 0);
    const r = await runCli(['runs', 'list'], {cwd: p.dir});
    expect(r.code).toBe(10);
    expect(r.stderr).toContain(`${p.dbFile} is empty (0 bytes)`);
    expect(r.stderr).toContain('restore');
    expect(statSync(p.dbFile).size).toBe(0);
    const fresh = path.join(p.dir, 'other', 'new.db');
    const ok = await runCli(['runs', 'list'], {cwd: p.dir, env: {LLMOPS_DB: fresh}});
    expect(ok.code, ok.stderr).toBe(0);
    expect(statSync(fresh).size).toBeGreaterThan(0);
  });

  it('damaged pages: exit 10 "damaged" with a recovery command, not a bug report', async () => {
    const p = makeProject();
    withLedger(p.dbFile, (l) => l.checkpoint());
    const size = statSync(p.dbFile).size;
    const fd = openSync(p.dbFile, 'r+');
    // Every page after the schema page overwritten: the tables' b-trees no longer parse.
    writeSync(fd, Buffer.alloc(size - 4096, 0xa5), 0, size - 4096, 4096);
    closeSync(fd);
    const r = await runCli(['runs', 'list'], {cwd: p.dir});
    expect(r.code, r.stderr).toBe(10);
    noBug(r.stderr);
    expect(r.stderr).toContain(`the ledger ${p.dbFile} is damaged`);
    expect(r.stderr).toContain('.recover');
  });

  it('a deleted -wal under a process that holds the ledger open: exit 10 naming the -wal and the fix', async () => {
    const p = makeProject();
    // A real second process writes to the ledger without checkpointing, then the -wal is deleted.
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `
      const {createRequire} = await import('node:module');
      const Database = createRequire(${JSON.stringify(path.join(REPO_ROOT, 'package.json'))})('better-sqlite3');
      const fs = await import('node:fs');
      const db = new Database(${JSON.stringify(p.dbFile)});
      db.pragma('wal_autocheckpoint = 0');
      for (let i = 0; i < 50; i++) db.prepare("INSERT INTO run_events (run_id, ts, type, data_json) VALUES ('x', 'now', 'x', ?)").run('y'.repeat(2000));
      fs.unlinkSync(${JSON.stringify(p.dbFile + '-wal')});
      process.stdout.write('ready\\n');
      setTimeout(() => {}, 60000);`], {stdio: ['ignore', 'pipe', 'inherit']});
    try {
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      const r = await runCli(['runs', 'list'], {cwd: p.dir});
      expect(r.code, r.stderr).toBe(10);
      noBug(r.stderr);
      expect(r.stderr).toContain(`${p.dbFile}-wal is missing`);
      expect(r.stderr).toContain('Try this: stop the llmops processes');
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

describe('data prep --out', () => {
  const setup = () => {
    const dir = tempDir('llmops-prep-out-');
    writeFileSync(path.join(dir, 'in.jsonl'), Array.from({length: 40}, (_, i) => JSON.stringify({text: `a record number ${i} with enough words to pass the quality filters of data prep`})).join('\n') + '\n');
    writeFileSync(path.join(dir, 'llmops.yaml'), 'data: {}\n');
    return dir;
  };

  it('refuses a non-empty folder that llmops did not make, and leaves its files alone; --force writes', async () => {
    const dir = setup();
    const home = path.join(dir, 'home');
    mkdirSync(home);
    writeFileSync(path.join(home, 'manifest.json'), '{"mine": true}\n');
    writeFileSync(path.join(home, 'card.md'), 'my card\n');
    const r = await runCli(['data', 'prep', '--input', 'in.jsonl', '--out', home], {cwd: dir});
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`--out ${home} is not empty and is not a dataset folder made by llmops`);
    expect(r.stderr).toContain('--force');
    expect(readFileSync(path.join(home, 'manifest.json'), 'utf8')).toBe('{"mine": true}\n');
    expect(readFileSync(path.join(home, 'card.md'), 'utf8')).toBe('my card\n');
    const rootTry = await runCli(['data', 'prep', '--input', 'in.jsonl', '--out', '/'], {cwd: dir});
    expect(rootTry.code).toBe(2);
    const forced = await runCli(['data', 'prep', '--input', 'in.jsonl', '--out', home, '--force'], {cwd: dir});
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(path.join(home, '.llmops-dataset'))).toBe(true);
  });

  it('an empty folder, a new one, and its own earlier output are accepted', async () => {
    const dir = setup();
    mkdirSync(path.join(dir, 'empty'));
    expect((await runCli(['data', 'prep', '--input', 'in.jsonl', '--out', 'empty'], {cwd: dir})).code).toBe(0);
    expect((await runCli(['data', 'prep', '--input', 'in.jsonl', '--out', 'empty'], {cwd: dir})).code).toBe(0);
    expect((await runCli(['data', 'prep', '--input', 'in.jsonl', '--out', 'new/dir'], {cwd: dir})).code).toBe(0);
  });
});

describe.skipIf(!CAN_MOUNT)(CAN_MOUNT ? 'a running supervisor meets a full disk (SQLITE_FULL on a small tmpfs)' : 'a running supervisor on a full disk (skipped: mount -t tmpfs is not permitted here)', () => {
  it('the supervisor ends with a user error naming the ledger, "full" and the fix; once space is freed the run is settled with that reason, never left queued or running', async () => {
    const p = makeProject();
    const disk = path.join(p.dir, 'disk');
    const db = path.join(disk, 'llmops.db');
    // The ledger alone on a 2 MB tmpfs (the run folder stays on the real disk, so the trainer is
    // unaffected); the run starts, then the tmpfs is filled while its supervisor is at work.
    const script = [
      `${tinyDisk(disk, '2m')} && cp ${q(p.dbFile)} ${q(db)}`,
      `export LLMOPS_DB=${q(db)}`,
      `id=$(${llmops('train', '--max-steps', '100000', '--detach', '--json')} | sed -n 's/.*"id": *"\\([^"]*\\)".*/\\1/p' | head -1)`,
      `echo "id=$id"`,
      `for i in $(seq 120); do grep -q '"metric"' .llmops/runs/$id/events.jsonl 2>/dev/null && break; sleep 0.5; done`,
      fillDisk(disk),
      // The supervisor meets SQLITE_FULL at its next write and must end; wait for it (60 s at most).
      `for i in $(seq 120); do pgrep -f "supervisor-main.js $id" >/dev/null || break; sleep 0.5; done`,
      `pgrep -f "supervisor-main.js $id" >/dev/null && echo "supervisor still running"`,
      // It stopped the run (its cost could no longer be kept): wait for the trainer to checkpoint and end.
      `for i in $(seq 120); do pgrep -f "$id" >/dev/null || break; sleep 0.5; done`,
      `pgrep -f "$id" >/dev/null && echo "run still running"`,
      `echo "--- while full:"; ${llmops('runs', 'list')} >/dev/null 2>full.err; echo "code=$?"`,
      `rm -f ${q(disk)}/.filler`,
      `echo "--- freed:"; ${llmops('runs', 'list', '--json', '--limit', '0')} > list.json; echo "code=$?"`,
    ].join('\n');
    const r = await inMountNs(script, {cwd: p.dir});
    const id = /id=(\S+)/.exec(r.stdout)?.[1];
    expect(id, r.stdout + r.stderr).toBeTruthy();
    expect(r.stdout).not.toContain('supervisor still running');
    expect(r.stdout).not.toContain('run still running');
    const runDir = path.join(p.dir, '.llmops', 'runs', id!);
    const supLog = readFileSync(path.join(runDir, 'logs', 'supervisor.log'), 'utf8');
    // The supervisor's last word is a user error: the file, the cause, the fix (not a stack trace of a bug).
    expect(supLog).toContain(`The disk holding the ledger ${db} is full`);
    expect(supLog).toContain('Try this: free space');
    const crash = JSON.parse(readFileSync(path.join(runDir, 'supervisor-error.json'), 'utf8')) as {reason: string};
    expect(crash.reason).toContain(`${db} is full`);
    // While the disk is full, `runs list` says so as a user error (exit 10), not a bug report.
    const fullErr = readFileSync(path.join(p.dir, 'full.err'), 'utf8');
    if (!/code=0/.test(r.stdout.split('--- while full:')[1] ?? '')) {
      expect(fullErr).toContain('is full');
      noBug(fullErr);
    }
    // Space freed: the run is settled in a final state whose reason names the full disk.
    const listed = JSON.parse(readFileSync(path.join(p.dir, 'list.json'), 'utf8')) as {runs: Array<{id: string; status: string; reason: string | null}>};
    const row = listed.runs.find((x) => x.id === id)!;
    expect(['failed', 'stopped']).toContain(row.status);
    expect(row.reason).toContain('is full');
    expect(row.reason).toContain('Try this: free space');
  }, 180_000);
});
