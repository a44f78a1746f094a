/**
 * `llmops finetune --base hf:OWNER/NAME`: the base is downloaded with @huggingface/hub's snapshotDownload
 * into the project's cache and the real trainer fine-tunes from it. The Hub is the one part we cannot
 * reach here, so a local HTTP server stands in for it (test/helpers/hub-stand-in.ts), serving one of
 * OUR exported model directories (trained in beforeAll with the real trainer).
 */
import {createHash} from 'node:crypto';
import {existsSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {runCli} from '../helpers/cli.js';
import {serveRepo, walk, type SeenRequest, type StandIn} from '../helpers/hub-stand-in.js';
import {makeProject, withLedger} from './helpers.js';

const REPO = 'acme/tiny-llmops';
const SHA = createHash('sha1').update('tiny-llmops@1').digest('hex');
const TOKEN = 'hf_' + 'StandInRuntimeToken0123456789abcdef';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('llmops finetune --base hf:OWNER/NAME (Hub mocked by a local stand-in server)', () => {
  let project: ReturnType<typeof makeProject>;
  let baseDir = '';
  let files: string[] = [];
  let hub: StandIn | undefined;
  let url = '';
  const count = (what: (r: SeenRequest) => boolean) => hub!.seen.filter(what).length;
  const env = () => ({HF_ENDPOINT: url, HF_TOKEN: TOKEN});
  const snapshot = () => path.join(project.dir, '.llmops', 'cache', `models--${REPO.replace('/', '--')}`, 'snapshots', SHA);

  beforeAll(async () => {
    project = makeProject();
    // The base: a micro model trained and exported by the real trainer, as `llmops train` leaves it.
    const r = await runCli(['train', '--max-steps', '2', '--json'], {cwd: project.dir});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    baseDir = r.json.modelDir;
    files = walk(baseDir);
    expect(files).toEqual(expect.arrayContaining(['model.pt', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'llmops_model.json', 'onnx/model.onnx']));
    // A private repo (a wrong token is a 401, as on the Hub) serving the export at one commit.
    hub = await serveRepo(REPO, baseDir, SHA, {token: TOKEN});
    url = hub.url;
  }, 120_000);

  afterAll(() => hub?.close());

  it('fine-tunes from hf:acme/tiny-llmops downloaded into the cache, records the hf: base in lineage, and never writes the token (Hub mocked by a local stand-in server)', async () => {
    const r = await runCli(['finetune', '--base', `hf:${REPO}`, '--method', 'lora', '--max-steps', '5', '--json'], {cwd: project.dir, env: env()});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json.status).toBe('succeeded');
    expect(r.json.kind).toBe('finetune');
    expect(existsSync(path.join(r.json.modelDir, 'onnx', 'model.onnx'))).toBe(true);

    // Every file of the repo landed in the project's cache, byte for byte, each fetched once, with the token.
    for (const f of files) expect(sha256(readFileSync(path.join(snapshot(), f))), f).toBe(sha256(readFileSync(path.join(baseDir, f))));
    expect(count((q) => q.path.includes('/resolve/') && q.full)).toBe(files.length);
    expect(hub!.seen.every((q) => q.auth === `Bearer ${TOKEN}`)).toBe(true);

    withLedger(project.dbFile, (l) => {
      const run = l.getRun(r.json.id);
      expect(run.parent_run_id).toBeNull();
      expect(l.metricSeries(run.id, 'loss').at(-1)?.step).toBe(5);
      const spec = JSON.parse(run.spec_json);
      expect(spec.trainerSpec.finetune).toMatchObject({base: snapshot(), method: 'lora'});
    });
    const show = await runCli(['runs', 'show', r.json.id, '--json'], {cwd: project.dir});
    expect(show.code, show.stderr).toBe(0);
    expect(show.json.lineage).toMatchObject({base: `hf:${REPO}`, base_revision: SHA, base_dir: snapshot(), parent_run_id: null});
    const showHuman = await runCli(['runs', 'show', r.json.id], {cwd: project.dir});
    expect(showHuman.stdout).toContain(`base hf:${REPO}@${SHA.slice(0, 10)}`);
    const lin = await runCli(['lineage', r.json.id, '--json'], {cwd: project.dir});
    expect(lin.code, lin.stderr).toBe(0);
    expect(lin.json.upstream).toMatchObject({type: 'run', id: r.json.id, method: 'lora', externalBase: `hf:${REPO}`});
    const linHuman = await runCli(['lineage', r.json.id], {cwd: project.dir});
    expect(linHuman.stdout).toContain(`from base: hf:${REPO}`);

    // The token never reaches the ledger, the run dir, the cache or any output.
    const everywhere = walk(project.dir).map((f) => readFileSync(path.join(project.dir, f)).toString('latin1'));
    expect(everywhere.length).toBeGreaterThan(20);
    for (const text of [r.stdout, r.stderr, show.stdout, showHuman.stdout, lin.stdout, linHuman.stdout, ...everywhere]) expect(text).not.toContain(TOKEN);
  });

  it('a second finetune from the same base reuses the cache: no file is downloaded again (Hub mocked by a local stand-in server)', async () => {
    const before = {resolve: count((q) => q.path.includes('/resolve/')), pathsInfo: count((q) => q.path.includes('/paths-info/'))};
    const r = await runCli(['finetune', '--base', `hf:${REPO}`, '--method', 'lora', '--max-steps', '5', '--json'], {cwd: project.dir, env: env()});
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json.status).toBe('succeeded');
    // The client still asks which commit `main` is and lists the tree, but fetches no file.
    expect(count((q) => q.path.includes('/resolve/'))).toBe(before.resolve);
    expect(count((q) => q.path.includes('/paths-info/'))).toBe(before.pathsInfo);
    withLedger(project.dbFile, (l) => {
      const lineage = JSON.parse(l.getRun(r.json.id).lineage_json);
      expect(lineage).toMatchObject({base: `hf:${REPO}`, base_revision: SHA, base_dir: snapshot()});
    });
  });

  it('an unknown repo or a refused token is a clear INPUT error (exit 4) with no stack trace and no run (Hub mocked by a local stand-in server)', async () => {
    const runsBefore = withLedger(project.dbFile, (l) => l.countRuns());
    const missing = await runCli(['finetune', '--base', 'hf:acme/no-such-model', '--max-steps', '5'], {cwd: project.dir, env: env()});
    expect(missing.code, missing.stderr).toBe(4);
    expect(missing.stderr).toContain('hf:acme/no-such-model: not found on the Hub (HTTP 404)');
    expect(missing.stderr).toContain('Try this:');
    expect(missing.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);

    const asJson = await runCli(['finetune', '--base', 'hf:acme/no-such-model', '--json'], {cwd: project.dir, env: env()});
    expect(asJson.code).toBe(4);
    expect(asJson.json.error).toMatchObject({code: 'INPUT'});

    const wrong = 'hf_' + 'WrongTokenWrongToken0123456789ab';
    const refused = await runCli(['finetune', '--base', `hf:${REPO}`, '--max-steps', '5'], {cwd: project.dir, env: {HF_ENDPOINT: url, HF_TOKEN: wrong}});
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toContain('access denied by the Hub (HTTP 401)');
    expect(refused.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);

    for (const o of [missing, asJson, refused]) expect(o.stdout + o.stderr).not.toContain(TOKEN);
    expect(refused.stdout + refused.stderr).not.toContain(wrong);
    const malformed = await runCli(['finetune', '--base', 'hf:no-owner'], {cwd: project.dir, env: env()});
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('expected hf:OWNER/NAME');
    expect(withLedger(project.dbFile, (l) => l.countRuns())).toBe(runsBefore);
  });
});
