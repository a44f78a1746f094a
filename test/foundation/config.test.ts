import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {findConfigFile, loadConfig, parseConfigText} from '../../src/lib/config/load.js';
import {maskSecrets} from '../../src/lib/config/mask.js';
import {configJsonSchema} from '../../src/lib/config/schema.js';
import {ConfigError} from '../../src/lib/errors.js';
import {runCli, tempDir} from '../helpers/cli.js';

function problems(text: string) {
  try {
    parseConfigText(text, 'llmops.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('llmops.yaml', () => {
  it('an empty file is a valid project with documented defaults', () => {
    const c = parseConfigText('', 'llmops.yaml');
    expect(c.ledger.path).toBe('.llmops/llmops.db');
    expect(c.data.split).toEqual({train: 0.9, val: 0.05, test: 0.05, seed: 42});
    expect(c.data.dedup.threshold).toBe(0.8);
    expect(c.train.preset).toBe('tiny');
    expect(c.deploy.host).toBe('127.0.0.1');
    expect(c.monitor.drift.psi_significant).toBe(0.2);
    // A section left empty (only comments under it) means "defaults", not an error.
    expect(parseConfigText('budget:\n  # per_run_usd: 5\n', 'llmops.yaml').budget.sample_interval_s).toBe(10);
  });

  it('reports every problem with line, key path, expectation, finding and a did-you-mean', () => {
    const ps = problems(
      ['name: demo', 'data:', '  splt: {train: 0.8}', '  dedup:', '    threshold: 1.5', 'train:', '  max_steps: "many"', 'backends:', '  box: {type: sssh, host: a}'].join('\n'),
    );
    expect(ps).toHaveLength(4);
    expect(ps[0]).toMatchObject({line: 3, path: 'data.splt', message: 'unknown key', didYouMean: 'split'});
    expect(ps[1]).toMatchObject({line: 5, path: 'data.dedup.threshold', expected: '<= 1', found: 'number 1.5'});
    expect(ps[2]).toMatchObject({line: 7, path: 'train.max_steps', message: 'wrong type', expected: 'an integer', found: 'the string "many"'});
    expect(ps[3]).toMatchObject({line: 9, path: 'backends.box.type', didYouMean: 'ssh'});
  });

  it('reports YAML syntax errors with their line', () => {
    const ps = problems('name: demo\ndata:\n  inputs: [a, b\n');
    expect(ps[0]!.message).toMatch(/YAML syntax error/);
    expect(ps[0]!.line).toBeGreaterThan(0);
  });

  it('is found by walking up from a subdirectory, like git', () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'llmops.yaml'), 'name: walked\n');
    const deep = path.join(root, 'a', 'b', 'c');
    mkdirSync(deep, {recursive: true});
    expect(findConfigFile(deep)).toBe(path.join(root, 'llmops.yaml'));
    const loaded = loadConfig({cwd: deep});
    expect(loaded.config.name).toBe('walked');
    expect(loaded.root).toBe(root);
  });

  it('masks secrets pasted into the config but not the names of variables', () => {
    const masked = maskSecrets({deploy: {api_key_env: 'MY_KEY'}, hf_token: 'hf_abcdefghijklmnopqrstuvwxyz', note: 'sk-abcdefghijklmnopqrstuvwxyz123', monitor: {alert_webhook: 'https://hooks.slack.com/services/T0/B0/xyz', alert_webhook_env: 'HOOK'}});
    expect(masked).toEqual({deploy: {api_key_env: 'MY_KEY'}, hf_token: '********', note: '********', monitor: {alert_webhook: '********', alert_webhook_env: 'HOOK'}});
  });

  it('has a JSON Schema with every section, for editors', () => {
    const s = configJsonSchema() as {properties: Record<string, unknown>};
    for (const k of ['data', 'train', 'finetune', 'backends', 'pricing', 'budget', 'deploy', 'monitor']) expect(s.properties).toHaveProperty(k);
  });
});

