/**
 * A run row's spec (runs.spec_json, the RunSpec a backend starts): the one place that decodes it,
 * and the rule for what `--resume` may change.
 */
import {TrainerSpec} from '../domain/trainer-spec.js';
import {LlmopsError, usageError} from '../errors.js';
import type {RunRow} from '../ledger/ledger.js';
import type {RunSpec} from './backend.js';

/** The JSON stored in runs.spec_json for a RunSpec. */
export function encodeRunSpec(spec: RunSpec): string {
  return JSON.stringify(spec);
}

/** The RunSpec of a run row; a LEDGER error naming the run when the stored JSON is damaged. */
export function decodeRunSpec(run: Pick<RunRow, 'id' | 'spec_json'>): RunSpec {
  let spec: unknown;
  try {
    spec = JSON.parse(run.spec_json);
  } catch (error) {
    throw new LlmopsError('LEDGER', `Run ${run.id}: its stored spec is not JSON (${(error as Error).message}).`, {cause: error});
  }
  if (!spec || typeof spec !== 'object' || !Array.isArray((spec as RunSpec).command)) {
    throw new LlmopsError('LEDGER', `Run ${run.id}: its stored spec is not a run spec (no command).`);
  }
  return spec as RunSpec;
}

/**
 * The trainer spec a run was started with, checked against this llmops's TrainerSpec (undefined
 * for a brought-your-own command). A spec from an incompatible llmops is refused, not guessed at.
 */
export function trainerSpecOf(run: Pick<RunRow, 'id' | 'spec_json'>): TrainerSpec | undefined {
  const raw = decodeRunSpec(run).trainerSpec;
  if (raw === undefined) return undefined;
  const parsed = TrainerSpec.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new LlmopsError('LEDGER', `Run ${run.id} was started with a trainer spec this llmops cannot read (${first.path.join('.') || 'spec'}: ${first.message}).`, {
      fix: 'Try this: start a new run instead of resuming this one.',
    });
  }
  return parsed.data;
}

/**
 * `--resume` continues the parent's training as a new linked run: the same data, model, optimiser
 * settings and seed, from its latest checkpoint. So only these launch options may be given with
 * it; any other is an error (never silently dropped):
 *   --max-steps  train further than the parent planned
 *   --backend    continue elsewhere (the checkpoint travels with the run)
 *   --budget, --name, --detach, --dry-run, --force   about this launch, not the training
 */
export const RESUME_MAY_CHANGE = ['--max-steps', '--backend', '--budget', '--name', '--detach', '--dry-run', '--force'] as const;

/** What the launch request sets that the rule above forbids on --resume, as flag names. */
export interface ResumeRequest {
  dataset?: string;
  preset?: string;
  seed?: number;
  overrides?: Record<string, unknown>;
  base?: string;
  method?: string;
  command?: string[];
}

export function checkResumeFlags(parentId: string, req: ResumeRequest): void {
  const refused = [
    req.dataset !== undefined ? '--dataset' : '',
    req.preset !== undefined ? '--preset' : '',
    req.seed !== undefined ? '--seed' : '',
    req.overrides && Object.keys(req.overrides).length > 0 ? '--set' : '',
    req.base !== undefined ? '--base' : '',
    req.method !== undefined ? '--method' : '',
    req.command && req.command.length > 0 ? '-- COMMAND' : '',
  ].filter(Boolean);
  if (refused.length === 0) return;
  throw usageError(
    `--resume continues ${parentId} with its own settings: ${refused.join(', ')} cannot change on resume (${RESUME_MAY_CHANGE.join(', ')} can).`,
    {fix: `Try this: drop ${refused.join(' and ')}, or start a new run with ${refused.length === 1 ? 'it' : 'them'} instead of resuming.`, details: {refused, mayChange: [...RESUME_MAY_CHANGE]}},
  );
}
