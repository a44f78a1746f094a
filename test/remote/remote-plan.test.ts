/**
 * The remote layout of a run (pure functions): which local paths become which remote paths, how
 * the command and spec are rewritten, and how bytes read by offset become whole lines.
 */
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import type {RunSpec} from '../../src/lib/runtime/backend.js';
import {localizeLine, passEnvScript, planRemoteRun, wholeLines, wholeText} from '../../src/lib/runtime/remote-run.js';
import {classifySshFailure, sshError, shq} from '../../src/lib/system/ssh.js';
import {tempDir} from '../helpers/cli.js';

function spec(root: string, extra: Partial<RunSpec> = {}): RunSpec {
  const runDir = path.join(root, '.llmops', 'runs', 'r-1');
  return {
    runId: 'r-1',
    kind: 'finetune',
    runDir,
    projectRoot: root,
    command: ['/usr/bin/python3', path.join(root, 'trainer', 'train.py'), '--spec', path.join(runDir, 'spec.json')],
    env: {MY_FLAG: '1'},
    passEnv: ['HF_TOKEN'],
    inputs: [
      {local: path.join(root, 'trainer'), kind: 'trainer'},
      {local: path.join(root, 'data', 'prepared'), kind: 'dataset', id: 'ds-abc'},
      {local: '/models/base-7', kind: 'base-model'},
      {local: '/old/runs/r-0/checkpoints/step-000100', kind: 'other'},
    ],
    trainerSpec: {
      run_dir: runDir,
      dataset: {id: 'ds-abc', dir: path.join(root, 'data', 'prepared')},
      finetune: {base: '/models/base-7', method: 'lora'},
      resume_from: '/old/runs/r-0/checkpoints/step-000100',
      tokenizer: 'byte',
    },
    gpus: 1,
    ...extra,
  };
}

describe('planRemoteRun', () => {
  it('maps the run dir, trainer, dataset (by id), base model and checkpoint into the workdir, and rewrites spec and command', () => {
    const root = '/home/me/proj';
    const plan = planRemoteRun(spec(root), '/srv/w', {python: 'python3.11', localPython: '/usr/bin/python3'});
    expect(plan.runDir).toBe('/srv/w/r-1');
    expect(plan.syncs.map((s) => [s.kind, s.remote, s.once])).toEqual([
      ['trainer', '/srv/w/trainer', false],
      ['dataset', '/srv/w/datasets/ds-abc', true],
      ['base-model', expect.stringMatching(/^\/srv\/w\/inputs\/[0-9a-f]{10}-base-7$/), false],
      ['other', expect.stringMatching(/^\/srv\/w\/inputs\/[0-9a-f]{10}-step-000100$/), false],
    ]);
    expect(plan.command).toEqual(['python3.11', '/srv/w/trainer/train.py', '--spec', '/srv/w/r-1/spec.json']);
    expect(plan.spec).toMatchObject({run_dir: '/srv/w/r-1', dataset: {dir: '/srv/w/datasets/ds-abc'}, tokenizer: 'byte'});
    expect((plan.spec!.finetune as {base: string}).base).toBe(plan.syncs[2]!.remote);
    expect(plan.spec!.resume_from).toBe(plan.syncs[3]!.remote);
    expect(plan.env).toMatchObject({MY_FLAG: '1', LLMOPS_EVENTS: '/srv/w/r-1/events.jsonl', LLMOPS_RUN_DIR: '/srv/w/r-1', LLMOPS_RUN_ID: 'r-1'});
    // Secrets are not part of the plan: they travel on stdin.
    expect(JSON.stringify(plan)).not.toContain('HF_TOKEN');
  });

  it('a brought-your-own command: its script in the project is synced and found relative to the workdir', () => {
    const root = tempDir('llmops-plan-');
    mkdirSync(path.join(root, 'scripts'));
    writeFileSync(path.join(root, 'scripts', 'fit.py'), 'print(1)\n');
    const plan = planRemoteRun(spec(root, {kind: 'command', command: ['python', 'scripts/fit.py', '--epochs', '3'], inputs: [], trainerSpec: undefined}), '/w', {python: 'python3'});
    expect(plan.syncs).toEqual([{local: path.join(root, 'scripts', 'fit.py'), remote: '/w/scripts/fit.py', kind: 'other', once: false}]);
    expect(plan.command).toEqual(['python3', '/w/scripts/fit.py', '--epochs', '3']);
    expect(plan.spec).toBeUndefined();
  });
});

describe('remote reads and messages', () => {
  it('whole lines only: a partial last line waits for the next read, offsets count bytes (UTF-8)', () => {
    const buf = Buffer.from('{"a":"é"}\n{"b":2}\n{"c":', 'utf8');
    const got = wholeLines(buf, 100, 1 << 20);
    expect(got.lines).toEqual(['{"a":"é"}', '{"b":2}']);
    expect(got.offset).toBe(100 + Buffer.byteLength('{"a":"é"}\n{"b":2}\n'));
    const euro = Buffer.from('price €', 'utf8');
    expect(wholeText(euro.subarray(0, euro.length - 1), 0)).toEqual({text: 'price ', offset: 6});
  });

  it('event paths under the remote run dir point at the local run dir', () => {
    expect(localizeLine('{"type":"artifact","path":"/srv/w/r-1/model"}', '/srv/w/r-1', '/home/me/p/.llmops/runs/r-1')).toBe('{"type":"artifact","path":"/home/me/p/.llmops/runs/r-1/model"}');
  });

  it('passes variables through with shell quoting and refuses invalid names', () => {
    expect(passEnvScript(['TOK', 'ABSENT'], {TOK: "it's $x"})).toBe(`export TOK='it'\\''s $x'\n`);
    expect(() => passEnvScript(['BAD-NAME'], {})).toThrow(/not a valid variable name/);
    expect(shq('plain/path-1.txt')).toBe('plain/path-1.txt');
  });

  it('classifies ssh failures and never leaks more than ssh said', () => {
    const t = {host: 'me@gpu', port: 2222};
    expect(classifySshFailure({exitCode: 255, stderr: 'Host key verification failed.'})).toBe('hostkey');
    expect(classifySshFailure({exitCode: 255, stderr: 'me@gpu: Permission denied (publickey).'})).toBe('auth');
    expect(classifySshFailure({exitCode: 255, stderr: 'ssh: connect to host gpu port 2222: Connection refused'})).toBe('connect');
    expect(classifySshFailure({exitCode: 1, stderr: 'oops'})).toBe('command');
    const e = sshError(t, {exitCode: 255, stderr: 'me@gpu: Permission denied (publickey).'}, 'start the run');
    expect(e.exitCode).toBe(11);
    expect(e.fix).toContain('ssh -p 2222 me@gpu true');
  });
});
