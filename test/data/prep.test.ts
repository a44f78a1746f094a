import {createHash} from 'node:crypto';
import {existsSync, readFileSync, writeFileSync, mkdirSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {gzipSync} from 'node:zlib';
import {describe, expect, it} from 'vitest';
import {configSchema} from '../../src/lib/config/schema.js';
import {Ledger} from '../../src/lib/ledger/ledger.js';
import {prepareData} from '../../src/lib/data/pipeline.js';
import {ReferenceProfileBuilder} from '../../src/lib/profile/profile.js';
import {runCli, tempDir} from '../helpers/cli.js';

const lines = (f: string) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const words = (n: number, seed: number) => {
  let a = seed;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    out.push(['river', 'stone', 'light', 'garden', 'window', 'paper', 'silver', 'market', 'cloud', 'forest', 'engine', 'letter', 'harbor', 'winter', 'signal', 'candle'][a % 16]! + (a % 97));
  }
  return out.join(' ') + '.';
};

function project(files: Record<string, string | Buffer>, yaml = ''): string {
  const dir = tempDir('llmops-data-');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), {recursive: true});
    writeFileSync(path.join(dir, name), body);
  }
  writeFileSync(path.join(dir, 'llmops.yaml'), `ledger: {path: ledger.db}\n${yaml}`);
  return dir;
}

function dataConfig(data: Record<string, unknown>) {
  return configSchema.parse({data}).data;
}

const MIXED = {
  'data/corpus.jsonl': [
    JSON.stringify({text: 'The   quick brown fox\u0007 jumps over the lazy dog near the river bank.'}),
    '{"text": "broken json',
    JSON.stringify({text: 'Write to alice@example.com or call +1 (555) 201-7788 today, said the note on the door.'}),
    JSON.stringify({text: 'The quick brown fox jumps over the lazy dog near the river bank.'}),
    JSON.stringify({text: 'a'}),
  ].join('\n') + '\n',
  'data/instructions.jsonl': [
    JSON.stringify({instruction: 'Name a colour.', input: '', output: 'Blue is a colour of the sky.'}),
    JSON.stringify({instruction: 'Translate to French', input: 'good morning', output: 'bonjour', system: 'You translate.'}),
  ].join('\n'),
  'data/chats.json': JSON.stringify([
    {conversations: [{from: 'human', value: 'Hi there, how are you?'}, {from: 'gpt', value: 'Fine, thanks for asking.'}]},
    {messages: [{role: 'user', content: 'What is two plus two?'}, {role: 'assistant', content: 'Four, of course.'}]},
    {messages: [{role: 'assistant', content: 'I speak first.'}, {role: 'user', content: 'That is wrong.'}]},
  ], null, 2),
  'data/table.csv': 'title,text\nA,"A CSV row, with a comma, is still one document."\nB,Another plain document from the table.\n',
  'data/notes.txt.gz': gzipSync('First note line about the garden.\n\nSecond note line about the harbor.\n'),
};

