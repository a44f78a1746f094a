import {execFileSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {openLedgerDb} from '../../src/lib/ledger/db.js';
import {LATEST_SCHEMA_VERSION} from '../../src/lib/ledger/migrations.js';
import {REPO_ROOT, runCli, tempDir} from '../helpers/cli.js';

const pkg = (p: string) => JSON.parse(readFileSync(path.join(REPO_ROOT, p), 'utf8')) as {version: string};

describe('llmops version', () => {
  it('--json reports llmops, Node, platform, onnxruntime-node, torch from the configured Python and the ledger schemas', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: v\npython: /usr/bin/python3\n');
    const db = openLedgerDb(path.join(dir, '.llmops', 'llmops.db'));
    db.close();
    const r = await runCli(['version', '--json'], {cwd: dir, env: {LLMOPS_DB: undefined}});
    expect(r.code).toBe(0);
    // Independent references: the package files and the interpreter itself.
    const torch = execFileSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], {encoding: 'utf8'}).trim();
    expect(r.json).toMatchObject({
      llmops: pkg('package.json').version,
      node: process.versions.node,
      platform: process.platform,
      arch: process.arch,
      onnxruntimeNode: pkg('node_modules/onnxruntime-node/package.json').version,
      torch,
      ledger: {latestSchemaVersion: LATEST_SCHEMA_VERSION, path: path.join(dir, '.llmops', 'llmops.db'), schemaVersion: LATEST_SCHEMA_VERSION},
    });
  });

  it('--verbose never fails: a Python without torch, no ledger yet and a broken llmops.yaml are reported, exit 0', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: v\npython: /nonexistent/python3\n');
    const r = await runCli(['version', '--verbose'], {cwd: dir, env: {LLMOPS_DB: undefined}});
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`llmops: ${pkg('package.json').version}\n`);
    expect(r.stdout).toContain(`platform: ${process.platform}-${process.arch}\n`);
    expect(r.stdout).toContain('torch: not found (/nonexistent/python3)');
    expect(r.stdout).toContain(`ledger schema: ${LATEST_SCHEMA_VERSION} (no ledger yet at ${path.join(dir, '.llmops', 'llmops.db')})`);
    writeFileSync(path.join(dir, 'llmops.yaml'), 'name: [broken\n');
    const broken = await runCli(['version', '--verbose'], {cwd: dir, env: {LLMOPS_DB: undefined}});
    expect(broken.code).toBe(0);
    expect(broken.stdout).toContain('onnxruntime-node: ');
    const plain = await runCli(['version'], {cwd: dir});
    expect(plain.stdout.trim()).toMatch(new RegExp(`^llmops/${pkg('package.json').version.replaceAll('.', '\\.')} `));
  });
});
