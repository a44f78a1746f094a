/**
 * Lineage: from anything the ledger knows (a deployment, a run, a dataset) back to where it came
 * from (model run -> base run -> datasets -> raw input files, with hashes, configs and git commits)
 * and forward to what used it (runs trained on a dataset, runs fine-tuned from a run, deployments
 * serving a run's model).
 */
import path from 'node:path';
import {notFoundError} from '../errors.js';
import type {DatasetRow, DeploymentRow, Ledger, RunRow} from './ledger.js';

export interface InputFile {
  path: string;
  sha256?: string;
  records?: number;
}

export interface DatasetNode {
  type: 'dataset';
  id: string;
  path: string;
  manifestSha256: string;
  records: number;
  kind: string;
  createdAt: string;
  inputs: InputFile[];
}

export interface RunNode {
  type: 'run';
  id: string;
  kind: string;
  status: string;
  preset: string | null;
  backend: string;
  createdAt: string;
  configHash?: string;
  git?: {commit?: string | null; dirty?: boolean};
  seed?: number;
  env?: Record<string, unknown>;
  method?: string;
  modelDir?: string;
  dataset?: DatasetNode;
  /** The base run (finetune) or the resumed run. */
  parent?: RunNode;
  /** A base model that is not a run of ours (a path or hf:OWNER/NAME). */
  externalBase?: string;
  /** The newest `llmops eval` results on this run's model (overall metrics, not per bias type). */
  evals?: Array<{suite: string; metric: string; value: number | null; n: number | null; data: string | null; at: string}>;
}

export interface DeploymentNode {
  type: 'deployment';
  id: string;
  name: string;
  status: string;
  url: string;
  modelDir: string;
  createdAt: string;
  model?: RunNode;
}

export interface Downstream {
  runs: Array<{id: string; kind: string; status: string; via: 'dataset' | 'parent'}>;
  deployments: Array<{id: string; name: string; status: string; modelRunId: string}>;
}

export interface LineageResult {
  subject: {type: 'deployment' | 'run' | 'dataset'; id: string};
  upstream: DeploymentNode | RunNode | DatasetNode;
  downstream: Downstream;
  /** A run: the registry versions it is, and the aliases pointing at them now. */
  registry?: Array<{name: string; version: string; aliases: string[]}>;
  /** A run: the pipeline stages that produced it. */
  pipeline?: Array<{executionId: string; stage: string; kind: string; reason: string; status: string; at: string}>;
  /** A deployment started from NAME@ALIAS / NAME@vN: the versions it served, from when. */
  servedVersions?: Array<{modelRef: string; name: string; alias: string | null; version: string; since: string}>;
}

function runExtras(ledger: Ledger, runId: string): Pick<LineageResult, 'registry' | 'pipeline'> {
  const registry = ledger.registry.versionsOfRun(runId).map((v) => ({
    name: v.name,
    version: `v${v.version}`,
    aliases: ledger.registry.aliases(v.name).filter((a) => a.version === v.version).map((a) => a.alias),
  }));
  const pipeline = ledger.pipeline.stagesProducingRun(runId).map((s) => ({executionId: s.execution_id, stage: s.stage, kind: s.kind, reason: s.reason, status: s.status, at: s.started_at}));
  return {...(registry.length > 0 ? {registry} : {}), ...(pipeline.length > 0 ? {pipeline} : {})};
}

