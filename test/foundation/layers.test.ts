/**
 * The architecture as a test: a small script over the imports of src/ that fails when
 *   - SQL appears outside src/lib/ledger (a db's .prepare/.pragma/.exec, or an SQL statement in a string);
 *   - execa or node:child_process is imported outside src/lib/system (the one process layer);
 *   - @oclif is imported under src/lib, except src/lib/ui (the CLI layer bundled with the commands);
 *   - an import goes from a lower layer to a higher one (the LAYERS below; peers may import each other);
 *   - a module is imported through a variable specifier (hidden from the type checker and this test).
 * A new area under src/lib must be given its place in LAYERS; the test says so.
 */
import {readdirSync, readFileSync} from 'node:fs';
import path from 'node:path';
import {describe, expect, it} from 'vitest';
import {REPO_ROOT} from '../helpers/cli.js';

/** Lower number = lower layer. Areas on one line are peers. */
const LAYERS: Record<string, number> = {
  util: 0,
  domain: 0,
  errors: 0, // src/lib/errors.ts
  config: 1,
  ledger: 2,
  system: 3, // child processes, ssh, files other processes write
  hub: 3, // the Hugging Face Hub (network)
  profile: 3, // prompt profiles (pure functions), shared by data prep, the server and monitor
  cost: 3, // prices, meters and budgets over the ledger
  model: 4,
  registry: 4, // named model versions and aliases over the ledger
  data: 5,
  runtime: 5,
  serve: 5,
  eval: 5,
  monitor: 5,
  pipeline: 5,
  image: 5,
  project: 5,
  ui: 6,
  commands: 7,
  hooks: 7, // oclif hooks (src/hooks), beside the commands
};

/** Known exceptions, each with its way out; keep this list shrinking. */
const PENDING: Record<string, string[]> = {
  oclif: [],
  layer: [],
  variable: [],
};

const SRC = path.join(REPO_ROOT, 'src');

function walk(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** The area of a file: "commands", or the folder (or file) directly under src/lib. */
function areaOf(relFromSrc: string): string {
  const parts = relFromSrc.split('/');
  if (parts[0] !== 'lib') return parts[0]!;
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.[jt]s$/, '');
}

interface Source {
  /** Relative to the repository root, e.g. src/lib/runtime/launch.ts. */
  file: string;
  text: string;
}

