/**
 * `llmops init --ci github|gitlab`: the workflow's own commands, taken from the file it writes and
 * run with bash against a project whose production deployment drifts (the monitor fixture's real
 * ledger), with `llmops` on PATH being this build. No breach: nothing retrains. A drift breach:
 * `pipeline run` runs.
 */
import {spawnSync} from 'node:child_process';
import {appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import Database from 'better-sqlite3';
import {parse} from 'yaml';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {BIN, PYTHON, runCli, tempDir} from '../helpers/cli.js';
import {cleanupProjects, DRIFTED_PROMPTS, insertRequests, makeProject, promptRequest, TRAIN_PROMPTS} from '../monitor/fixture.js';

afterAll(() => cleanupProjects());

function shell(script: string, cwd: string, env: Record<string, string>): {code: number; out: string} {
  const r = spawnSync('bash', ['-eo', 'pipefail', '-c', script], {cwd, encoding: 'utf8', env: {...process.env, CI: '1', NO_COLOR: '1', ...env}, timeout: 300_000});
  return {code: r.status ?? -1, out: r.stdout + r.stderr};
}

describe('llmops init --ci', () => {
  it('writes a GitHub workflow whose commands retrain only on a drift breach, and a GitLab one', {timeout: 300_000}, async () => {
    const root = tempDir('llmops-ci-');
    let r = await runCli(['init', 'gh', '--yes', '--python', PYTHON, '--ci', 'github', '--json'], {cwd: root});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.files).toContainEqual({path: '.github/workflows/llmops-retrain.yml', action: 'created'});
    const wf = parse(readFileSync(path.join(root, 'gh', '.github', 'workflows', 'llmops-retrain.yml'), 'utf8'));
    expect(wf.on.schedule[0].cron).toMatch(/\*/);
    const steps = wf.jobs.retrain.steps as Array<{id?: string; if?: string; run?: string}>;
    const monitor = steps.find((s) => s.id === 'monitor')!;
    const retrain = steps.find((s) => s.if === "steps.monitor.outputs.breach == 'true'")!;
    expect(monitor.run).toContain('llmops monitor "$LLMOPS_DEPLOYMENT" --check');
    expect(retrain.run).toContain('llmops pipeline run');

    r = await runCli(['init', 'gl', '--yes', '--python', PYTHON, '--ci', 'gitlab'], {cwd: root});
    expect(r.code).toBe(0);
    const gl = parse(readFileSync(path.join(root, 'gl', '.gitlab-ci.yml'), 'utf8'));
    expect(gl['llmops-retrain'].script.join('\n')).toContain('llmops pipeline run');

    // The production deployment (support-bot) serves chat@prod; its project has a one-stage pipeline.
    const p = makeProject({monitor: {slo: {drift_js: 0.1}, drift: {min_requests: 30}}});
    mkdirSync(path.join(p.dir, 'data', 'raw'), {recursive: true});
    writeFileSync(path.join(p.dir, 'data', 'raw', 'new.jsonl'), TRAIN_PROMPTS.map((t) => JSON.stringify({text: t})).join('\n') + '\n');
    appendFileSync(path.join(p.dir, 'llmops.yaml'), 'data:\n  inputs: ["data/raw/*.jsonl"]\n  out: data/retrain\npipeline:\n  stages:\n    - kind: prep\n');
    p.ledger.registry.addVersion({name: 'chat', source: 'run', runId: 'ft-1'});
    // Promoted 90 minutes ago (written with its time, as the fixture writes its other history).
    const promotedAt = new Date(p.now - 90 * 60_000).toISOString();
    const raw = new Database(p.dbFile);
    raw
      .prepare("INSERT INTO alias_history (name, alias, ts, action, from_version, to_version, reason, actor, eval_json) VALUES ('chat', 'prod', ?, 'move', NULL, 1, 'first', 'pipeline:p-test', ?)")
      .run(promotedAt, JSON.stringify({source: 'llmops-eval', perplexity: 12.5}));
    raw.close();
    p.ledger.registry.recordDeploymentModel({deploymentId: 'dep-1', modelRef: 'chat@prod', name: 'chat', alias: 'prod', version: 1});
    insertRequests(p.ledger, Array.from({length: 60}, (_, i) => promptRequest('dep-1', p.now - 1000 * (i + 100), TRAIN_PROMPTS[i % 8]!)));

    // `llmops` on PATH is this build, as `npm install -g llmops` would make it.
    const shim = path.join(root, 'bin');
    mkdirSync(shim);
    writeFileSync(path.join(shim, 'llmops'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(path.join(shim, 'llmops'), 0o755);
    const out = path.join(root, 'github-output');
    const env = {...wf.env, LLMOPS_DEPLOYMENT: 'support-bot', LLMOPS_OUTPUT: out, PATH: `${shim}:${process.env.PATH}`};
    const executions = () => {
      const l = Ledger.open(p.dbFile, {readonly: true});
      try {
        return l.pipeline.executions().length;
      } finally {
        l.close();
      }
    };

    // No drift: the check passes, and the retrain step's condition is false.
    let s = shell(monitor.run!, p.dir, env);
    expect(s.code, s.out).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('breach=false');

    // Drifted prompts: exit 7 is a breach (not a failure of the job), and the retrain runs the pipeline.
    insertRequests(p.ledger, Array.from({length: 90}, (_, i) => promptRequest('dep-1', p.now - 1000 * (i + 1), DRIFTED_PROMPTS[i % 3]!)));
    writeFileSync(out, '');
    s = shell(monitor.run!, p.dir, env);
    expect(s.code, s.out).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('breach=true');
    // monitor (and its HTML) show the served version, its promotion, the eval it was promoted with, drift since.
    const m = await runCli(['monitor', 'support-bot', '--since', '24h', '--json', '--html', path.join(root, 'report.html')], {cwd: p.dir});
    expect(m.json.served).toMatchObject({ref: 'chat@prod', version: 'v1', aliasNow: 'v1', promotedAt, promotedBy: 'pipeline:p-test', eval: {perplexity: 12.5}});
    expect(m.json.served.driftSincePromotion.drift.status).toBe('drift');
    const html = readFileSync(path.join(root, 'report.html'), 'utf8');
    expect(html).toContain('Serving chat@prod = chat@v1');
    expect(html).toMatch(/promoted with perplexity 12\.5/);
    s = shell(retrain.run!, p.dir, env);
    expect(s.code, s.out).toBe(0);
    expect(s.out).toMatch(/prep +ran/);
    expect(executions()).toBe(1);
    expect(existsSync(path.join(p.dir, 'data', 'retrain', 'train.jsonl'))).toBe(true);

    // Another error (no such deployment) fails the step instead of retraining.
    writeFileSync(out, '');
    s = shell(monitor.run!, p.dir, {...env, LLMOPS_DEPLOYMENT: 'nope'});
    expect(s.code).toBe(9);
    expect(readFileSync(out, 'utf8')).toBe('');
  });
});
