/**
 * Issue 15, item 6: Ctrl-C in an attached `train`, in a real terminal (tmux, as `monitor --watch`
 * is tested): the terminal keeps isig, Ctrl-C asks "stop or leave running?", waits, and does what
 * was chosen; a second Ctrl-C stops. Without a TTY, SIGTERM stops the run gracefully.
 */
import {execFileSync} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {BIN, spawnCli} from '../helpers/cli.js';
import {latestRun, makeProject, maxStep, waitFinal, waitFor} from '../runtime/helpers.js';

const HAVE_TMUX = existsSync('/usr/bin/tmux');
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', 'llmops-faults-test', ...args], {encoding: 'utf8'});

describe.skipIf(!HAVE_TMUX)(HAVE_TMUX ? 'Ctrl-C in an attached train (tmux)' : 'Ctrl-C (skipped: no tmux)', () => {
  afterEach(() => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
  });

  it('keeps isig on, asks, waits for the answer, and stops the run when told to (exit 12)', async () => {
    const p = makeProject();
    const done = path.join(p.dir, 'done');
    tmux('new-session', '-d', '-s', 'tr', '-x', '150', '-y', '40', `cd ${p.dir} && env -u CI NO_COLOR=1 node ${BIN} train --max-steps 100000; echo EXIT=$? > ${done}; sleep 60`);
    const run = await waitFor('the run to start', () => {
      const r = latestRun(p.dbFile);
      return r && r.status === 'running' && maxStep(p.dbFile, r.id) >= 2 ? r : undefined;
    }, 90_000);
    const tty = tmux('display', '-p', '-t', 'tr', '#{pane_tty}').trim();
    expect(execFileSync('stty', ['-F', tty, '-a'], {encoding: 'utf8'})).toMatch(/(^|\s)isig(\s|$)/);
    tmux('send-keys', '-t', 'tr', 'C-c');
    await waitFor('the question', () => tmux('capture-pane', '-p', '-t', 'tr').includes('leave it running in the background?'), 20_000);
    // It waits for the answer: the run is still going a few seconds later.
    const before = maxStep(p.dbFile, run.id);
    await waitFor('more steps while asking', () => maxStep(p.dbFile, run.id) > before + 2, 30_000);
    expect(existsSync(done)).toBe(false);
    tmux('send-keys', '-t', 'tr', 'Down');
    tmux('send-keys', '-t', 'tr', 'Enter');
    await waitFor('the CLI to exit', () => existsSync(done), 90_000);
    expect(readFileSync(done, 'utf8').trim()).toBe('EXIT=12');
    expect((await waitFinal(p.dbFile, run.id)).status).toBe('stopped');
  });

  it('a second Ctrl-C while asking stops the run', async () => {
    const p = makeProject();
    const done = path.join(p.dir, 'done');
    tmux('new-session', '-d', '-s', 'tr2', '-x', '150', '-y', '40', `cd ${p.dir} && env -u CI NO_COLOR=1 node ${BIN} train --max-steps 100000; echo EXIT=$? > ${done}; sleep 60`);
    const run = await waitFor('the run to start', () => {
      const r = latestRun(p.dbFile);
      return r && r.status === 'running' && maxStep(p.dbFile, r.id) >= 2 ? r : undefined;
    }, 90_000);
    tmux('send-keys', '-t', 'tr2', 'C-c');
    await waitFor('the question', () => tmux('capture-pane', '-p', '-t', 'tr2').includes('leave it running in the background?'), 20_000);
    tmux('send-keys', '-t', 'tr2', 'C-c');
    await waitFor('the CLI to exit', () => existsSync(done), 90_000);
    expect(readFileSync(done, 'utf8').trim()).toBe('EXIT=12');
    expect((await waitFinal(p.dbFile, run.id)).status).toBe('stopped');
  });
});

describe('without a TTY', () => {
  it('SIGTERM to the attached CLI stops the run gracefully: stopped, exit 12', async () => {
    const p = makeProject();
    const cli = spawnCli(['train', '--max-steps', '100000'], {cwd: p.dir});
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    const run = await waitFor('a few steps', () => {
      const r = latestRun(p.dbFile);
      return r && maxStep(p.dbFile, r.id) >= 2 ? r : undefined;
    }, 90_000);
    cli.kill('SIGTERM');
    expect(await exited).toBe(12);
    const final = await waitFinal(p.dbFile, run.id);
    expect(final.status).toBe('stopped');
  });
});
