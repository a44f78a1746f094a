/**
 * `deploy --follow-alias`: a detached server started from chat@prod switches to the new version
 * when the alias moves, while a client keeps streaming: no request fails. Real server, real model
 * (the serve tests' tiny model), real HTTP.
 */
import {cpSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {tinyModel} from '../serve/helpers/model.js';

describe('llmops deploy --follow-alias', () => {
  it('switches to the new version when the alias moves, with no failed request while a client streams', {timeout: 300_000}, async () => {
    const model = await tinyModel();
    const dir = tempDir('llmops-follow-');
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: follow\n');
    const db = path.join(dir, '.llmops', 'llmops.db');
    const l = Ledger.open(db);
    l.insertRun({id: model.runId, kind: 'train', status: 'succeeded', backend: 'local', backendType: 'local', runDir: model.runDir, spec: {}});
    l.close();
    const copy = path.join(dir, 'model-v2');
    cpSync(model.modelDir, copy, {recursive: true});
    const cli = (...a: string[]) => runCli([...a, '--json'], {cwd: dir});
    expect((await cli('models', 'alias', 'chat@prod', model.runId)).json).toMatchObject({to: 'v1'});
    expect((await cli('models', 'register', 'chat', copy)).json).toMatchObject({version: 'v2'});
    let r = await cli('deploy', '--model', 'chat@prod', '--follow-alias', '--detach', '--port', '0', '--name', 'fa');
    expect(r.code, r.stderr).toBe(0);
    const url = r.json.url as string;
    try {
      let stop = false;
      const results: Array<{status: number; done: boolean}> = [];
      const client = async () => {
        while (!stop) {
          const res = await fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: {'content-type': 'application/json'},
            body: JSON.stringify({model: 'fa', messages: [{role: 'user', content: 'say the cat'}], max_tokens: 24, stream: true}),
          });
          const text = await res.text();
          results.push({status: res.status, done: text.includes('data: [DONE]') && !text.includes('"error"')});
        }
      };
      const clients = [client(), client()];
      await new Promise((res) => setTimeout(res, 1500));
      expect((await cli('models', 'alias', 'chat@prod', 'v2', '--reason', 'new version')).json).toMatchObject({from: 'v1', to: 'v2'});
      const served = () => {
        const x = Ledger.open(db, {readonly: true});
        try {
          return x.registry.deploymentModels(String(r.json.id)).map((m) => m.version);
        } finally {
          x.close();
        }
      };
      for (let i = 0; i < 150 && served().length < 2; i++) await new Promise((res) => setTimeout(res, 200));
      await new Promise((res) => setTimeout(res, 1500)); // keep streaming on the new version
      stop = true;
      await Promise.all(clients);
      expect(served()).toEqual([1, 2]);
      expect(results.length).toBeGreaterThan(4);
      expect(results.filter((x) => x.status !== 200 || !x.done)).toEqual([]);
      // The alias moving back is followed too.
      await cli('models', 'rollback', 'chat@prod');
      for (let i = 0; i < 150 && served().length < 3; i++) await new Promise((res) => setTimeout(res, 200));
      expect(served()).toEqual([1, 2, 1]);
      r = await cli('lineage', 'fa');
      expect(r.json.servedVersions.map((v: {version: string}) => v.version)).toEqual(['v1', 'v2', 'v1']);
    } finally {
      await runCli(['deploy', 'stop', 'fa'], {cwd: dir});
    }
  });

  it('refuses --follow-alias without a registry alias', async () => {
    const model = await tinyModel();
    const dir = tempDir('llmops-follow-');
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: follow\n');
    const r = await runCli(['deploy', '--model', model.modelDir, '--follow-alias', '--detach', '--port', '0', '--json'], {cwd: dir});
    expect(r.code).toBe(2);
    expect(r.json.error.message).toMatch(/--follow-alias needs --model NAME@ALIAS/);
  });
});
