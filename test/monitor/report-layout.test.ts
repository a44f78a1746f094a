/**
 * The HTML report's labels, legends and names are not clipped: laid out by real headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core), every <text> of every chart lies inside
 * its <svg>'s box, the labels of a chart do not overlap one another, a shortened label keeps its
 * full text in a <title> tooltip, and no card, header or table is wider than the page gives it.
 * The fixture is made to be hard: long run ids and deployment name, a 7-day window (date-and-time
 * ticks), long terms, big counts.
 */
import {existsSync, mkdirSync} from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {monitorDeployment, monitorRun} from '../../src/lib/monitor/index.js';
import {REPO_ROOT} from '../helpers/cli.js';
import {cleanupProjects, HOUR, insertRequests, makeProject, promptRequest, rng, TRAIN_PROMPTS, type Project} from './fixture.js';

const CHROMIUM = process.env.LLMOPS_TEST_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const TRAIN = 'pretrain-customer-support-assistant-20261130-0640-a1b2c3';
const FT = 'finetune-customer-support-assistant-20261130-0712-d4e5f6';
const NAME = 'customer-support-assistant-production-eu-west-1-canary-with-a-very-long-deployment-name';
const LONG_PROMPTS = [
  'troubleshooting microservices orchestration observability dashboards configuration',
  'containerization deployment acknowledgement reconciliation responsibilities',
];

let project: Project;
beforeAll(() => {
  project = makeProject({ids: {train: TRAIN, finetune: FT, deployment: 'dep-long', name: NAME}, monitor: {slo: {p95_latency_ms: 900, error_rate: 0.05, client_error_rate: 0.01}}});
  const r = rng(7);
  const rows = [];
  // 12,000 requests in the last hour (big counts on the y axis), drifting to long terms late.
  for (let i = 0; i < 12_000; i++) {
    const x = r();
    const late = i > 8000;
    rows.push(
      promptRequest('dep-long', project.now - HOUR + Math.floor((i * HOUR) / 12_000), late ? LONG_PROMPTS[i % 2]! : TRAIN_PROMPTS[i % 8]!, {
        status: x < 0.02 ? 'error' : x < 0.025 ? 'cancelled' : 'ok',
        http_status: x < 0.01 ? 400 : x < 0.02 ? 500 : x < 0.025 ? 499 : 200,
        ttft_ms: 8 + r() * r() * 90,
        e2e_ms: 150 + r() * r() * 12_000,
        itl_ms: 4 + r() * 3,
        completion_tokens: 20 + Math.floor(r() * 100),
      }),
    );
  }
  insertRequests(project.ledger, rows);
  project.ledger.evals.insert(
    ['sexual-orientation', 'physical-appearance', 'race-color', 'socioeconomic'].map((t, i) => ({
      eval_id: 'ev-1', model: project.modelDir, run_id: FT, suite: 'pairs' as const, metric: `pct_stereotype[${t}]`, value: 0.4 + i * 0.07,
      n: 120, data: 'builtin', data_sha256: null, baseline: null, role: 'model' as const,
    })),
  );
});
afterAll(() => {
  project.ledger.close();
  cleanupProjects();
});

interface Problem {
  chart: string;
  text: string;
  why: string;
}