const parseJson = (s: string | null | undefined): Record<string, unknown> => {
  try {
    return s ? (JSON.parse(s) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

function datasetNode(d: DatasetRow): DatasetNode {
  const manifest = parseJson(d.manifest_json);
  const inputs = Array.isArray(manifest.inputs)
    ? (manifest.inputs as Array<Record<string, unknown>>).map((i) => ({
        path: String(i.path ?? i.name ?? i.file ?? ''),
        sha256: typeof i.sha256 === 'string' ? i.sha256 : undefined,
        records: typeof i.records === 'number' ? i.records : undefined,
      }))
    : [];
  return {
    type: 'dataset',
    id: d.id,
    path: d.path,
    manifestSha256: d.manifest_sha256,
    records: d.records,
    kind: d.kind,
    createdAt: d.created_at,
    inputs,
  };
}

function runNode(ledger: Ledger, r: RunRow, seen = new Set<string>()): RunNode {
  seen.add(r.id);
  const lineage = parseJson(r.lineage_json);
  const spec = parseJson(r.spec_json);
  const node: RunNode = {
    type: 'run',
    id: r.id,
    kind: r.kind,
    status: r.status,
    preset: r.preset,
    backend: r.backend,
    createdAt: r.created_at,
  };
  if (typeof lineage.configHash === 'string') node.configHash = lineage.configHash;
  if (lineage.git && typeof lineage.git === 'object') node.git = lineage.git as RunNode['git'];
  const seed = lineage.seed ?? (spec as {seed?: unknown}).seed;
  if (typeof seed === 'number') node.seed = seed;
  if (lineage.env && typeof lineage.env === 'object') node.env = lineage.env as Record<string, unknown>;
  const ft = (spec as {finetune?: {method?: string; base?: string}}).finetune ?? (spec as {trainerSpec?: {finetune?: {method?: string; base?: string}}}).trainerSpec?.finetune;
  if (ft?.method) node.method = ft.method;
  const modelArtifact = ledger.artifacts(r.id).findLast((a) => a.kind === 'model');
  if (modelArtifact) node.modelDir = modelArtifact.path;
  if (r.dataset_id) {
    const d = ledger.getDataset(r.dataset_id);
    if (d) node.dataset = datasetNode(d);
  }
  if (r.parent_run_id && !seen.has(r.parent_run_id)) {
    const p = ledger.findRun(r.parent_run_id);
    if (p) node.parent = runNode(ledger, p, seen);
  }
  const evals = ledger.evals.latestForRun(r.id).filter((e) => !e.metric.includes('['));
  if (evals.length > 0) node.evals = evals.map((e) => ({suite: e.suite, metric: e.metric, value: e.value, n: e.n, data: e.data, at: e.created_at}));
  const externalBase = typeof lineage.base === 'string' ? lineage.base : undefined;
  if (!node.parent && externalBase) node.externalBase = externalBase;
  return node;
}

function deploymentNode(ledger: Ledger, d: DeploymentRow): DeploymentNode {
  const node: DeploymentNode = {
    type: 'deployment',
    id: d.id,
    name: d.name,
    status: d.status,
    url: d.url,
    modelDir: d.model_dir,
    createdAt: d.created_at,
  };
  if (d.model_run_id) {
    const r = ledger.findRun(d.model_run_id);
    if (r) node.model = runNode(ledger, r);
  }
  return node;
}

function downstreamOfRun(ledger: Ledger, runId: string, out: Downstream, seen: Set<string>): void {
  for (const d of ledger.deployments.servingRun(runId)) {
    out.deployments.push({id: d.id, name: d.name, status: d.status, modelRunId: runId});
  }
  for (const c of ledger.runs.children(runId)) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    out.runs.push({id: c.id, kind: c.kind, status: c.status, via: 'parent'});
    downstreamOfRun(ledger, c.id, out, seen);
  }
}

export function lineage(ledger: Ledger, ref: string): LineageResult {
  const downstream: Downstream = {runs: [], deployments: []};
  const dep = ledger.findDeployment(ref);
  if (dep) {
    const served = ledger.registry.deploymentModels(dep.id).map((m) => ({modelRef: m.model_ref, name: m.name, alias: m.alias, version: `v${m.version}`, since: m.ts}));
    return {subject: {type: 'deployment', id: dep.id}, upstream: deploymentNode(ledger, dep), downstream, ...(served.length > 0 ? {servedVersions: served} : {})};
  }
  const run = ledger.findRun(ref);
  if (run) {
    downstreamOfRun(ledger, run.id, downstream, new Set([run.id]));
    return {subject: {type: 'run', id: run.id}, upstream: runNode(ledger, run), downstream, ...runExtras(ledger, run.id)};
  }
  const ds = ledger.getDataset(ref);
  if (ds) {
    const seen = new Set<string>();
    for (const r of ledger.runs.usingDataset(ds.id)) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      downstream.runs.push({id: r.id, kind: r.kind, status: r.status, via: 'dataset'});
      downstreamOfRun(ledger, r.id, downstream, seen);
    }
    return {subject: {type: 'dataset', id: ds.id}, upstream: datasetNode(ds), downstream};
  }
  throw notFoundError(`"${ref}" is not a deployment, run or dataset in the ledger (${ledger.file}).`, {details: {entity: 'lineage', id: ref}});
}

/** An indented, human tree of the upstream chain. */
export function renderLineage(result: LineageResult): string {
  const lines: string[] = [];
  const short = (h?: string) => (h ? h.slice(0, 12) : '-');
  const dataset = (d: DatasetNode, pad: string) => {
    lines.push(`${pad}dataset ${d.id}  ${d.records} records (${d.kind})  manifest sha256 ${short(d.manifestSha256)}  ${d.path}`);
    for (const i of d.inputs) lines.push(`${pad}  input ${i.path}  sha256 ${short(i.sha256)}${i.records === undefined ? '' : `  ${i.records} records`}`);
  };
  const run = (r: RunNode, pad: string) => {
    const bits = [`${r.kind} run ${r.id}`, r.status, r.preset ? `preset ${r.preset}` : '', r.method ? `method ${r.method}` : '', `backend ${r.backend}`];
    lines.push(pad + bits.filter(Boolean).join('  '));
    const meta = [
      r.configHash ? `config ${short(r.configHash)}` : '',
      r.git?.commit ? `git ${String(r.git.commit).slice(0, 10)}${r.git.dirty ? ' (dirty)' : ''}` : '',
      r.seed === undefined ? '' : `seed ${r.seed}`,
    ].filter(Boolean);
    if (meta.length > 0) lines.push(`${pad}  ${meta.join('  ')}`);
    if (r.modelDir) lines.push(`${pad}  model ${r.modelDir}`);
    if (r.evals) lines.push(`${pad}  eval ${r.evals.map((e) => `${e.metric} ${e.value === null ? '-' : +e.value.toPrecision(4)}${e.data ? ` (${path.basename(e.data)})` : ''}`).join(', ')}`);
    if (r.dataset) dataset(r.dataset, pad + '  ');
    if (r.parent) {
      lines.push(`${pad}  from base:`);
      run(r.parent, pad + '    ');
    } else if (r.externalBase) {
      lines.push(`${pad}  from base: ${r.externalBase}`);
    }
  };
  const up = result.upstream;
  if (up.type === 'deployment') {
    lines.push(`deployment ${up.name} (${up.id})  ${up.status}  ${up.url}`);
    if (up.model) run(up.model, '  ');
    else lines.push(`  model ${up.modelDir} (not a run of this ledger)`);
  } else if (up.type === 'run') {
    run(up, '');
  } else {
    dataset(up, '');
  }
  for (const v of result.servedVersions ?? []) lines.push(`  serving ${v.modelRef} = ${v.name}@${v.version} since ${v.since}`);
  for (const v of result.registry ?? []) lines.push(`registered as ${v.name}@${v.version}${v.aliases.length > 0 ? ` (aliases: ${v.aliases.join(', ')})` : ''}`);
  for (const p of result.pipeline ?? []) lines.push(`made by pipeline ${p.executionId}, stage ${p.stage} (${p.status}; ran because: ${p.reason})`);
  const {runs, deployments} = result.downstream;
  if (runs.length > 0 || deployments.length > 0) {
    lines.push('', 'used by:');
    for (const r of runs) lines.push(`  ${r.kind} run ${r.id}  ${r.status}  (via ${r.via})`);
    for (const d of deployments) lines.push(`  deployment ${d.name} (${d.id})  ${d.status}  serving ${d.modelRunId}`);
  }
  return lines.join('\n');
}
