/**
 * The stages of `pipeline:` as a graph: names filled in (default: the kind), `needs` defaulted to
 * the stage before, and checked to name earlier stages only (so the listed order is a topological
 * order and there can be no cycle). Selection: which stages a `pipeline run` considers.
 */
import type {PipelineStageConfig, StageKind} from '../config/schema.js';
import {ConfigError, usageError} from '../errors.js';
import {closest} from '../util/did-you-mean.js';

export interface Stage {
  name: string;
  kind: StageKind;
  needs: string[];
  backend?: string;
  inputs: string[];
  options: Record<string, unknown>;
  index: number;
}

export function buildGraph(stages: PipelineStageConfig[], file: string | null): Stage[] {
  const out: Stage[] = [];
  const seen = new Map<string, number>();
  const problems: Array<{path: string; message: string}> = [];
  stages.forEach((s, i) => {
    const name = s.name ?? s.kind;
    if (seen.has(name)) problems.push({path: `pipeline.stages.${i}.name`, message: `stage name "${name}" is used twice (stages ${seen.get(name)} and ${i}); give one a name`});
    seen.set(name, i);
    const needs = s.needs ?? (i > 0 ? [stages[i - 1]!.name ?? stages[i - 1]!.kind] : []);
    for (const n of needs) {
      const at = out.findIndex((o) => o.name === n);
      if (at < 0) {
        const later = stages.slice(i + 1).some((x) => (x.name ?? x.kind) === n);
        problems.push({path: `pipeline.stages.${i}.needs`, message: later ? `"${n}" comes after "${name}"; a stage can only need stages listed before it` : `no stage named "${n}"${hint(n, out.map((o) => o.name))}`});
      }
    }
    out.push({name, kind: s.kind, needs, backend: s.backend, inputs: s.inputs, options: s.options, index: i});
  });
  if (problems.length > 0) {
    throw new ConfigError(
      problems.map((p) => ({file: file ?? 'llmops.yaml', path: p.path, message: p.message})),
    );
  }
  return out;
}

function hint(name: string, names: string[]): string {
  const s = closest(name, names);
  return s ? ` (did you mean "${s}"?)` : '';
}

/** Every stage STAGE depends on, transitively (not STAGE itself). */
export function upstreamOf(graph: Stage[], name: string): Set<string> {
  const byName = new Map(graph.map((s) => [s.name, s]));
  const out = new Set<string>();
  const walk = (n: string) => {
    for (const d of byName.get(n)?.needs ?? []) {
      if (!out.has(d)) {
        out.add(d);
        walk(d);
      }
    }
  };
  walk(name);
  return out;
}

/** Every stage that depends on STAGE, transitively. */
export function downstreamOf(graph: Stage[], name: string): Set<string> {
  const out = new Set<string>();
  for (const s of graph) if (s.needs.some((n) => n === name || out.has(n))) out.add(s.name);
  return out;
}

/** The nearest upstream stage (breadth first) of one of KINDS. */
export function nearestUpstream(graph: Stage[], stage: Stage, kinds: StageKind[]): Stage | undefined {
  const byName = new Map(graph.map((s) => [s.name, s]));
  let frontier = stage.needs;
  const seen = new Set<string>();
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const n of frontier) {
      if (seen.has(n)) continue;
      seen.add(n);
      const s = byName.get(n);
      if (!s) continue;
      if (kinds.includes(s.kind)) return s;
      next.push(...s.needs);
    }
    frontier = next;
  }
  return undefined;
}

export function checkStageNames(graph: Stage[], names: string[], flag: string): void {
  const all = graph.map((s) => s.name);
  for (const n of names) {
    if (!all.includes(n)) {
      throw usageError(`${flag}${n}: no such stage in pipeline.stages${hint(n, all)}.`, {fix: `Try this: one of ${all.join(', ')} (\`llmops pipeline status\`).`});
    }
  }
}

/**
 * The stages a run considers: the named ones and what they need (all when none named). --from S
 * forces S and everything after it; --force S forces S only (its downstream reruns only if S's
 * output changes).
 */
export function selectStages(graph: Stage[], o: {only: string[]; from?: string; force: string[]}): {stages: Stage[]; forced: Set<string>} {
  checkStageNames(graph, o.only, '');
  checkStageNames(graph, o.force, '--force ');
  if (o.from) checkStageNames(graph, [o.from], '--from ');
  let keep: Set<string>;
  if (o.only.length === 0) keep = new Set(graph.map((s) => s.name));
  else {
    keep = new Set(o.only);
    for (const n of o.only) for (const u of upstreamOf(graph, n)) keep.add(u);
  }
  const forced = new Set(o.force);
  if (o.from) {
    forced.add(o.from);
    for (const d of downstreamOf(graph, o.from)) forced.add(d);
  }
  return {stages: graph.filter((s) => keep.has(s.name)), forced};
}
