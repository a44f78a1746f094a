import http from 'node:http';
import {afterAll, afterEach, describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {monitorDeployment, monitorRun, timeSeries} from '../../src/lib/monitor/index.js';
import {cleanupProjects, DRIFTED_PROMPTS, HOUR, insertRequests, makeProject, promptRequest, rng, TRAIN_PROMPTS, type Project, type RequestRow} from './fixture.js';

const monitorConfig = (m: Record<string, unknown> = {}) => configSchema.parse({monitor: m}).monitor;

let project: Project | undefined;
afterEach(() => project?.ledger.close());
afterAll(() => cleanupProjects());

function sortedQuantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  return s[Math.floor(pos)]! + (s[Math.ceil(pos)]! - s[Math.floor(pos)]!) * (pos - Math.floor(pos));
}

/** 1,000 requests over the last hour: 3% errors, 1% cut-off streams, random latencies. */
function traffic(p: Project, n = 1000): RequestRow[] {
  const r = rng(3);
  const rows: RequestRow[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    const status = x < 0.03 ? 'error' : x < 0.04 ? 'cancelled' : 'ok';
    const prompt = TRAIN_PROMPTS[i % TRAIN_PROMPTS.length]!;
    rows.push(
      promptRequest('dep-1', p.now - HOUR + Math.floor((i * HOUR) / n), prompt, {
        status,
        prompt_tokens: 10 + (i % 7),
        completion_tokens: 30 + (i % 11),
        ttft_ms: 10 + r() * 40,
        e2e_ms: 100 + r() * 900,
        itl_ms: 4 + r() * 4,
      }),
    );
  }
  insertRequests(p.ledger, rows);
  return rows;
}