describe('data prep (src/lib)', () => {
  it('converts a glob over mixed formats to canonical records, with rejects, PII, counts that reconcile and a ledger row', async () => {
    const dir = project(MIXED);
    const ledger = Ledger.open(path.join(dir, 'ledger.db'));
    const r = await prepareData({root: dir, config: dataConfig({inputs: ['data/*'], out: 'out', split: {train: 1, val: 0, test: 0}}), cacheDir: '.cache', ledger, workers: 0});
    const out = path.join(dir, 'out');
    for (const f of ['train.jsonl', 'val.jsonl', 'test.jsonl', 'rejected.jsonl', 'duplicates.jsonl', 'manifest.json', 'card.md', 'profile.json']) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
    }
    const train = lines(path.join(out, 'train.jsonl'));
    const texts = train.filter((x) => 'text' in x).map((x) => x.text);
    expect(texts).toContain('The quick brown fox jumps over the lazy dog near the river bank.');
    expect(texts).toContain('Write to <EMAIL> or call <PHONE> today, said the note on the door.');
    expect(texts).toContain('A CSV row, with a comma, is still one document.');
    expect(texts).toContain('Second note line about the harbor.');
    const chats = train.filter((x) => 'messages' in x);
    expect(chats.find((c) => c.messages[0].content === 'You translate.')?.messages).toEqual([
      {role: 'system', content: 'You translate.'},
      {role: 'user', content: 'Translate to French\n\ngood morning'},
      {role: 'assistant', content: 'bonjour'},
    ]);
    expect(chats.find((c) => c.messages[0].content === 'Hi there, how are you?')?.messages[1].role).toBe('assistant');
    for (const rec of train) expect(Object.keys(rec).sort()).toEqual('text' in rec ? ['id', 'text'] : ['id', 'messages']);

    const rej = lines(path.join(out, 'rejected.jsonl'));
    const bad = rej.find((x) => x.rule === 'invalid_json');
    expect(bad).toMatchObject({source: path.join('data', 'corpus.jsonl'), line: 2, stage: 'parse', raw: '{"text": "broken json'});
    expect(rej.find((x) => x.rule === 'role_order')).toMatchObject({source: path.join('data', 'chats.json'), stage: 'quality'});
    expect(rej.find((x) => x.rule === 'min_mean_word_length')).toMatchObject({stage: 'quality', score: 1});

    const dups = lines(path.join(out, 'duplicates.jsonl'));
    expect(dups).toHaveLength(1);
    expect(dups[0]).toMatchObject({kind: 'exact', line: 4, similarity: 1});

    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    const c = m.counts;
    expect(c.read).toBe(c.rejected.total + c.duplicates.exact + c.duplicates.near + c.written.train + c.written.val + c.written.test);
    expect(c.read).toBe(14);
    expect(m.pii.counts).toEqual({email: 1, phone: 1});
    expect(m.kind).toBe('mixed');
    expect(m.inputs.map((i: {name: string}) => i.name)).toEqual(['data/chats.json', 'data/corpus.jsonl', 'data/instructions.jsonl', 'data/notes.txt.gz', 'data/table.csv']);
    expect(m.inputs[3].sha256).toBe(createHash('sha256').update(readFileSync(path.join(dir, 'data/notes.txt.gz'))).digest('hex'));
    expect(m.outputs['train.jsonl'].sha256).toBe(createHash('sha256').update(readFileSync(path.join(out, 'train.jsonl'))).digest('hex'));
    expect(r.id).toMatch(/^ds-[0-9a-f]{12}$/);
    expect(m.id).toBe(r.id);
    const profile = JSON.parse(readFileSync(path.join(out, 'profile.json'), 'utf8'));
    expect(profile.count).toBe(c.written.train);
    const row = ledger.getDataset(r.id);
    expect(row).toMatchObject({id: r.id, path: out, kind: 'mixed', records: c.written.train});
    ledger.close();
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('redacts secrets and checksummed numbers, drops records in drop mode, and never writes the values', async () => {
    const aws = 'AKIA' + 'IOSFODNN7EXAMPLE';
    const gh = 'ghp_' + 'a'.repeat(36);
    const docs = [
      `Deploy with key ${aws} and token ${gh} from the build server logs.`,
      'Card 4111 1111 1111 1111 was charged for the annual subscription renewal yesterday, while order 4111 1111 1111 1112 was not charged because it failed the check.',
      'Please wire the remaining balance to DE89 3704 0044 0532 0130 00 and quote SSN 078-05-1120 in the reference; the request came from host 192.168.1.20 or 2001:db8::1 during the night.',
      'Nothing personal in this sentence about the weather at all.',
    ];
    const dir = project({'a.jsonl': docs.map((t) => JSON.stringify({text: t})).join('\n')});
    await prepareData({root: dir, config: dataConfig({inputs: ['a.jsonl'], out: 'out', split: {train: 1, val: 0, test: 0}}), cacheDir: '.c', workers: 0});
    const train = readFileSync(path.join(dir, 'out/train.jsonl'), 'utf8');
    expect(train).not.toContain(aws);
    expect(train).not.toContain(gh);
    expect(train).toContain('Card <CREDIT_CARD> was charged for the annual subscription renewal yesterday, while order 4111 1111 1111 1112 was not charged');
    expect(train).toContain('balance to <IBAN> and quote SSN <SSN> in the reference; the request came from host <IP_ADDRESS> or <IP_ADDRESS> during');
    const m = JSON.parse(readFileSync(path.join(dir, 'out/manifest.json'), 'utf8'));
    expect(m.pii.counts).toEqual({credit_card: 1, iban: 1, ip: 2, secret: 2, ssn: 1});

    const r = await prepareData({root: dir, config: dataConfig({inputs: ['a.jsonl'], out: 'drop', pii: {mode: 'drop'}}), cacheDir: '.c', workers: 0});
    expect(r.records.rejected).toBe(3);
    const rej = readFileSync(path.join(dir, 'drop/rejected.jsonl'), 'utf8');
    expect(rej).not.toContain(aws);
    expect(rej).toContain('"stage":"pii"');
  });

  it('removes near-duplicates verified by Jaccard, keeps related-but-different documents, and lists what it kept instead', async () => {
    const base = words(200, 1);
    const near = base.replace(/^(\S+)/, 'changed');
    const related = base.split(' ').slice(0, 100).join(' ') + ' ' + words(100, 2);
    const dir = project({'d.jsonl': [base, words(200, 3), near, related].map((t, i) => JSON.stringify({id: `r${i}`, text: t})).join('\n')});
    const r = await prepareData({root: dir, config: dataConfig({inputs: ['d.jsonl'], out: 'out'}), cacheDir: '.c', workers: 0});
    expect(r.records.duplicates).toEqual({exact: 0, near: 1});
    const d = lines(path.join(dir, 'out/duplicates.jsonl'));
    expect(d[0]).toMatchObject({id: 'r2', duplicate_of: 'r0', kind: 'near'});
    expect(d[0].similarity).toBeGreaterThanOrEqual(0.8);
    expect(r.lsh).toMatchObject({threshold: 0.8});
    expect(r.lsh!.effective_threshold).toBeCloseTo((1 / r.lsh!.bands) ** (1 / r.lsh!.rows), 3);
  });

  it('splits by content: the same record lands in the same split whatever the input order; reruns are byte-identical or skipped', async () => {
    const recs = Array.from({length: 300}, (_, i) => JSON.stringify({text: `Document number ${i}: ${words(12, i + 10)}`}));
    const dir = project({'a.jsonl': recs.join('\n'), 'b.jsonl': [...recs].reverse().join('\n')});
    const splitOf = (out: string) => {
      const m = new Map<string, string>();
      for (const s of ['train', 'val', 'test']) for (const x of lines(path.join(dir, out, `${s}.jsonl`))) m.set(x.text, s);
      return m;
    };
    await prepareData({root: dir, config: dataConfig({inputs: ['a.jsonl'], out: 'o1'}), cacheDir: '.c', workers: 0});
    await prepareData({root: dir, config: dataConfig({inputs: ['b.jsonl'], out: 'o2'}), cacheDir: '.c', workers: 0});
    const s1 = splitOf('o1');
    const s2 = splitOf('o2');
    expect(s1.size).toBe(300);
    expect([...s1].every(([t, s]) => s2.get(t) === s)).toBe(true);
    const counts = [...s1.values()].reduce((a, s) => ({...a, [s]: (a[s] ?? 0) + 1}), {} as Record<string, number>);
    expect(counts.train).toBeGreaterThan(240);
    expect(counts.val).toBeGreaterThan(3);

    const before = readFileSync(path.join(dir, 'o1/train.jsonl'));
    const again = await prepareData({root: dir, config: dataConfig({inputs: ['a.jsonl'], out: 'o1'}), cacheDir: '.c', workers: 0});
    expect(again.skipped).toBe(true);
    const forced = await prepareData({root: dir, config: dataConfig({inputs: ['a.jsonl'], out: 'o1'}), cacheDir: '.c', workers: 0, force: true});
    expect(forced.skipped).toBe(false);
    expect(readFileSync(path.join(dir, 'o1/train.jsonl')).equals(before)).toBe(true);
    const changed = await prepareData({root: dir, config: dataConfig({inputs: ['a.jsonl'], out: 'o1', split: {seed: 7, train: 0.9, val: 0.05, test: 0.05}}), cacheDir: '.c', workers: 0});
    expect(changed.skipped).toBe(false);
    expect(changed.id).not.toBe(forced.id);
  });

  it('reads lines longer than a read block, a byte order mark and a last line without newline, with the right line numbers', async () => {
    // Blocks are 1 MiB: a 2.5 MB record spans three reads; the broken record after it must still be
    // reported on its own line, and the same bytes gzipped (the stream path) must give the same output.
    const long = words(300_000, 5).slice(0, 2_500_000).trim();
    const body = '\ufeff' + [JSON.stringify({text: words(60, 1)}), JSON.stringify({text: long}), '{"text": broken', JSON.stringify({text: words(60, 2)})].join('\n');
    const dir = project({'a.jsonl': body, 'b.jsonl.gz': gzipSync(body)});
    const cfg = (input: string, out: string) => dataConfig({inputs: [input], out, split: {train: 1, val: 0, test: 0}, quality: {rules: {max_chars: 3_000_000, max_words: 400_000}}});
    const r = await prepareData({root: dir, config: cfg('a.jsonl', 'o1'), cacheDir: '.c', workers: 0});
    expect(r.records).toMatchObject({read: 4, rejected: 1, written: {train: 3}});
    const rejected = lines(path.join(dir, 'o1/rejected.jsonl'));
    expect(rejected.map((x) => [x.line, x.rule])).toEqual([[3, 'invalid_json']]);
    const train = lines(path.join(dir, 'o1/train.jsonl'));
    expect(train[1].text).toBe(long);
    await prepareData({root: dir, config: cfg('b.jsonl.gz', 'o2'), cacheDir: '.c', workers: 0});
    for (const f of ['train.jsonl', 'rejected.jsonl']) {
      expect(readFileSync(path.join(dir, 'o2', f), 'utf8').replaceAll('b.jsonl.gz', 'a.jsonl'), f).toBe(readFileSync(path.join(dir, 'o1', f), 'utf8'));
    }
  });

  it('samples the drift profile 1 in k by content key on large inputs: the same profile as the builder over those records', async () => {
    const docs = Array.from({length: 400}, (_, i) => JSON.stringify({text: words(40 + (i % 30), i + 1)}));
    const dir = project({'a.jsonl': docs.join('\n') + '\n', 'b.jsonl': [...docs].reverse().join('\n') + '\n'});
    const size = readFileSync(path.join(dir, 'a.jsonl')).length;
    // A 15 KB limit instead of 64 MB: k = ceil(input bytes / 15 KB).
    const run = (input: string, out: string, workers: number) =>
      prepareData({root: dir, config: dataConfig({inputs: [input], out, split: {train: 1, val: 0, test: 0}}), cacheDir: '.c', workers, profileFullBytes: 15_000});
    await run('a.jsonl', 'o1', 0);
    const profile = JSON.parse(readFileSync(path.join(dir, 'o1/profile.json'), 'utf8'));
    const everyA = Math.ceil(size / 15_000);
    expect(everyA).toBeGreaterThan(2);
    expect(profile.sample).toEqual({every: everyA});
    // The sample: training records whose content key's low 32 bits (id characters 8..16) are 0 mod k.
    const train = lines(path.join(dir, 'o1/train.jsonl'));
    const sampled = train.filter((r) => parseInt(r.id.slice(8, 16), 16) % everyA === 0);
    expect(sampled.length).toBeGreaterThan(train.length / everyA / 2);
    expect(sampled.length).toBeLessThan(train.length);
    const builder = new ReferenceProfileBuilder();
    for (const r of sampled) builder.add(r.text);
    expect(profile).toEqual({...builder.build(), sample: {every: everyA}});
    // Whatever the input order, the same records make the sample (the reversed file).
    await run('b.jsonl', 'o2', 0);
    expect(JSON.parse(readFileSync(path.join(dir, 'o2/profile.json'), 'utf8'))).toEqual(profile);
    // Both files: the duplicates of sampled records are taken back out.
    const both = await prepareData({root: dir, config: dataConfig({inputs: ['*.jsonl'], out: 'o3', split: {train: 1, val: 0, test: 0}}), cacheDir: '.c', workers: 0, profileFullBytes: 15_000});
    expect(both.records.duplicates.exact).toBe(400);
    const p3 = JSON.parse(readFileSync(path.join(dir, 'o3/profile.json'), 'utf8'));
    const every3 = Math.ceil((2 * size) / 15_000);
    const builder3 = new ReferenceProfileBuilder();
    for (const r of lines(path.join(dir, 'o3/train.jsonl'))) if (parseInt(r.id.slice(8, 16), 16) % every3 === 0) builder3.add(r.text);
    expect(p3).toEqual({...builder3.build(), sample: {every: every3}});
  });

  it('applies a field mapping, and refuses one that names fields the file does not have', async () => {
    const dir = project({'m.jsonl': JSON.stringify({body: 'Mapped body text about the silver market.', uid: 'x1'}) + '\n'});
    await prepareData({root: dir, config: dataConfig({inputs: ['m.jsonl'], out: 'o', field_map: {text: 'body', id: 'uid'}, split: {train: 1, val: 0, test: 0}}), cacheDir: '.c', workers: 0});
    expect(lines(path.join(dir, 'o/train.jsonl'))).toEqual([{id: 'x1', text: 'Mapped body text about the silver market.'}]);
    await expect(
      prepareData({root: dir, config: dataConfig({inputs: ['m.jsonl'], out: 'o2', field_map: {text: 'content'}}), cacheDir: '.c', workers: 0}),
    ).rejects.toMatchObject({code: 'INPUT', message: expect.stringContaining('m.jsonl:1')});
    expect(existsSync(path.join(dir, 'o2/manifest.json'))).toBe(false);
  });
});

describe('llmops data prep (CLI)', () => {
  it('prepares the mixed sample through the real CLI with worker threads, identical to the in-process run', async () => {
    const dir = project(MIXED, 'data:\n  inputs: ["data/*"]\n  out: prepared\n');
    const r = await runCli(['data', 'prep', '--json', '--workers', '2'], {cwd: dir});
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({dir: path.join(dir, 'prepared'), skipped: false, records: {read: 14, duplicates: {exact: 1, near: 0}}});
    expect(Object.keys(r.json).sort()).toEqual(['dir', 'id', 'kind', 'lsh', 'manifest', 'pii', 'records', 'rejected_by_reason', 'seconds', 'skipped', 'tokens']);
    await prepareData({root: dir, config: dataConfig({inputs: ['data/*'], out: 'inproc'}), cacheDir: '.c', workers: 0});
    for (const f of ['train.jsonl', 'val.jsonl', 'test.jsonl', 'rejected.jsonl', 'duplicates.jsonl', 'profile.json', 'card.md']) {
      expect(readFileSync(path.join(dir, 'prepared', f), 'utf8'), f).toBe(readFileSync(path.join(dir, 'inproc', f), 'utf8').replace('llmops 0.0.0', 'llmops 0.1.0'));
    }
    const manifest = (d: string) => ({...JSON.parse(readFileSync(path.join(dir, d, 'manifest.json'), 'utf8')), llmops_version: null});
    expect(manifest('prepared')).toEqual(manifest('inproc'));
    const again = await runCli(['data', 'prep', '--json'], {cwd: dir});
    expect(again.json).toMatchObject({skipped: true, id: r.json.id});
    const human = await runCli(['data', 'prep', '--force', '--out', 'other'], {cwd: dir});
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Dataset ${r.json.id}`);
    expect(human.stderr).toMatch(/S-curve effective threshold 0\.\d+/);
  });

  const bad: Array<[string, Record<string, string | Buffer>, string[], RegExp]> = [
    ['a missing file', {}, ['--input', 'nope.jsonl'], /nope\.jsonl/],
    ['a binary file', {'bin.jsonl': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2])}, ['--input', 'bin.jsonl'], /bin\.jsonl.*binary/],
    ['a non-UTF-8 file', {'latin.txt': Buffer.from('caf\xe9 au lait\n', 'latin1')}, ['--input', 'latin.txt'], /latin\.txt.*UTF-8/],
    ['an empty file', {'empty.jsonl': ''}, ['--input', 'empty.jsonl'], /empty\.jsonl.*empty/],
    ['a CSV without a usable column', {'t.csv': 'name,age\nbob,3\n'}, ['--input', 't.csv'], /t\.csv.*column.*name, age/],
  ];
  for (const [what, files, args, msg] of bad) {
    it(`refuses ${what} with exit 4, naming the file, and leaves no output`, async () => {
      const dir = project({...files, 'ok.jsonl': JSON.stringify({text: 'A fine document about the winter harbor.'}) + '\n'});
      const r = await runCli(['data', 'prep', '--json', '--input', 'ok.jsonl', ...args, '--out', 'out'], {cwd: dir});
      expect(r.code).toBe(4);
      expect(r.json.error.message).toMatch(msg);
      expect(r.json.error.fix).toMatch(/^Try this:/);
      expect(existsSync(path.join(dir, 'out', 'manifest.json'))).toBe(false);
      expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    });
  }
});
