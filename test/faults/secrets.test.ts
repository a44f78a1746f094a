/**
 * Issue 15, items 11-13: secrets never reach the ledger, the config cache or prepared data, through
 * the real CLI: a served prompt full of keys (log_text off), `config show` and its cache, data prep.
 */
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {runCli, tempDir} from '../helpers/cli.js';
import {sqlite} from '../helpers/sqlite.js';
import {tinyModel} from '../serve/helpers/model.js';

// Documented example credentials (AWS's own docs), and made-up OpenAI-style keys.
const AKIA = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SK = 'sk-proj-Zx8Qw3Er5Ty7Ui9Op1As2Df4Gh6Jk8Lm0Nb';
const PASSWORD = 'Tr0ub4dor&3horse';
// Every fragment a term extractor could cut these into (lowercase, split at / and -).
const FRAGMENTS = ['akiaiosfodnn7example', 'wjalrxutnfemi', 'k7mdeng', 'bpxrficyexamplekey', 'zx8qw3er5ty7ui9op1as2df4gh6jk8lm0nb', 'tr0ub4dor', '3horse'];

describe('drift profile of served prompts (log_text off)', () => {
  let model: {modelDir: string};
  beforeAll(async () => {
    model = await tinyModel();
  }, 300_000);

  it('keeps no key, AWS secret or password in requests.profile_json, only ordinary words', async () => {
    const dir = tempDir('llmops-secret-serve-');
    const env = {LLMOPS_DB: path.join(dir, 'ledger.db')};
    const up = await runCli(['deploy', '--model', model.modelDir, '--name', 'sec', '--port', '0', '--detach', '--json'], {cwd: dir, env});
    expect(up.code, up.stderr).toBe(0);
    try {
      // The byte-level tiny model takes 128 tokens: one secret per request.
      for (const prompt of [`please debug key ${SK}`, `debug id ${AKIA}`, `debug secret ${AWS_SECRET}`, `deploy password=${PASSWORD}`]) {
        const r = await fetch(up.json.url + '/v1/completions', {method: 'POST', body: JSON.stringify({model: 'sec', prompt, max_tokens: 2})});
        expect(r.status, await r.text()).toBe(200);
      }
    } finally {
      await runCli(['deploy', 'stop', 'sec'], {cwd: dir, env});
    }
    const l = Ledger.open(env.LLMOPS_DB);
    const rows = sqlite(l).prepare('SELECT profile_json, prompt_text FROM requests').all() as Array<{profile_json: string; prompt_text: string | null}>;
    l.close();
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.prompt_text).toBeNull();
      for (const f of FRAGMENTS) expect(row.profile_json.toLowerCase()).not.toContain(f);
    }
    expect(rows.flatMap((r) => JSON.parse(r.profile_json).terms)).toEqual(expect.arrayContaining(['please', 'debug', 'key', 'deploy', 'password']));
    // The whole ledger file, not just the column.
    expect(readFileSync(env.LLMOPS_DB, 'latin1').toLowerCase()).not.toContain('wjalrxutnfemi');
  });
});

describe('config show and the config cache', () => {
  it('masks user:password@host, SetEnv= values and keys in free text; the cache holds no secret', async () => {
    const dir = tempDir('llmops-secret-config-');
    writeFileSync(
      path.join(dir, 'llmops.yaml'),
      [
        'backends:',
        '  gpu-box:',
        '    type: ssh',
        '    host: alice@gpu.example.com',
        `    ssh_options: ["SetEnv=HF_TOKEN=${PASSWORD}", "ProxyCommand=curl https://bob:${PASSWORD}@proxy.example.com/x"]`,
        '  cluster:',
        '    type: slurm',
        `    sbatch_extra: ["--comment=key ${SK} in free text", "--comment=aws ${AWS_SECRET}"]`,
        'monitor:',
        `  alert_webhook: https://hooks:${PASSWORD}@alerts.example.com/notify`,
        '',
      ].join('\n'),
    );
    const show = await runCli(['config', 'show'], {cwd: dir});
    expect(show.code, show.stderr).toBe(0);
    for (const secret of [PASSWORD, SK, AWS_SECRET]) expect(show.stdout).not.toContain(secret);
    expect(show.stdout).toContain('alice@gpu.example.com');
    expect(show.stdout).toContain('curl https://bob:********@proxy.example.com/x');
    expect(show.stdout).toContain('SetEnv=HF_TOKEN=********');
    const json = await runCli(['config', 'show', '--json'], {cwd: dir});
    for (const secret of [PASSWORD, SK, AWS_SECRET]) expect(json.stdout).not.toContain(secret);

    await runCli(['runs', 'list'], {cwd: dir});
    const cache = path.join(dir, '.llmops', 'config-cache.json');
    if (existsSync(cache)) for (const secret of [PASSWORD, SK, AWS_SECRET]) expect(readFileSync(cache, 'utf8')).not.toContain(secret);
  });
});

describe('data prep: passwords and AWS secret keys', () => {
  it('redacts password=…, "password": "…" and AWS secret access keys in train.jsonl and profile.json', async () => {
    const dir = tempDir('llmops-secret-prep-');
    const recs = [
      `connect with password=${PASSWORD} to the staging database and run the nightly report job`,
      `the config file says {"user": "bob", "password": "${PASSWORD}"} which should never be committed anywhere`,
      `set aws_secret_access_key = ${AWS_SECRET} in the credentials file before the upload begins`,
      `a bare key ${AWS_SECRET} pasted into the chat by mistake during the incident review meeting`,
      'an ordinary sentence about passing the ball in the park on a sunny afternoon with friends',
    ];
    const lines = Array.from({length: 30}, (_, i) => JSON.stringify({text: `${recs[i % recs.length]} number ${i}`}));
    writeFileSync(path.join(dir, 'in.jsonl'), lines.join('\n') + '\n');
    writeFileSync(path.join(dir, 'llmops.yaml'), 'data:\n  split: {train: 1.0, val: 0.0, test: 0.0}\n  dedup: {near: false}\n');
    const r = await runCli(['data', 'prep', '--input', 'in.jsonl', '--json'], {cwd: dir});
    expect(r.code, r.stderr).toBe(0);
    const out = path.join(dir, 'data', 'prepared');
    for (const f of readdirSync(out).filter((f) => !f.startsWith('.'))) {
      const text = readFileSync(path.join(out, f), 'utf8');
      expect(text, f).not.toContain(PASSWORD);
      expect(text, f).not.toContain(AWS_SECRET);
      expect(text.toLowerCase(), f).not.toContain('wjalrxutnfemi');
      expect(text.toLowerCase(), f).not.toContain('tr0ub4dor');
    }
    const train = readFileSync(path.join(out, 'train.jsonl'), 'utf8');
    expect(train).toContain('password=<SECRET>');
    expect(train).toContain('\\"password\\": \\"<SECRET>\\"');
    expect(train).toContain('passing the ball');
    expect(r.json.pii.counts.secret).toBeGreaterThanOrEqual(24);
  });
});
