/**
 * docs/config-reference.md, generated from the zod schema (through its JSON Schema) so that the
 * reference cannot drift from what the CLI accepts: a test regenerates it and fails when the
 * committed file differs (`npm run docs` rewrites it).
 */
import {configJsonSchema} from './schema.js';

type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  pattern?: string;
  required?: string[];
};

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

const MAX_SAFE = 9_007_199_254_740_991;

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  if (s.anyOf) return s.anyOf.map((x) => typeOf(x)).join(' | ');
  if (s.oneOf) return 'one of the shapes below';
  const t = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any');
  if (t === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  const bounds: string[] = [];
  if (s.minimum !== undefined && s.minimum > -MAX_SAFE) bounds.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < MAX_SAFE) bounds.push(`<= ${s.maximum}`);
  return bounds.length > 0 ? `${t} (${bounds.join(', ')})` : t;
}

function fmtDefault(s: JsonSchema, required: boolean): string {
  if (s.default === undefined) return required ? '(required)' : '';
  if (typeof s.default === 'object' && s.default !== null && Object.keys(s.default).length === 0 && !Array.isArray(s.default)) return '';
  return `\`${JSON.stringify(s.default)}\``;
}

function walk(s: JsonSchema, prefix: string, rows: Row[], required = false): void {
  if (prefix) rows.push({key: prefix, type: s.properties ? 'mapping' : typeOf(s), default: fmtDefault(s, required), description: s.description ?? ''});
  if (s.properties) {
    for (const [k, v] of Object.entries(s.properties)) {
      if (k === '$schema') continue;
      walk(v, prefix ? `${prefix}.${k}` : k, rows, s.required?.includes(k) ?? false);
    }
  } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    const inner = s.additionalProperties;
    if (inner.oneOf) {
      for (const opt of inner.oneOf) {
        const t = opt.properties?.type?.const;
        walk(opt, `${prefix}.<name> (type: ${String(t)})`, rows);
      }
    } else if (inner.properties) {
      walk(inner, `${prefix}.<name>`, rows);
    }
  }
}

export function configReferenceMarkdown(): string {
  const rows: Row[] = [];
  walk(configJsonSchema() as JsonSchema, '', rows);
  const esc = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = [
    '# llmops.yaml reference',
    '',
    '<!-- Generated from src/lib/config/schema.ts by `npm run docs`; a test fails when this file is stale. -->',
    '',
    'Every key is optional; an empty file is a valid project. Unknown keys are errors (with a "did you mean").',
    'A key set to nothing (`budget:` followed only by comments) takes its defaults.',
    'Editors that use yaml-language-server complete and check the file from `llmops config schema`.',
    '',
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| \`${r.key}\` | ${esc(r.type)} | ${esc(r.default)} | ${esc(r.description)} |`),
    '',
  ];
  return lines.join('\n');
}
