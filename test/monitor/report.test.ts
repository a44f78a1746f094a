/**
 * The HTML report, opened in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core): every chart drew data marks, the page logged no error and fetched nothing.
 * The screenshot is kept in test-artifacts/ for a person to look at.
 */
import {existsSync, mkdirSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {REPO_ROOT, runCli} from '../helpers/cli.js';
import {cleanupProjects, DRIFTED_PROMPTS, HOUR, insertRequests, makeProject, promptRequest, rng, TRAIN_PROMPTS, type Project} from './fixture.js';

const CHROMIUM = process.env.LLMOPS_TEST_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

let project: Project;
beforeAll(() => {
  project = makeProject({monitor: {slo: {p95_latency_ms: 900, error_rate: 0.05}}});
  const r = rng(11);
  const rows = [];
  for (let i = 0; i < 3000; i++) {
    const x = r();
    const late = i > 2200;
    rows.push(
      promptRequest('dep-1', project.now - HOUR + Math.floor((i * HOUR) / 3000), late ? DRIFTED_PROMPTS[i % 3]! : TRAIN_PROMPTS[i % 8]!, {
        status: x < (late ? 0.06 : 0.01) ? 'error' : x < 0.015 ? 'cancelled' : 'ok',
        ttft_ms: 8 + r() * r() * 90,
        e2e_ms: 150 + r() * r() * 1200 + (late ? 250 : 0),
        itl_ms: 4 + r() * 3,
        completion_tokens: 20 + Math.floor(r() * 100),
      }),
    );
  }
  insertRequests(project.ledger, rows);
  project.ledger.close();
});
afterAll(() => {
  project.ledger.close();
  cleanupProjects();
});

const HAVE_CHROMIUM = existsSync(CHROMIUM);
describe.skipIf(!HAVE_CHROMIUM)(HAVE_CHROMIUM ? 'monitor --html in headless Chromium' : `monitor --html (skipped: no Chromium at ${CHROMIUM})`, () => {
  it('writes one self-contained file whose charts all render with data in headless Chromium', async () => {
    const file = path.join(project.dir, 'out', 'report.html');
    const res = await runCli(['monitor', 'support-bot', '--html', file, '--json'], {cwd: project.dir});
    expect(res.code, res.stderr).toBe(0);
    expect(res.json.report).toBe(file);
    const html = readFileSync(file, 'utf8');
    // Self-contained: no external URL is loaded (the only http(s) strings are the SVG namespace and the deployment URL text).
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=["']?https?:/i);
    expect(html).toContain("default-src 'none'");

    const {chromium} = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({viewport: {width: 1360, height: 900}});
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto('file://' + file);
      const charts = await page.$$eval('svg.chart', (els) =>
        els.map((e) => ({
          name: e.getAttribute('data-chart'),
          points: Number(e.getAttribute('data-points')),
          marks: e.querySelectorAll('.mark').length,
          width: e.getBoundingClientRect().width,
        })),
      );
      const byName = Object.fromEntries(charts.map((c) => [c.name, c]));
      for (const name of ['latency', 'throughput', 'ttft', 'ttft-time', 'drift', 'drift-lengths', 'drift-terms', 'loss', 'cost']) {
        expect(byName[name], `chart ${name}`).toBeDefined();
        expect(byName[name]!.points, `chart ${name} data points`).toBeGreaterThan(0);
        expect(byName[name]!.marks, `chart ${name} drawn marks`).toBeGreaterThan(0);
        expect(byName[name]!.width, `chart ${name} laid out`).toBeGreaterThan(200);
      }
      // The loss chart shows both runs of the lineage (finetune and its base run).
      const lossTitles = await page.$$eval('svg[data-chart="loss"] path.mark title', (els) => els.map((e) => e.textContent));
      expect(lossTitles).toEqual(expect.arrayContaining(['ft-1 loss', 'ft-1 val_loss', 'train-1 loss', 'train-1 val_loss']));
      expect(await page.textContent('body')).toContain('p95_latency_ms');
      expect(problems).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      mkdirSync(ARTIFACTS, {recursive: true});
      await page.screenshot({path: path.join(ARTIFACTS, 'monitor-report.png'), fullPage: true});
    } finally {
      await browser.close();
    }
  });

  it('writes a run report with loss curves and cost', async () => {
    const file = path.join(project.dir, 'run.html');
    const res = await runCli(['runs', 'watch', 'train-1', '--once', '--html', file], {cwd: project.dir});
    expect(res.code, res.stderr).toBe(0);
    const {chromium} = await import('playwright-core');
    const browser = await chromium.launch({executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']});
    try {
      const page = await browser.newPage({viewport: {width: 1360, height: 800}});
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto('file://' + file);
      const points = await page.$$eval('svg.chart', (els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-chart'), Number(e.getAttribute('data-points'))])));
      expect(points.loss).toBe(21 + 5);
      expect(points.cost).toBe(2); // spent and budget
      expect(points['tokens-per-s']).toBe(21);
      expect(points.gpu).toBe(21);
      expect(errors).toEqual([]);
      mkdirSync(ARTIFACTS, {recursive: true});
      await page.screenshot({path: path.join(ARTIFACTS, 'monitor-run-report.png'), fullPage: true});
    } finally {
      await browser.close();
    }
  });
});
