/**
 * `llmops init`: writes a new project from templates/. Never overwrites a file that exists: with
 * --force into a non-empty directory, existing files are kept and reported as skipped.
 */
import {cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {configJsonSchema} from '../config/schema.js';
import {LlmopsError} from '../errors.js';
import {packagePath} from '../util/package-root.js';
import {generateSampleData} from './sample-data.js';

/** templates/ in the package. */
export const TEMPLATES_DIR = packagePath('templates');

export const PROJECT_TEMPLATES = {
  starter: 'Sample data (text + instructions), the Python trainer, and a config for the whole lifecycle on a CPU.',
  empty: 'The config and the Python trainer; bring your own data.',
} as const;
export type ProjectTemplate = keyof typeof PROJECT_TEMPLATES;

export interface ScaffoldOptions {
  name: string;
  template: ProjectTemplate;
  python: string;
  force?: boolean;
}

export interface ScaffoldedFile {
  path: string;
  action: 'created' | 'skipped';
}

export interface ScaffoldResult {
  dir: string;
  name: string;
  template: ProjectTemplate;
  python: string;
  files: ScaffoldedFile[];
}

export function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

export function scaffoldProject(dir: string, opts: ScaffoldOptions): ScaffoldResult {
  const root = path.resolve(dir);
  if (existsSync(root) && !statSync(root).isDirectory()) {
    throw new LlmopsError('USAGE', `${root} exists and is not a directory.`);
  }
  if (!isEmptyDir(root) && !opts.force) {
    throw new LlmopsError('USAGE', `${root} is not empty; llmops init will not write into it.`, {
      fix: 'Try this: pick a new directory, or pass --force to add the project files (existing files are never overwritten).',
    });
  }
  mkdirSync(root, {recursive: true});
  const files: ScaffoldedFile[] = [];
  const write = (rel: string, content: string) => {
    const target = path.join(root, rel);
    if (existsSync(target)) {
      files.push({path: rel, action: 'skipped'});
      return;
    }
    mkdirSync(path.dirname(target), {recursive: true});
    writeFileSync(target, content);
    files.push({path: rel, action: 'created'});
  };
  const fill = (text: string) => text.replaceAll('{{name}}', opts.name).replaceAll('{{python}}', yamlScalar(opts.python));
  const projectDir = path.join(TEMPLATES_DIR, 'project');

  let config = fill(readFileSync(path.join(projectDir, 'llmops.yaml'), 'utf8'));
  if (opts.template === 'empty') config = config.replace(/inputs: \["data\/sample\/\*\.jsonl"\]/, 'inputs: []   # e.g. ["data/raw/*.jsonl"]');
  write('llmops.yaml', config);
  write('llmops.schema.json', JSON.stringify(configJsonSchema(), null, 2) + '\n');
  write('.gitignore', readFileSync(path.join(projectDir, '_gitignore'), 'utf8'));
  write('README.md', fill(readFileSync(path.join(projectDir, 'README.md'), 'utf8')));
  if (opts.template === 'starter') {
    for (const [name, content] of Object.entries(generateSampleData())) write(path.join('data', 'sample', name), content);
  }
  // The trainer: every file of templates/trainer except tests and caches.
  const trainerSrc = path.join(TEMPLATES_DIR, 'trainer');
  if (existsSync(trainerSrc)) {
    for (const rel of listFiles(trainerSrc)) {
      if (/(^|\/)(__pycache__|tests?)(\/|$)|\.pyc$/.test(rel)) continue;
      const target = path.join('trainer', rel);
      if (existsSync(path.join(root, target))) {
        files.push({path: target, action: 'skipped'});
        continue;
      }
      mkdirSync(path.dirname(path.join(root, target)), {recursive: true});
      cpSync(path.join(trainerSrc, rel), path.join(root, target));
      files.push({path: target, action: 'created'});
    }
  }
  return {dir: root, name: opts.name, template: opts.template, python: opts.python, files};
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, {withFileTypes: true}).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

function yamlScalar(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : JSON.stringify(s);
}

/** A project name from a directory name: lower-case letters, digits and dashes. */
export function defaultProjectName(dir: string): string {
  const base = path.basename(path.resolve(dir)).toLowerCase().replaceAll(/[^a-z0-9]+/g, '-').replaceAll(/^-|-$/g, '');
  return base || 'llmops-project';
}