/** Comments out: the rules are about code (a comment may name a table or a command). */
function stripComments(text: string): string {
  return text.replaceAll(/\/\*[\s\S]*?\*\//g, '').replaceAll(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"`])([^'"`]+)\1/g;
const VARIABLE_IMPORT = /\bimport\s*\(\s*(?!['"`])[^)]/g;
const DB_CALL = /\.(prepare|pragma)\s*\(|\b\w*(?:db|Db|database|sqlite)\.exec\s*\(/g;
const SQL = /(['"`])[^'"`]*\b(SELECT\s+[\s\S]+?\s+FROM\s+\w|INSERT\s+INTO\s+\w|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s+\w|CREATE\s+(?:TABLE|INDEX|TRIGGER)\s)/;

/** Every rule broken by the given sources, as readable lines. */
export function violations(sources: Source[]): string[] {
  const out: string[] = [];
  for (const {file, text} of sources) {
    const rel = path.posix.relative('src', file);
    const area = areaOf(rel);
    const rank = LAYERS[area];
    if (rank === undefined) {
      out.push(`${file}: area "${area}" has no place in LAYERS (test/foundation/layers.test.ts): add it`);
      continue;
    }
    const code = stripComments(text);
    const inLedger = rel.startsWith('lib/ledger/');
    const inSystem = rel.startsWith('lib/system/');
    if (!inLedger) {
      for (const m of code.matchAll(DB_CALL)) out.push(`${file}: SQL outside src/lib/ledger (${m[0].trim()})`);
      for (const line of code.split('\n')) if (SQL.test(line)) out.push(`${file}: SQL outside src/lib/ledger: ${line.trim().slice(0, 80)}`);
    }
    for (const m of code.matchAll(VARIABLE_IMPORT)) if (!PENDING.variable!.includes(file)) out.push(`${file}: import through a variable specifier (${m[0]}...): use a literal path`);
    for (const m of code.matchAll(SPECIFIER)) {
      const spec = m[2]!;
      if (!inSystem && (spec === 'execa' || spec === 'child_process' || spec === 'node:child_process')) {
        out.push(`${file}: imports ${spec} outside src/lib/system (use src/lib/system/exec.ts)`);
      }
      if (spec.startsWith('@oclif/') && rel.startsWith('lib/') && area !== 'ui' && !PENDING.oclif!.includes(file)) {
        out.push(`${file}: imports ${spec} under src/lib (the CLI layer is src/commands and src/lib/ui)`);
      }
      if (!spec.startsWith('.')) continue;
      const target = path.posix.relative('src', path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
      if (target.startsWith('..')) continue;
      const toArea = areaOf(target);
      const toRank = LAYERS[toArea];
      if (toRank === undefined || toArea === area) continue;
      if (toRank > rank && !PENDING.layer!.includes(`${file} -> ${toArea}`)) {
        out.push(`${file}: ${area} (layer ${rank}) imports ${toArea} (layer ${toRank}), a higher layer: ${spec}`);
      }
    }
  }
  return out;
}

function readSources(): Source[] {
  return walk(SRC).map((abs) => ({file: path.relative(REPO_ROOT, abs).split(path.sep).join('/'), text: readFileSync(abs, 'utf8')}));
}

describe('layers', () => {
  it('src/ keeps SQL in the ledger, processes in system, oclif in the CLI layer, and imports downward only', () => {
    expect(violations(readSources())).toEqual([]);
  });

  it('the checker itself catches each kind of violation (synthetic sources)', () => {
    const found = violations([
      {file: 'src/lib/monitor/x.ts', text: "const rows = ledger.db.prepare('SELECT * FROM runs').all();"},
      {file: 'src/lib/runtime/y.ts', text: "const q = `UPDATE runs SET status = 'x'`;"},
      {file: 'src/lib/serve/z.ts', text: "import {spawn} from 'node:child_process';\nconst {execa} = await import('execa');"},
      {file: 'src/lib/data/w.ts', text: "import {Flags} from '@oclif/core';"},
      {file: 'src/lib/ledger/v.ts', text: "import {x} from '../runtime/reconcile.js';\nconst s = '../runtime/reconcile.js';\nawait import(s);"},
      {file: 'src/lib/newarea/u.ts', text: ''},
      // Allowed: SQL in the ledger, a regex's exec, a process in system, oclif in ui, a peer import, prose.
      {file: 'src/lib/ledger/ok.ts', text: "db.prepare('SELECT * FROM runs');"},
      {file: 'src/lib/util/ok.ts', text: "const m = /^(\\d+)$/.exec(text); // select from the list"},
      {file: 'src/lib/system/ok.ts', text: "import {spawn} from 'node:child_process';"},
      {file: 'src/lib/ui/ok.ts', text: "import {Command} from '@oclif/core';"},
      {file: 'src/lib/data/ok.ts', text: "import {x} from '../monitor/window.js';\nconst msg = 'Select a file from the list';"},
    ]);
    const has = (re: RegExp) => expect(found.some((l) => re.test(l)), `${re} in:\n${found.join('\n')}`).toBe(true);
    has(/monitor\/x\.ts: SQL outside src\/lib\/ledger \(\.prepare\(/);
    has(/runtime\/y\.ts: SQL outside src\/lib\/ledger: .*UPDATE runs SET/);
    has(/serve\/z\.ts: imports node:child_process outside src\/lib\/system/);
    has(/serve\/z\.ts: imports execa outside src\/lib\/system/);
    has(/data\/w\.ts: imports @oclif\/core under src\/lib/);
    has(/ledger\/v\.ts: ledger \(layer 2\) imports runtime \(layer 5\)/);
    has(/ledger\/v\.ts: import through a variable specifier/);
    has(/newarea\/u\.ts: area "newarea" has no place in LAYERS/);
    expect(found.filter((l) => /ok\.ts/.test(l))).toEqual([]);
  });
});
