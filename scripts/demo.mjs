#!/usr/bin/env node
/**
 * The newcomer's path: runs every stage of the lifecycle through the real CLI, in a fresh demo
 * project, showing each command, what it printed and how long it took. Used by
 * scripts/quickstart.sh (the README's first command) and by the end-to-end test.
 *
 *   LLMOPS_DEMO_DIR   where the demo project goes (default: ./demo); it is recreated each time.
 */
import {spawnSync} from 'node:child_process';
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(repo, 'bin', 'run.js');
const dir = path.resolve(process.env.LLMOPS_DEMO_DIR ?? path.join(repo, 'demo'));
const MARKER = '.llmops-demo';
const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s) => (colour ? `\u001B[1m${s}\u001B[0m` : s);
const dim = (s) => (colour ? `\u001B[2m${s}\u001B[0m` : s);
const timings = [];
const t0 = Date.now();

function step(title, args, {json = false, allowFail = false} = {}) {
  const shown = `llmops ${args.join(' ')}`;
  process.stdout.write(`\n${bold(`==> ${title}`)}\n${dim('$ ' + shown)}\n`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    stdio: json ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
    env: {...process.env},
  });
  const seconds = (Date.now() - started) / 1000;
  timings.push({title, command: shown, seconds, code: r.status});
  process.stdout.write(dim(`(${seconds.toFixed(1)} s, exit ${r.status})\n`));
  if (r.status !== 0 && !allowFail) {
    process.stderr.write(`demo: "${shown}" failed with exit ${r.status}; the project is in ${dir}\n`);
    if (json && r.stdout) process.stderr.write(r.stdout + '\n');
    process.exit(r.status ?? 1);
  }
  if (!json) return undefined;
  try {
    return JSON.parse(r.stdout);
  } catch {
    process.stderr.write(`demo: "${shown}" did not print JSON:\n${r.stdout}\n`);
    process.exit(1);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A fresh project: only a directory that we created (it holds our marker) is ever removed.
if (existsSync(dir)) {
  if (!existsSync(path.join(dir, MARKER))) {
    process.stderr.write(`demo: ${dir} exists and was not made by this demo; set LLMOPS_DEMO_DIR to another path.\n`);
    process.exit(2);
  }
  rmSync(dir, {recursive: true, force: true});
}

process.stdout.write(bold('llmops: the whole lifecycle on this machine, no GPU and no account needed\n'));
// Where scripts/setup.sh made a virtual environment (no apt on this platform), the trainer uses it.
const venvPython = path.join(repo, '.venv', 'bin', 'python');
const pythonFlag = existsSync(venvPython) ? ['--python', venvPython] : [];
spawnSync(process.execPath, [bin, 'init', dir, '--yes', '--name', 'llmops-demo', ...pythonFlag], {stdio: 'inherit'});
writeFileSync(path.join(dir, MARKER), 'created by scripts/demo.mjs\n');
timings.push({title: 'Create a project', command: `llmops init ${path.relative(process.cwd(), dir) || '.'} --yes`, seconds: (Date.now() - t0) / 1000, code: 0});

step('Check this machine', ['doctor']);
const data = step('Prepare the data: clean, dedupe, redact PII, split', ['data', 'prep', '--json'], {json: true});
process.stdout.write(
  `dataset ${data.id}: ${data.records.read} read, ${data.records.written.train}/${data.records.written.val}/${data.records.written.test} train/val/test, ` +
    `${data.records.duplicates.exact + data.records.duplicates.near} duplicates, ${data.records.rejected} rejected\n`,
);
step('Train the tiny preset from scratch on the CPU', ['train', '--dataset', data.id]);
const base = step('Find the run', ['runs', 'list', '--kind', 'train', '--limit', '1', '--json'], {json: true}).runs[0];
step('Fine-tune it with LoRA on the instructions', ['finetune', '--base', base.id, '--method', 'lora', '--dataset', data.id]);
const ft = step('Find the fine-tune', ['runs', 'list', '--kind', 'finetune', '--limit', '1', '--json'], {json: true}).runs[0];
const port = await freePort();
const dep = step('Deploy it on loopback (OpenAI-compatible API)', ['deploy', '--model', ft.id, '--name', 'demo', '--port', String(port), '--detach', '--json'], {json: true});
const baseURL = `${dep.url ?? `http://127.0.0.1:${port}`}/v1`;

process.stdout.write(`\n${bold('==> Send real requests with the openai client')}\n${dim(`baseURL ${baseURL}`)}\n`);
const started = Date.now();
const {default: OpenAI} = await import('openai');
const client = new OpenAI({baseURL, apiKey: 'not-needed-on-loopback'});
const models = await client.models.list();
const model = models.data[0].id;
const prompts = ['What is 3 plus 4?', 'Give the opposite of the word.\n\nhot', 'Where is the animal?\n\nThe red fox sleeps in the garden.', 'Write the number 7 as a word.'];
for (const [i, p] of prompts.entries()) {
  const stream = i % 2 === 1;
  const req = {model, messages: [{role: 'user', content: p}], max_tokens: 48, temperature: 0, seed: 1};
  let text = '';
  if (stream) {
    const s = await client.chat.completions.create({...req, stream: true});
    for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? '';
  } else {
    const r = await client.chat.completions.create(req);
    text = r.choices[0].message.content ?? '';
  }
  process.stdout.write(`  ${JSON.stringify(p)}\n    -> ${JSON.stringify(text.trim())}${stream ? ' (streamed)' : ''}\n`);
}
const completion = await client.completions.create({model, prompt: 'The brown owl', max_tokens: 48, temperature: 0.8, seed: 7});
process.stdout.write(`  "The brown owl" -> ${JSON.stringify(completion.choices[0].text)} (completion)\n`);
timings.push({title: 'Send real requests', command: 'openai client', seconds: (Date.now() - started) / 1000, code: 0});

// The server records requests off the hot path: give its batch writer a moment.
await new Promise((r) => setTimeout(r, 1500));
step('Watch the deployment', ['monitor', 'demo', '--since', '1h']);
const report = path.join(dir, 'monitor-report.html');
step('Write the HTML report', ['monitor', 'demo', '--since', '1h', '--html', report]);
step('Stop the deployment', ['deploy', 'stop', 'demo']);
step('What it cost', ['cost', '--by', 'stage']);
step('Where the model came from', ['lineage', ft.id]);

const total = (Date.now() - t0) / 1000;
process.stdout.write(`\n${bold('Done')} in ${total.toFixed(0)} s.\n`);
for (const t of timings) process.stdout.write(`  ${t.seconds.toFixed(1).padStart(6)} s  ${t.title}\n`);
const ftRun = JSON.parse(
  spawnSync(process.execPath, [bin, 'runs', 'show', ft.id, '--json'], {cwd: dir, encoding: 'utf8'}).stdout,
);
const modelDir = ftRun.artifacts?.find?.((a) => a.kind === 'model')?.path ?? path.join(dir, '.llmops', 'runs', ft.id, 'model');
process.stdout.write(`
Project:  ${dir}
Model:    ${modelDir}
Report:   ${report}
Ledger:   ${path.join(dir, '.llmops', 'llmops.db')}

Try next (in ${dir}; \`npm install -g ${repo}\` puts \`llmops\` on your PATH, or run \`node ${bin}\`):
  llmops runs list
  llmops runs show ${ft.id}
  llmops deploy --model ${ft.id}          # serve it again, attached (Ctrl-C stops it)
  llmops monitor demo --check            # SLOs from llmops.yaml, exit 7 on a breach
  llmops train --preset tiny --budget 0.01 --dry-run
`);
writeFileSync(path.join(dir, 'demo-timings.json'), JSON.stringify({total, steps: timings}, null, 2) + '\n');
if (!existsSync(report) || readFileSync(report, 'utf8').length < 1000) {
  process.stderr.write('demo: the HTML report was not written\n');
  process.exit(1);
}