describe('config commands (real CLI)', () => {
  it('config show prints the resolved config, with defaults, as JSON', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: shown\ntrain: {seed: 7}\n');
    const r = await runCli(['config', 'show', '--json'], {cwd: dir});
    expect(r.code).toBe(0);
    expect(r.json.config.name).toBe('shown');
    expect(r.json.config.train).toMatchObject({seed: 7, preset: 'tiny'});
    expect(r.json.ledger).toBe(path.join(dir, '.llmops', 'llmops.db'));
  });

  it('a bad config exits 3 with the file and line, with and without --json', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: x\ndeploy:\n  prot: 80\n');
    const human = await runCli(['config', 'show'], {cwd: dir});
    expect(human.code).toBe(3);
    expect(human.stderr).toContain(`${path.join(dir, 'llmops.yaml')}:3:3 deploy.prot: unknown key (did you mean "port"?)`);
    expect(human.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    const json = await runCli(['config', 'show', '--json'], {cwd: dir});
    expect(json.code).toBe(3);
    expect(json.json.error).toMatchObject({code: 'CONFIG', exitCode: 3});
    expect(json.json.error.details.problems[0]).toMatchObject({line: 3, path: 'deploy.prot'});
  });

  it('a value of the wrong type says what was expected and what was found, not that the key is missing', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: x\ndeploy:\n  port: "abc"\ndata:\n  split:\n    seed: 1.5\n  dedup:\n    threshold: fast\n');
    const r = await runCli(['config', 'show'], {cwd: dir});
    expect(r.code).toBe(3);
    const file = path.join(dir, 'llmops.yaml');
    expect(r.stderr).toContain(`${file}:3:9 deploy.port: wrong type; expected an integer, found the string "abc"`);
    expect(r.stderr).toContain(`${file}:6:11 data.split.seed: wrong type; expected an integer, found number 1.5`);
    expect(r.stderr).toContain(`${file}:8:16 data.dedup.threshold: wrong type; expected a number, found the string "fast"`);
    expect(r.stderr).not.toContain('required');
  });

  it('a YAML syntax error shows file:line:col, the parser message and the offending line with a caret', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: x\ndata:\n  inputs: [a.jsonl, b.jsonl\n\n');
    const r = await runCli(['config', 'show'], {cwd: dir});
    expect(r.code).toBe(3);
    const file = path.join(dir, 'llmops.yaml');
    expect(r.stderr).toContain(`${file}:3:28: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]`);
    expect(r.stderr).toContain('3 |   inputs: [a.jsonl, b.jsonl\n');
    expect(r.stderr).toContain(`  | ${' '.repeat(27)}^`);
    expect(r.stderr).toContain('close every [ and {');
    expect(r.stderr).not.toContain('(root)');
    expect(r.stderr).not.toContain('config schema');
    const json = await runCli(['config', 'show', '--json'], {cwd: dir});
    expect(json.code).toBe(3);
    expect(json.json.error.details.problems[0]).toMatchObject({line: 3, column: 28, path: ''});
  });

  it('config schema prints a JSON Schema', async () => {
    const r = await runCli(['config', 'schema']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).title).toBe('llmops.yaml');
  });
});

describe('docs/config-reference.md', () => {
  it('is up to date with the schema (run `npm run docs` to regenerate)', async () => {
    const {readFileSync} = await import('node:fs');
    const {configReferenceMarkdown} = await import('../../src/lib/config/reference.js');
    const {REPO_ROOT} = await import('../helpers/cli.js');
    const committed = readFileSync(path.join(REPO_ROOT, 'docs', 'config-reference.md'), 'utf8');
    expect(committed).toBe(configReferenceMarkdown());
  });
});

describe('config cache', () => {
  it('answers from the cache for the same build and bytes, and re-reads a changed or broken file', async () => {
    const {loadConfigCached} = await import('../../src/lib/config/cache.js');
    const {existsSync, readFileSync: read} = await import('node:fs');
    const dir = tempDir();
    const file = path.join(dir, 'llmops.yaml');
    writeFileSync(file, 'name: first\n');
    const a = await loadConfigCached({cwd: dir, buildId: 'b1'});
    expect(a.config.name).toBe('first');
    const cacheFile = path.join(dir, '.llmops', 'config-cache.json');
    expect(existsSync(cacheFile)).toBe(true);
    // Tamper with the cached value: a hit must come from the cache, not from parsing.
    const cached = JSON.parse(read(cacheFile, 'utf8'));
    cached.config.name = 'from-cache';
    writeFileSync(cacheFile, JSON.stringify(cached));
    expect((await loadConfigCached({cwd: dir, buildId: 'b1'})).config.name).toBe('from-cache');
    // Another build, or other bytes: parsed again.
    expect((await loadConfigCached({cwd: dir, buildId: 'b2'})).config.name).toBe('first');
    writeFileSync(file, 'name: second\n');
    expect((await loadConfigCached({cwd: dir, buildId: 'b2'})).config.name).toBe('second');
    // A broken file is reported every time, never served from the cache.
    writeFileSync(file, 'name: second\ntrain: {seed: "x"}\n');
    await expect(loadConfigCached({cwd: dir, buildId: 'b2'})).rejects.toThrow(/train\.seed/);
    // Without a build id (unbundled runs) nothing is cached.
    const dir2 = tempDir();
    writeFileSync(path.join(dir2, 'llmops.yaml'), 'name: x\n');
    await loadConfigCached({cwd: dir2});
    expect(existsSync(path.join(dir2, '.llmops', 'config-cache.json'))).toBe(false);
  });
});
