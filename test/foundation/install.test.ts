/**
 * The README's "Install" section, kept true: the tarball `npm pack` makes installs with
 * `npm install -g` into a fresh prefix and the installed `llmops` works away from the repo
 * (`init`, `data prep`, `doctor`), as a user who never cloned the repo would run it.
 *
 * Slow by nature (one real `npm install` of ~200 packages: about 40 s here from a warm npm cache),
 * so it is one test in a file of its own. Run `npm run build` first (`npm test` does).
 *
 * The one boundary replaced: better-sqlite3's install script (prebuild-install) downloads a
 * prebuilt binding from GitHub releases, which this machine cannot reach, and falls back to
 * compiling SQLite (measured here: the whole install took 8 min 47 s that way on a loaded 2-core
 * machine). The test serves that same download on loopback, built from the repo's own
 * node_modules, through prebuild-install's documented mirror setting
 * (npm_config_better_sqlite3_binary_host). Everything else is the real npm and the real registry
 * or npm cache. onnxruntime-node's optional CUDA download is skipped (ONNXRUNTIME_NODE_INSTALL=skip),
 * as the README says to do offline; its CPU binaries ship inside the package.
 */
import {execFile} from 'node:child_process';
import {createReadStream, existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync} from 'node:fs';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {REPO_ROOT, tempDir} from '../helpers/cli.js';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: {cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {cwd: opts.cwd, env: {...process.env, NO_COLOR: '1', CI: '1', ...opts.env}, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024},
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as {code?: unknown}).code === 'number' ? ((error as {code: number}).code) : 1) : 0;
        resolve({code, stdout, stderr});
      },
    ).stdin?.end();
  });
}

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {name: string; version: string; files: string[]};
const sqlitePkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'package.json'), 'utf8')) as {version: string};
const binding = path.join(REPO_ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');

/** A loopback stand-in for better-sqlite3's GitHub release downloads, serving the repo's own build. */
async function prebuildMirror(dir: string): Promise<{url: string; requests: string[]; close: () => Promise<void>}> {
  // prebuild-install's asset name: {name}-v{version}-{runtime}-v{abi}-{platform}{libc}-{arch}.tar.gz
  const asset = `better-sqlite3-v${sqlitePkg.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const tarball = path.join(dir, asset);
  const tar = await run('tar', ['czf', tarball, '-C', path.join(REPO_ROOT, 'node_modules', 'better-sqlite3'), 'build/Release/better_sqlite3.node'], {cwd: dir});
  if (tar.code !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === `/v${sqlitePkg.version}/${asset}`) {
      res.writeHead(200, {'content-type': 'application/gzip'});
      createReadStream(tarball).pipe(res);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as AddressInfo;
  return {url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve()))};
}

describe('install from the npm pack tarball (slow: one real npm install, about 40 s)', () => {
  let tmp: string;
  let mirror: Awaited<ReturnType<typeof prebuildMirror>>;

  beforeAll(async () => {
    if (!existsSync(path.join(REPO_ROOT, 'dist', 'bundle', 'cli.js')) || !existsSync(path.join(REPO_ROOT, 'oclif.manifest.json'))) {
      throw new Error('dist/ or oclif.manifest.json is missing: run `npm run build` first');
    }
    if (!existsSync(binding)) throw new Error(`${binding} is missing: run \`npm ci\` first`);
    tmp = tempDir('llmops-install-');
    mirror = await prebuildMirror(tmp);
  });

  afterAll(async () => {
    await mirror?.close();
    // The installed prefix is ~360 MB (onnxruntime-node alone is most of it).
    if (tmp) rmSync(tmp, {recursive: true, force: true});
  });

  it('packs dist/, bin/, templates/ and the manifest, installs globally, and init, data prep and doctor work from a fresh directory', async () => {
    // 1. Pack: what `files` ships, and nothing of the sources or tests.
    const packed = await run('npm', ['pack', '--json', '--pack-destination', tmp, REPO_ROOT], {cwd: tmp});
    expect(packed.code, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout) as Array<{filename: string; files: Array<{path: string}>}>;
    const files = info!.files.map((f) => f.path);
    expect(pkg.files.sort()).toEqual(['bin', 'dist', 'oclif.manifest.json', 'templates']);
    for (const f of ['bin/run.js', 'dist/bundle/cli.js', 'dist/hooks/not-found.js', 'dist/lib/errors.js', 'oclif.manifest.json', 'templates/trainer/train.py', 'package.json', 'README.md']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(src|test|bench|scripts|node_modules)\//.test(f))).toEqual([]);
    const tarball = path.join(tmp, info!.filename);
    expect(info!.filename).toBe(`${pkg.name}-${pkg.version}.tgz`);

    // 2. Install it into a temporary global prefix, as the README says.
    const prefix = path.join(tmp, 'prefix');
    const started = Date.now();
    const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', tarball], {
      cwd: tmp,
      env: {ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_better_sqlite3_binary_host: mirror.url},
      timeoutMs: 600_000,
    });
    const seconds = (Date.now() - started) / 1000;
    expect(install.code, install.stderr.slice(-4000)).toBe(0);
    process.stderr.write(`npm install -g of the tarball: ${seconds.toFixed(1)} s\n`);
    // The binding came through prebuild-install (the mirror), not a compile or a copy.
    expect(mirror.requests).toEqual([`/v${sqlitePkg.version}/better-sqlite3-v${sqlitePkg.version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`]);
    const installed = path.join(prefix, 'lib', 'node_modules', pkg.name);
    // A copy inside the prefix, not a link back to the repo (which `npm install -g .` would make).
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(realpathSync(installed).startsWith(realpathSync(prefix))).toBe(true);
    // Only production dependencies travel: no dev tools, no @oclif/plugin-not-found (our own hook suggests).
    for (const dev of ['vitest', 'typescript', 'esbuild', '@oclif/plugin-not-found']) expect(existsSync(path.join(installed, 'node_modules', dev)), dev).toBe(false);
    const llmops = path.join(prefix, 'bin', 'llmops');
    expect(existsSync(llmops)).toBe(true);

    // 3. Use it from a directory that is not the repo, with only the prefix's bin added to PATH.
    const work = path.join(tmp, 'work');
    const env = {PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}`, LLMOPS_DB: undefined, LLMOPS_CONFIG: undefined};
    mkdirSync(work);

    const version = await run('llmops', ['--version'], {cwd: work, env});
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toContain(`${pkg.name}/${pkg.version}`);

    const init = await run('llmops', ['init', '--yes', 'demo'], {cwd: work, env});
    expect(init.code, init.stderr).toBe(0);
    const project = path.join(work, 'demo');
    for (const f of ['llmops.yaml', 'llmops.schema.json', 'data/sample/corpus.jsonl', 'data/sample/instructions.jsonl', 'trainer/train.py', 'trainer/presets.json']) {
      expect(existsSync(path.join(project, f)), f).toBe(true);
    }
    // The scaffold is the packed templates, byte for byte.
    expect(readFileSync(path.join(project, 'trainer', 'train.py'), 'utf8')).toBe(readFileSync(path.join(REPO_ROOT, 'templates', 'trainer', 'train.py'), 'utf8'));
    expect(init.stdout + init.stderr).toContain('llmops data prep');

    const prep = await run('llmops', ['data', 'prep', '--json'], {cwd: project, env});
    expect(prep.code, prep.stderr).toBe(0);
    const ds = JSON.parse(prep.stdout) as {id: string; records: {read: number; written: {train: number; val: number; test: number}}; manifest: string};
    expect(ds.id).toMatch(/^ds-/);
    expect(ds.records.read).toBeGreaterThan(100);
    expect(ds.records.written.train).toBeGreaterThan(0);
    for (const f of ['train.jsonl', 'val.jsonl', 'test.jsonl', 'manifest.json']) expect(existsSync(path.join(project, 'data', 'prepared', f)), f).toBe(true);
    const trainLines = readFileSync(path.join(project, 'data', 'prepared', 'train.jsonl'), 'utf8').trim().split('\n');
    expect(trainLines).toHaveLength(ds.records.written.train);
    // The dataset went into the project's ledger (the native SQLite binding works).
    expect(existsSync(path.join(project, '.llmops', 'llmops.db'))).toBe(true);

    const doctor = await run('llmops', ['doctor', '--json'], {cwd: project, env});
    const report = JSON.parse(doctor.stdout) as {ok: boolean; checks: Array<{name: string; ok: boolean; required: boolean; detail: string}>};
    // Exit 0 when all required checks pass, 8 (environment) otherwise: it depends on the machine's Python.
    expect(doctor.code).toBe(report.ok ? 0 : 8);
    const check = (name: string) => report.checks.find((c) => c.name === name);
    expect(check('node')).toMatchObject({ok: true, detail: `Node.js ${process.versions.node}`});
    expect(check('ledger')).toMatchObject({ok: true});
    expect(check('ledger')!.detail).toMatch(/schema \d+\/\d+, 0 runs/);
    const ort = JSON.parse(readFileSync(path.join(installed, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as {version: string};
    expect(check('onnxruntime')).toMatchObject({ok: true, detail: `onnxruntime-node ${ort.version}`});
  }, 900_000);
});