describe('deployment summary', () => {
  it('counts requests, errors (cut-off streams included) and tokens, and computes exact percentiles', async () => {
    project = makeProject();
    const rows = traffic(project);
    // Noise that must not be counted: another deployment, and requests before the window.
    insertRequests(project.ledger, [
      promptRequest('dep-other', project.now - 10_000, 'x', {e2e_ms: 999_999}),
      promptRequest('dep-1', project.now - 3 * HOUR, 'x', {e2e_ms: 999_999, status: 'error'}),
    ]);
    const s = await monitorDeployment(project.ledger, monitorConfig(), {deployment: 'support-bot', now: project.now});
    const ok = rows.filter((r) => r.status === 'ok');
    expect(s.deployment.id).toBe('dep-1');
    expect(s.requests).toBe(1000);
    expect(s.by_status).toEqual({ok: ok.length, error: rows.filter((r) => r.status === 'error').length, cancelled: rows.filter((r) => r.status === 'cancelled').length});
    expect(s.error_rate).toBeCloseTo((1000 - ok.length) / 1000, 3);
    expect(s.rps).toBeCloseTo(1000 / 3600, 3);
    for (const [q, key] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
      expect(s.latency_ms[key]).toBeCloseTo(sortedQuantile(ok.map((r) => r.e2e_ms!), q), 2);
    }
    expect(s.ttft_ms.p95).toBeCloseTo(sortedQuantile(ok.map((r) => r.ttft_ms!), 0.95), 2);
    expect(s.itl_ms.p50).toBeCloseTo(sortedQuantile(ok.map((r) => r.itl_ms!), 0.5), 2);
    const tin = rows.reduce((a, r) => a + r.prompt_tokens, 0);
    const tout = rows.reduce((a, r) => a + r.completion_tokens, 0);
    expect(s.tokens.in).toBe(tin);
    expect(s.tokens.out).toBe(tout);
    expect(s.tokens.per_s).toBeCloseTo(tout / 3600, 2);
    // $2/h for the whole hour of the window (started 2 h ago, still running)
    expect(s.cost.usd).toBeCloseTo(2, 4);
    expect(s.cost.per_1k_tokens).toBeCloseTo(2 / ((tin + tout) / 1000), 5);
  });

  it('classes failures as the server records them: 4xx client errors, 5xx and shutdowns server errors, 499 cut off', async () => {
    project = makeProject();
    const t = project.now - HOUR / 2;
    // (status, http_status) pairs written by serve/http.ts for each way a request can end.
    const failures: Array<[RequestRow['status'], number]> = [
      ['error', 400], ['error', 400], ['error', 404], ['error', 413], ['error', 429], // refused: the client's request
      ['error', 500], ['error', 504], ['error', 503], ['cancelled', 503], // generation failed, timed out, shutting down
      ['cancelled', 499], ['cancelled', 499], // the client closed the connection before the end
    ];
    insertRequests(project.ledger, [
      ...Array.from({length: 89}, (_, i) => promptRequest('dep-1', t + i, TRAIN_PROMPTS[i % 8]!)),
      ...failures.map(([status, http_status], i) => promptRequest('dep-1', t + 100 + i, 'x', {status, http_status, ttft_ms: null, e2e_ms: 3, itl_ms: null})),
    ]);
    const s = await monitorDeployment(project.ledger, monitorConfig({slo: {error_rate: 0.07, client_error_rate: 0.04}}), {deployment: 'dep-1', now: project.now, check: true});
    expect(s.requests).toBe(100);
    expect(s.by_status).toEqual({ok: 89, error: 8, cancelled: 3});
    expect(s.by_class).toEqual({ok: 89, client_error: 5, server_error: 4, cut_off: 2});
    expect(s.error_rate).toBe(0.06);
    expect(s.client_error_rate).toBe(0.05);
    expect(s.client_errors_by_http_status).toEqual({'400': 2, '404': 1, '413': 1, '429': 1});
    expect(Object.fromEntries(s.slo!.checks.map((c) => [c.slo, c.status]))).toEqual({error_rate: 'pass', client_error_rate: 'fail'});
    // The latency figures stay those of the successful requests.
    expect(s.latency_ms.p99).toBe(120);
    // The time series splits them the same way (the sparkline and the HTML chart).
    const series = timeSeries(project.ledger, 'dep-1', {sinceMs: project.now - HOUR, untilMs: project.now});
    expect(series.buckets.reduce((a, b) => a + b.errors, 0)).toBe(6);
    expect(series.buckets.reduce((a, b) => a + b.client_errors, 0)).toBe(5);
  });

  it('answers an empty window with zeros, nulls and a note, not an error', async () => {
    project = makeProject();
    const s = await monitorDeployment(project.ledger, monitorConfig(), {deployment: 'dep-1', now: project.now});
    expect(s.requests).toBe(0);
    expect(s.error_rate).toBeNull();
    expect(s.client_error_rate).toBeNull();
    expect(s.by_class).toEqual({ok: 0, client_error: 0, server_error: 0, cut_off: 0});
    expect(s.client_errors_by_http_status).toEqual({});
    expect(s.latency_ms).toEqual({p50: null, p95: null, p99: null});
    expect(s.cost.per_1k_tokens).toBeNull();
    expect(s.notes.join(' ')).toMatch(/No requests between/);
    expect(s.drift.status).toBe('not_enough_traffic');
  });

  it('charges only the running time inside the window', async () => {
    project = makeProject();
    // deployment started 2 h ago; a 6 h window holds 2 h of running time
    const s = await monitorDeployment(project.ledger, monitorConfig(), {deployment: 'dep-1', since: '6h', now: project.now});
    expect(s.cost.running_s).toBe(7200);
    expect(s.cost.usd).toBeCloseTo(4, 4);
  });

  it('measures drift against the dataset profile, then prefers the model reference_profile.json', async () => {
    project = makeProject();
    insertRequests(project.ledger, Array.from({length: 60}, (_, i) => promptRequest('dep-1', project!.now - 1000 * (i + 1), DRIFTED_PROMPTS[i % 3]!)));
    const a = await monitorDeployment(project.ledger, monitorConfig(), {deployment: 'dep-1', now: project.now});
    expect(a.drift.status).toBe('drift');
    expect(a.drift.reference!.source).toBe(`${project.datasetDir}/profile.json`);
    project.ledger.close();
    project = makeProject({referenceInModel: true});
    insertRequests(project.ledger, Array.from({length: 60}, (_, i) => promptRequest('dep-1', project!.now - 1000 * (i + 1), TRAIN_PROMPTS[i % 8]!)));
    const b = await monitorDeployment(project.ledger, monitorConfig(), {deployment: 'dep-1', now: project.now});
    expect(b.drift.reference!.source).toBe(`${project.modelDir}/reference_profile.json`);
    expect(b.drift.status).toBe('ok');
  });

  it('throws NOT_FOUND for an unknown deployment, naming the known ones', async () => {
    project = makeProject();
    await expect(monitorDeployment(project.ledger, monitorConfig(), {deployment: 'nope'})).rejects.toMatchObject({code: 'NOT_FOUND', exitCode: 9, fix: expect.stringContaining('dep-1')});
  });
});

