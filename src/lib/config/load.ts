/**
 * Finding, parsing and validating llmops.yaml.
 *
 * The file is found by walking up from the working directory, as git finds `.git`, or named with
 * `--config`. Problems are reported all at once, each with the file, line, key path, what was
 * expected and what was found, so a user fixes a file in one pass rather than one error per run.
 */
import {existsSync, readFileSync} from 'node:fs';
import {CONFIG_FILE, findConfigFile} from './find.js';
import path from 'node:path';
import {isMap, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode} from 'yaml';
import type {z} from 'zod';
import {ConfigError, type ConfigProblem} from '../errors.js';
import {closest} from '../util/did-you-mean.js';
import {presetTable} from './presets.js';
import {configSchema, type LlmopsConfig} from './schema.js';

export {CONFIG_FILE, findConfigFile} from './find.js';

export interface LoadedConfig {
  config: LlmopsConfig;
  /** Absolute path of the file, or undefined when no file was found (defaults only). */
  file?: string;
  /** The project root: the directory of the file, or the working directory. */
  root: string;
}

export interface LoadOptions {
  /** Explicit file (from --config); must exist. */
  file?: string;
  cwd?: string;
  /** When true, a missing file is an error instead of the defaults. */
  required?: boolean;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const cwd = opts.cwd ?? process.cwd();
  let file: string | undefined;
  if (opts.file) {
    file = path.resolve(cwd, opts.file);
    if (!existsSync(file)) {
      throw new ConfigError([{file: opts.file, path: '', message: 'config file not found'}], {
        fix: 'Try this: check the --config path, or run `llmops init` to create a project.',
      });
    }
  } else {
    file = findConfigFile(cwd);
  }
  if (!file) {
    if (opts.required) {
      throw new ConfigError([{file: CONFIG_FILE, path: '', message: `no ${CONFIG_FILE} in ${cwd} or any parent`}], {
        fix: 'Try this: `llmops init` to create a project here, or pass --config PATH.',
      });
    }
    return {config: configSchema.parse({}), root: path.resolve(cwd)};
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{file, path: '', message: `cannot read file (${(error as NodeJS.ErrnoException).code})`}]);
  }
  return {config: parseConfigText(text, file, {root: path.dirname(file)}), file, root: path.dirname(file)};
}

/**
 * Parses and validates YAML text; throws one ConfigError listing every problem. With `root` (the
 * project directory), the presets named are checked against the trainer's presets.json too.
 */
export function parseConfigText(text: string, file = CONFIG_FILE, opts: {root?: string} = {}): LlmopsConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {lineCounter, prettyErrors: false, uniqueKeys: true});
  if (doc.errors.length > 0) throw yamlSyntaxError(doc, text, lineCounter, file);
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{file, line: 1, path: '', message: 'the file must be a mapping of keys', expected: 'a mapping', found: describe(raw)}]);
  }
  // `budget:` followed only by comments parses as null: treat a null value as "not set" (defaults).
  const result = configSchema.safeParse(dropNulls(raw));
  if (result.success) {
    const problems = opts.root ? presetProblems(result.data, opts.root, doc, lineCounter, file) : [];
    if (problems.length > 0) throw new ConfigError(problems);
    return result.data;
  }
  const problems = result.error.issues
    .flatMap((issue) => toProblems(issue, doc, lineCounter, file, raw))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  throw new ConfigError(problems);
}

/**
 * The parser's first errors (later ones mostly follow from the first), each with the offending line
 * and a caret. An unclosed `[` or `{` is only noticed where the file ends, so a position on a blank
 * line or past the end moves back to the end of the last non-blank line before it.
 */
