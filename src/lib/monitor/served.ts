/**
 * What a deployment started from the registry serves: the version, when the alias was moved to it
 * (promoted), the eval results it was promoted with, and the drift of the prompts since then.
 */
import type {MonitorConfig} from '../config/schema.js';
import type {DeploymentRow, Ledger} from '../ledger/ledger.js';
import type {DriftResult} from './drift.js';
import {summarize} from './summary.js';

export interface ServedModel {
  /** What the deployment was started with: chat@prod. */
  ref: string;
  name: string;
  alias: string | null;
  /** The version it serves (recorded when it started). */
  version: string;
  /** Where the alias points now: a different version means a newer one was promoted since. */
  aliasNow: string | null;
  promotedAt: string | null;
  promotedBy: string | null;
  reason: string | null;
  /** The eval summary recorded with the move (perplexity, acc... and where they came from). */
  eval: Record<string, unknown>;
  /** Drift of the prompts from the promotion (or the deployment's start, if later) until now. */
  driftSincePromotion: {since: string; drift: DriftResult} | null;
}

export function servedModel(ledger: Ledger, dep: DeploymentRow, cfg: MonitorConfig, now = Date.now()): ServedModel | undefined {
  const rec = ledger.registry.deploymentModels(dep.id).at(-1);
  if (!rec) return undefined;
  const history = rec.alias ? ledger.registry.aliasHistory(rec.name, rec.alias) : [];
  const move = history.findLast((h) => h.to_version === rec.version);
  const current = history.at(-1);
  const sinceMs = Math.max(move ? Date.parse(move.ts) : Date.parse(rec.ts), dep.started_at ? Date.parse(dep.started_at) : 0);
  let driftSince: ServedModel['driftSincePromotion'] = null;
  if (sinceMs < now) {
    const {summary} = summarize(ledger, dep, {sinceMs, untilMs: now + 1}, cfg, {now});
    driftSince = {since: new Date(sinceMs).toISOString(), drift: summary.drift};
  }
  return {
    ref: rec.model_ref,
    name: rec.name,
    alias: rec.alias,
    version: `v${rec.version}`,
    aliasNow: current ? `v${current.to_version}` : null,
    promotedAt: move?.ts ?? null,
    promotedBy: move?.actor ?? null,
    reason: move?.reason ?? null,
    eval: move ? (JSON.parse(move.eval_json) as Record<string, unknown>) : {},
    driftSincePromotion: driftSince,
  };
}

const num = (v: unknown) => (typeof v === 'number' ? String(Number(v.toPrecision(5))) : String(v));

/** One line each: what is served, since when, promoted on what, drift since. */
export function renderServed(s: ServedModel): string[] {
  const lines = [`serving ${s.ref} = ${s.name}@${s.version}${s.aliasNow && s.aliasNow !== s.version ? ` (the alias now points at ${s.aliasNow}: redeploy or use --follow-alias)` : ''}`];
  if (s.promotedAt) lines.push(`  promoted ${s.promotedAt} by ${s.promotedBy}${s.reason ? `: ${s.reason}` : ''}`);
  const ev = Object.entries(s.eval).filter(([k, v]) => !['at', 'source', 'holder'].includes(k) && typeof v !== 'object');
  if (ev.length > 0) lines.push(`  promoted with ${ev.map(([k, v]) => `${k} ${num(v)}`).join(', ')}${s.eval.source ? ` (${String(s.eval.source)})` : ''}`);
  const d = s.driftSincePromotion;
  if (d) {
    const f = d.drift.features;
    const parts = [f.prompt_length ? `prompt-length PSI ${num(f.prompt_length.psi)}` : '', f.terms ? `term JS ${num(f.terms.js)}` : ''].filter(Boolean);
    lines.push(`  drift since ${d.since}: ${d.drift.status}${parts.length > 0 ? ` (${parts.join(', ')}; ${d.drift.requests} requests)` : d.drift.message ? ` (${d.drift.message})` : ''}`);
  }
  return lines;
}