/** Runs in the page: every text of every chart inside its svg, labels not overlapping, cards not overflowing. */
function layoutProblems(): {problems: Problem[]; shortened: Array<{text: string; title: string}>; charts: number} {
  // Runs in the browser: the project compiles without the DOM's types.
  const {document, window} = globalThis as any;
  const problems: Problem[] = [];
  const shortened: Array<{text: string; title: string}> = [];
  const charts: any[] = [...document.querySelectorAll('svg.chart')];
  for (const svg of charts) {
    const chart = svg.getAttribute('data-chart') ?? '?';
    const box = svg.getBoundingClientRect();
    // What a <text> shows: its own text, not the <title> tooltip inside it.
    const shown = (t: any): string => [...t.childNodes].filter((n: any) => n.nodeType === 3).map((n: any) => n.textContent).join('');
    const texts: any[] = [...svg.querySelectorAll('text')].filter((t: any) => shown(t).trim() !== '');
    const rects: any[] = texts.map((t) => t.getBoundingClientRect());
    // Tick labels along one axis say different things (a narrow span must not print one time six times).
    const ticks = texts.filter((t) => t.getAttribute('class') === 'tick').map((t) => `${t.getAttribute('y')}|${shown(t)}`);
    for (const dup of ticks.filter((k, i) => ticks.indexOf(k) !== i)) problems.push({chart, text: dup.split('|')[1]!, why: 'tick label repeated on its axis'});
    texts.forEach((t, i) => {
      const r = rects[i]!;
      const text = shown(t);
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
        problems.push({chart, text, why: `outside the svg: text [${r.left.toFixed(1)}, ${r.right.toFixed(1)}] x [${r.top.toFixed(1)}, ${r.bottom.toFixed(1)}], svg [${box.left.toFixed(1)}, ${box.right.toFixed(1)}] x [${box.top.toFixed(1)}, ${box.bottom.toFixed(1)}]`});
      }
      const title = t.querySelector('title')?.textContent;
      if (text.includes('…')) shortened.push({text, title: title ?? ''});
      for (let j = i + 1; j < texts.length; j++) {
        const o = rects[j]!;
        const w = Math.min(r.right, o.right) - Math.max(r.left, o.left);
        const h = Math.min(r.bottom, o.bottom) - Math.max(r.top, o.top);
        // Glyph boxes include line spacing: a sliver of 1.5 px is not an overlap a reader sees.
        if (w > 1.5 && h > 1.5) problems.push({chart, text, why: `overlaps "${shown(texts[j])}"`});
      }
    });
  }
  for (const el of document.querySelectorAll('header, section.card, .kpi, table, pre') as any[]) {
    if (el.scrollWidth > el.clientWidth + 1) problems.push({chart: el.tagName.toLowerCase(), text: (el.textContent ?? '').slice(0, 60), why: `wider than its box: ${el.scrollWidth} > ${el.clientWidth}`});
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push({chart: 'page', text: '', why: `page scrolls sideways: ${document.documentElement.scrollWidth} > ${window.innerWidth}`});
  return {problems, shortened, charts: charts.length};
}

const HAVE_CHROMIUM = existsSync(CHROMIUM);
describe.skipIf(!HAVE_CHROMIUM)(HAVE_CHROMIUM ? 'monitor --html layout in headless Chromium' : `monitor --html layout (skipped: no Chromium at ${CHROMIUM})`, () => {
  it('keeps every label, legend and long name inside its chart and card, from a wide screen to a phone', async () => {
    const cfg = configSchema.parse({monitor: {slo: {p95_latency_ms: 900, error_rate: 0.05, client_error_rate: 0.01}}}).monitor;
    const deployment = path.join(project.dir, 'deployment.html');
    const run = path.join(project.dir, 'run.html');
    // 7 days: ticks carry a date and a time.
    await monitorDeployment(project.ledger, cfg, {deployment: 'dep-long', since: '7d', html: deployment, now: project.now});
    monitorRun(project.ledger, cfg, FT, {html: run, detectStall: false});
    const {chromium} = await import('playwright-core');
    const browser = await chromium.launch({executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']});
    try {
      mkdirSync(ARTIFACTS, {recursive: true});
      for (const [file, width] of [[deployment, 1360], [deployment, 640], [deployment, 400], [run, 1360]] as const) {
        const page = await browser.newPage({viewport: {width, height: 900}});
        await page.goto('file://' + file);
        const res = await page.evaluate(layoutProblems);
        expect(res.charts, file).toBeGreaterThan(3);
        expect(res.problems, `${path.basename(file)} at ${width}px`).toEqual([]);
        // A label that had to be shortened keeps its whole text as a tooltip.
        for (const s of res.shortened) {
          const [head, tail] = s.text.split('…');
          expect(s.title.startsWith(head!) && s.title.endsWith(tail!) && s.title.length > s.text.length, `tooltip "${s.title}" of "${s.text}"`).toBe(true);
        }
        if (file === deployment && width === 1360) {
          // The long run ids do not fit the loss legend whole: shortened there, whole in the tooltip.
          expect(res.shortened.map((s) => s.title)).toEqual(expect.arrayContaining([`${FT} loss`, `${FT} val_loss`, `finetune ${FT}`]));
          // Shortened in the middle: the two series of one run still read differently.
          const shown = new Set(res.shortened.filter((s) => s.title.startsWith(FT)).map((s) => s.text));
          expect(shown.size).toBe(2);
          expect(await page.textContent('header h1')).toContain(NAME);
        }
        await page.screenshot({path: path.join(ARTIFACTS, `monitor-layout-${path.basename(file, '.html')}-${width}.png`), fullPage: true});
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });
});