describe('SLO checks', () => {
  it('pass, fail and skip per SLO, and post the breach to a webhook', async () => {
    project = makeProject();
    traffic(project);
    const received: unknown[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({path: req.url, type: req.headers['content-type'], body: JSON.parse(body)});
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as {port: number}).port;
    try {
      const cfg = monitorConfig({slo: {p95_latency_ms: 500, error_rate: 0.1, drift_psi: 0.2, min_tokens_per_s: 1}, drift: {min_requests: 5000}});
      const s = await monitorDeployment(project.ledger, cfg, {deployment: 'dep-1', now: project.now, check: true, alertWebhook: `http://127.0.0.1:${port}/hook/SECRET-TOKEN`});
      const by = Object.fromEntries(s.slo!.checks.map((c) => [c.slo, c.status]));
      expect(by).toEqual({p95_latency_ms: 'fail', error_rate: 'pass', drift_psi: 'skipped', min_tokens_per_s: 'pass'});
      expect(s.slo!.passed).toBe(false);
      expect(s.slo!.alert).toEqual({url_origin: `http://127.0.0.1:${port}`, delivered: true, status: 200});
      expect(JSON.stringify(s)).not.toContain('SECRET-TOKEN');
      expect(received).toHaveLength(1);
      const hook = received[0] as {path: string; type: string; body: {event: string; breaches: Array<{slo: string; actual: number}>; deployment: {id: string}}};
      expect(hook.path).toBe('/hook/SECRET-TOKEN');
      expect(hook.type).toBe('application/json');
      expect(hook.body.event).toBe('llmops.slo_breach');
      expect(hook.body.deployment.id).toBe('dep-1');
      expect(hook.body.breaches.map((b) => b.slo)).toEqual(['p95_latency_ms']);
      expect(hook.body.breaches[0]!.actual).toBe(s.latency_ms.p95);
    } finally {
      server.close();
    }
  });

  it('reads the webhook URL from the variable named by monitor.alert_webhook_env, and says when it is unset', async () => {
    project = makeProject();
    traffic(project, 100);
    let hits = 0;
    const server = http.createServer((req, res) => {
      hits++;
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const cfg = monitorConfig({slo: {error_rate: 0.001}, alert_webhook_env: 'LLMOPS_TEST_MONITOR_HOOK'});
      process.env.LLMOPS_TEST_MONITOR_HOOK = `http://127.0.0.1:${(server.address() as {port: number}).port}/h`;
      const a = await monitorDeployment(project.ledger, cfg, {deployment: 'dep-1', now: project.now, check: true});
      expect(a.slo!.alert!.delivered).toBe(true);
      expect(hits).toBe(1);
      delete process.env.LLMOPS_TEST_MONITOR_HOOK;
      const b = await monitorDeployment(project.ledger, cfg, {deployment: 'dep-1', now: project.now, check: true});
      expect(b.slo!.alert).toMatchObject({delivered: false, error: 'environment variable LLMOPS_TEST_MONITOR_HOOK is not set'});
      expect(hits).toBe(1);
    } finally {
      delete process.env.LLMOPS_TEST_MONITOR_HOOK;
      server.close();
    }
  });

  it('reports an unreachable webhook without failing differently', async () => {
    project = makeProject();
    traffic(project, 100);
    const cfg = monitorConfig({slo: {error_rate: 0.001}});
    const s = await monitorDeployment(project.ledger, cfg, {deployment: 'dep-1', now: project.now, check: true, alertWebhook: 'http://127.0.0.1:9/x'});
    expect(s.slo!.passed).toBe(false);
    expect(s.slo!.alert!.delivered).toBe(false);
  });

  it('with no SLOs configured there is nothing to breach', async () => {
    project = makeProject();
    const s = await monitorDeployment(project.ledger, monitorConfig(), {deployment: 'dep-1', now: project.now, check: true});
    expect(s.slo).toMatchObject({configured: false, passed: true, checks: []});
  });
});

describe('run monitor', () => {
  it('reports curves, last values, cost against budget', () => {
    project = makeProject();
    const m = monitorRun(project.ledger, monitorConfig(), 'train-1');
    expect(m.curves.loss).toHaveLength(21);
    expect(m.curves.val_loss).toHaveLength(5);
    expect(m.step).toBe(200);
    expect(m.last.loss).toBeCloseTo(5 * Math.exp(-200 / 60) + 1, 9);
    expect(m.cost).toEqual({usd: 1.5, budget_usd: 5, budget_used: 0.3});
    expect(m.finished).toBe(true);
    expect(m.stall.stalled).toBe(false);
  });

  it('marks a running run with no new step as stalled once, and clears it when steps resume', () => {
    project = makeProject();
    const l = project.ledger;
    l.insertRun({id: 'live-1', kind: 'train', backend: 'local', backendType: 'local', runDir: '/tmp/x', spec: {}, budgetUsd: 1});
    l.setRunStatus('live-1', 'running', 'started');
    const t0 = Date.now();
    l.insertMetrics([{runId: 'live-1', step: 1, key: 'loss', value: 3, ts: t0 - 600_000}]);
    const cfg = monitorConfig({stall_after_s: 300});
    const a = monitorRun(l, cfg, 'live-1', {now: t0});
    expect(a.stall).toMatchObject({stalled: true, changed: 'stalled', idle_s: 600});
    expect(l.getRun('live-1').stalled_at).not.toBeNull();
    const b = monitorRun(l, cfg, 'live-1', {now: t0 + 1000});
    expect(b.stall.changed).toBeNull(); // once, not on every refresh
    expect(l.events('live-1').filter((e) => e.type === 'stalled')).toHaveLength(1);
    l.insertMetrics([{runId: 'live-1', step: 2, key: 'loss', value: 2.9, ts: t0 + 2000}]);
    const c = monitorRun(l, cfg, 'live-1', {now: t0 + 3000});
    expect(c.stall).toMatchObject({stalled: false, changed: 'resumed'});
    expect(l.getRun('live-1').stalled_at).toBeNull();
    expect(l.events('live-1').map((e) => e.type)).toEqual(expect.arrayContaining(['stalled', 'resumed']));
  });

  it('throws NOT_FOUND for an unknown run', () => {
    project = makeProject();
    expect(() => monitorRun(project!.ledger, monitorConfig(), 'no-such-run')).toThrow(expect.objectContaining({code: 'NOT_FOUND'}));
  });
});