function yamlSyntaxError(doc: Document, text: string, lc: LineCounter, file: string): ConfigError {
  const lines = text.split(/\r?\n/);
  const seen = new Set<number>();
  const errors = doc.errors.filter((e) => !seen.has(e.pos[0]) && seen.add(e.pos[0])).slice(0, 3);
  const problems = errors.map((e): ConfigProblem => {
    let {line, col} = lc.linePos(e.pos[0]);
    while (line > 1 && !(lines[line - 1] ?? '').trim()) {
      line -= 1;
      col = (lines[line - 1] ?? '').length + 1;
    }
    const src = lines[line - 1] ?? '';
    const gutter = String(line);
    const excerpt = `${gutter} | ${src}\n${' '.repeat(gutter.length)} | ${' '.repeat(Math.max(0, col - 1))}^`;
    return {file, line, column: col, path: '', message: `YAML syntax error: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, excerpt};
  });
  return new ConfigError(problems, {
    fix: 'Try this: fix the line shown: indent with spaces, close every [ and {, and quote values that contain ": " or " #".',
  });
}

function toProblems(
  issue: z.core.$ZodIssue,
  doc: Document,
  lc: LineCounter,
  file: string,
  raw: unknown,
): ConfigProblem[] {
  const keyPath = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const parentNode = doc.getIn(issue.path as unknown[], true) as YamlNode | undefined;
      const known = knownKeys(issue.path, raw);
      let line: number | undefined;
      let column: number | undefined;
      if (isMap(parentNode) || (issue.path.length === 0 && isMap(doc.contents))) {
        const map = isMap(parentNode) ? parentNode : doc.contents;
        if (isMap(map)) {
          const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
          const range = (pair?.key as YamlNode | undefined)?.range;
          if (range) ({line, col: column} = lc.linePos(range[0]));
        }
      }
      return {
        file,
        line,
        column,
        path: [...keyPath, key].join('.'),
        message: 'unknown key',
        didYouMean: closest(key, known),
      };
    });
  }
  const node = locate(doc, issue.path as (string | number)[]);
  const pos = node?.range ? lc.linePos(node.range[0]) : undefined;
  const found = getAt(raw, issue.path as (string | number)[]);
  const problem: ConfigProblem = {
    file,
    line: pos?.line,
    column: pos?.col,
    path: keyPath.join('.'),
    message: issueMessage(issue, found),
    found: found === undefined ? 'nothing' : describe(found),
  };
  const expected = expectedOf(issue, isIntegerAt(issue.path, raw));
  if (expected) problem.expected = expected;
  if (issue.code === 'invalid_union' && keyPath.at(-1) === 'type' && typeof found === 'string') {
    problem.didYouMean = closest(found, ['local', 'ssh', 'slurm', 'kubernetes', 'docker']);
  } else if (issue.code === 'invalid_value' && typeof found === 'string') {
    problem.didYouMean = closest(found, issue.values.map(String));
  }
  return [problem];
}

/** `train.preset` / `finetune.preset` that the trainer's presets.json does not have, with a did-you-mean. */
function presetProblems(config: LlmopsConfig, root: string, doc: Document, lc: LineCounter, file: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const section of ['train', 'finetune'] as const) {
    const {preset, script} = config[section];
    const table = presetTable(root, script);
    if (table.names.includes(preset)) continue;
    const node = locate(doc, [section, 'preset']);
    const pos = node?.range ? lc.linePos(node.range[0]) : undefined;
    out.push({
      file,
      line: pos?.line,
      column: pos?.col,
      path: `${section}.preset`,
      message: `no preset "${preset}" in ${path.relative(root, table.file) || table.file}`,
      expected: `one of ${table.names.join(', ')}`,
      found: describe(preset),
      didYouMean: closest(preset, table.names),
    });
  }
  return out;
}

/** The YAML node at `path`, or the closest ancestor that exists (for a missing key). */
function locate(doc: Document, p: (string | number)[]): YamlNode | undefined {
  for (let n = p.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(p.slice(0, n), true)) as YamlNode | undefined;
    if (node && typeof node === 'object' && 'range' in node) return node;
  }
  return undefined;
}

function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => dropNulls(x));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, dropNulls(x)]));
  }
  return v;
}

function getAt(raw: unknown, p: (string | number)[]): unknown {
  let cur: unknown = raw;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

function knownKeys(p: PropertyKey[], raw: unknown): string[] {
  const shape = (unwrap(schemaAt(p, raw)) as {shape?: Record<string, unknown>} | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

/** Whether the schema at `p` is an integer (zod reports a string given for `z.number().int()` as "expected number"). */
function isIntegerAt(p: PropertyKey[], raw: unknown): boolean {
  const s = unwrap(schemaAt(p, raw)) as {format?: string | null; def?: {type?: string}} | undefined;
  return s?.def?.type === 'number' && /int/.test(s.format ?? '');
}

/** The zod schema at a key path, or undefined when the path leaves the schema. */
function schemaAt(p: PropertyKey[], raw: unknown): unknown {
  let schema: unknown = configSchema;
  for (const [i, seg] of p.entries()) {
    schema = unwrap(schema);
    const shape = (schema as {shape?: Record<string, unknown>}).shape;
    if (shape && typeof seg === 'string' && seg in shape) {
      schema = shape[seg];
      continue;
    }
    // A record (backends) or a discriminated union: pick the option matching the data's `type`.
    const def = (schema as {def?: {valueType?: unknown; options?: unknown[]}}).def;
    if (def?.valueType) {
      schema = def.valueType;
      const union = unwrap(schema) as {def?: {options?: unknown[]}};
      const data = getAt(raw, p.slice(0, i + 1) as (string | number)[]) as {type?: string} | undefined;
      const opt = union.def?.options?.find((o) => {
        const shape2 = (unwrap(o) as {shape?: Record<string, {def?: {values?: unknown[]}}>}).shape;
        return shape2?.type?.def?.values?.includes(data?.type);
      });
      if (opt) schema = opt;
      continue;
    }
    return undefined;
  }
  return schema;
}

function unwrap(schema: unknown): unknown {
  let s = schema as {def?: {innerType?: unknown; type?: string}};
  while (s?.def?.innerType) s = s.def.innerType as typeof s;
  return s;
}

// zod 4 leaves `issue.input` unset unless asked, so whether the key is missing comes from the data.
function issueMessage(issue: z.core.$ZodIssue, found: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      return found === undefined ? 'required key is missing' : 'wrong type';
    }
    case 'invalid_value': {
      return 'not one of the allowed values';
    }
    case 'invalid_union': {
      return 'matches none of the allowed shapes';
    }
    case 'too_small':
    case 'too_big': {
      return 'out of range';
    }
    case 'invalid_format': {
      return 'wrong format';
    }
    default: {
      return issue.message;
    }
  }
}

function expectedOf(issue: z.core.$ZodIssue, integer = false): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      return issue.expected === 'int' || (issue.expected === 'number' && integer) ? 'an integer' : `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    }
    case 'invalid_value': {
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    case 'too_small': {
      return `${issue.origin === 'array' ? 'at least' : issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}${issue.origin === 'string' ? ' characters' : issue.origin === 'array' ? ' items' : ''}`;
    }
    case 'too_big': {
      return `${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}${issue.origin === 'string' ? ' characters' : ''}`;
    }
    case 'invalid_format': {
      return issue.message.replace(/^Invalid string: must match pattern .*$/, 'a string of the right format');
    }
    case 'invalid_union': {
      return 'a backend with `type` one of "local", "ssh", "slurm", "kubernetes"';
    }
    default: {
      return undefined;
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}
