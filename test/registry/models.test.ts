/**
 * The model registry through the real CLI: versions, aliases, the append-only alias history,
 * rollback, and NAME@ALIAS / NAME@vN resolved where a model is taken. Runs are recorded in a real
 * ledger with model folders holding a config.json (registration needs nothing more).
 */
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {resolveModelRef} from '../../src/lib/registry/resolve.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {sqlite} from '../helpers/sqlite.js';

function project(): {dir: string; env: Record<string, string>; runs: string[]} {
  const dir = tempDir('llmops-registry-');
  writeFileSync(path.join(dir, 'llmops.yaml'), 'name: reg\n');
  const db = path.join(dir, '.llmops', 'llmops.db');
  mkdirSync(path.dirname(db), {recursive: true});
  const l = Ledger.open(db);
  const runs = ['r-20260101-000001-aaaa', 'r-20260101-000002-bbbb', 'r-20260101-000003-cccc'];
  for (const id of runs) {
    const runDir = path.join(dir, '.llmops', 'runs', id);
    mkdirSync(path.join(runDir, 'model'), {recursive: true});
    writeFileSync(path.join(runDir, 'model', 'config.json'), '{}');
    l.insertRun({id, kind: 'finetune', status: 'succeeded', backend: 'local', backendType: 'local', runDir, spec: {}});
  }
  l.close();
  return {dir, env: {}, runs};
}

describe('llmops models', () => {
  it('registers versions, moves aliases with reasons, rolls back one step at a time, and keeps the history append-only', async () => {
    const {dir, runs} = project();
    const cli = (...args: string[]) => runCli([...args, '--json'], {cwd: dir});
    let r = await cli('models', 'register', 'chat', runs[0]!);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({name: 'chat', version: 'v1', created: true, runId: runs[0]});
    // The same run again: its existing version.
    r = await cli('models', 'register', 'chat', runs[0]!.slice(0, 20));
    expect(r.json).toMatchObject({version: 'v1', created: false});
    r = await cli('models', 'alias', 'chat@prod', 'v1', '--reason', 'first');
    expect(r.json).toMatchObject({from: null, to: 'v1', moved: true});
    // A run id not yet registered is registered by the alias move.
    r = await cli('models', 'alias', 'chat@prod', runs[1]!, '--reason', 'better');
    expect(r.json).toMatchObject({from: 'v1', to: 'v2', moved: true, registered: true});
    r = await cli('models', 'alias', 'chat@prod', runs[2]!);
    expect(r.json).toMatchObject({from: 'v2', to: 'v3'});
    r = await cli('models', 'alias', 'chat@staging', 'v1');
    expect(r.code).toBe(0);

    r = await cli('models', 'rollback', 'chat@prod');
    expect(r.json).toEqual({name: 'chat', alias: 'prod', from: 'v3', to: 'v2'});
    r = await cli('models', 'rollback', 'chat@prod');
    expect(r.json).toEqual({name: 'chat', alias: 'prod', from: 'v2', to: 'v1'});
    r = await cli('models', 'rollback', 'chat@prod');
    expect(r.code).toBe(2);
    expect(r.json.error.message).toMatch(/no earlier version/);

    r = await cli('models', 'show', 'chat');
    expect(r.json.aliases).toMatchObject({prod: {version: 'v1'}, staging: {version: 'v1'}});
    expect(r.json.versions.map((v: {label: string}) => v.label)).toEqual(['v1', 'v2', 'v3']);
    expect(r.json.history.filter((h: {alias: string}) => h.alias === 'prod').map((h: {from: string; to: string; action: string; reason: string}) => [h.from, h.to, h.action, h.reason])).toEqual([
      [null, 'v1', 'move', 'first'],
      ['v1', 'v2', 'move', 'better'],
      ['v2', 'v3', 'move', null],
      ['v3', 'v2', 'rollback', 'rollback from v3'],
      ['v2', 'v1', 'rollback', 'rollback from v2'],
    ]);
    r = await cli('models', 'list');
    expect(r.json.models).toEqual([{name: 'chat', versions: 3, latest: 'v3', aliases: {prod: 'v1', staging: 'v1'}}]);

    const l = Ledger.open(path.join(dir, '.llmops', 'llmops.db'));
    expect(() => sqlite(l).prepare("UPDATE alias_history SET to_version = 3").run()).toThrow(/append-only/);
    expect(() => sqlite(l).prepare('DELETE FROM alias_history').run()).toThrow(/append-only/);
    // The resolver other commands use.
    expect(resolveModelRef(l, dir, 'chat@prod')).toMatchObject({runId: runs[0], version: {name: 'chat', version: 1, alias: 'prod'}});
    expect(resolveModelRef(l, dir, 'chat@v3')).toMatchObject({runId: runs[2], dir: path.join(dir, '.llmops', 'runs', runs[2]!, 'model')});
    expect(resolveModelRef(l, dir, 'chat@latest').version?.version).toBe(3);
    expect(resolveModelRef(l, dir, 'hf:owner/name')).toEqual({hfRef: 'hf:owner/name'});
    l.close();
  });

  it('says what exists when a reference names nothing, with exit code 9', async () => {
    const {dir, runs} = project();
    await runCli(['models', 'register', 'chat', runs[0]!], {cwd: dir});
    let r = await runCli(['models', 'rollback', 'chat@prod', '--json'], {cwd: dir});
    expect(r.code).toBe(9);
    r = await runCli(['deploy', '--model', 'chat@prod', '--json'], {cwd: dir});
    expect(r.code).toBe(9);
    expect(r.json.error.message).toMatch(/chat has no alias "prod"/);
    r = await runCli(['deploy', '--model', 'chat@v7', '--json'], {cwd: dir});
    expect(r.json.error.message).toMatch(/v1\.\.v1/);
    r = await runCli(['finetune', '--base', 'nope@prod', '--dry-run', '--json'], {cwd: dir});
    expect(r.code).toBe(9);
    expect(r.json.error.message).toMatch(/No model named "nope"/);
    r = await runCli(['models', 'alias', 'chat@v2', 'v1', '--json'], {cwd: dir});
    expect(r.code).toBe(2);
  });
});
