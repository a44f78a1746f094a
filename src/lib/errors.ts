/**
 * Error types and exit codes shared by every command.
 *
 * Two families, as the Shopify CLI does it: `LlmopsError` for problems the user can fix (bad flag,
 * bad config, bad input, a budget that ran out...) and anything else, which is a bug in llmops and
 * is reported as such. Every user error carries a distinct exit code (documented in
 * docs/exit-codes.md) and, where we can offer one, a fix ("Try this: ...").
 */

export const ExitCode = {
  OK: 0,
  /** An unexpected error: a bug in llmops. */
  BUG: 1,
  /** Bad command line: unknown flag, missing argument, a prompt that cannot be shown without a TTY. */
  USAGE: 2,
  /** llmops.yaml is missing, unreadable or invalid. */
  CONFIG: 3,
  /** An input file (dataset, model folder...) is missing, unreadable or malformed. */
  INPUT: 4,
  /** A run (or a brought-your-own command) failed or was lost. */
  RUN_FAILED: 5,
  /** A run was stopped, or a launch refused, because of a budget. */
  BUDGET_EXCEEDED: 6,
  /** `monitor --check` found an SLO breached, or `eval --check` a failed check. */
  SLO_BREACHED: 7,
  /** A prerequisite is missing on this machine (Python, torch, ssh, sbatch...). */
  ENVIRONMENT: 8,
  /** A run, dataset or deployment id that the ledger does not know. */
  NOT_FOUND: 9,
  /** The ledger file is not SQLite, or was written by a newer llmops. */
  LEDGER: 10,
  /** A remote backend (ssh, Slurm, Kubernetes) refused or failed an operation. */
  BACKEND: 11,
  /** A run was stopped on request (`runs stop`, Ctrl-C). */
  RUN_STOPPED: 12,
  /** Interrupted by the user (SIGINT) before anything was started. */
  INTERRUPTED: 130,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

export interface LlmopsErrorOptions {
  /** A one-line fix shown as "Try this: ...". */
  fix?: string;
  /** Machine-readable details for `--json` (must never contain secrets). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** An error the user can act on. Never a stack trace, always a message and an exit code. */
export class LlmopsError extends Error {
  readonly code: ExitCodeName;
  readonly exitCode: number;
  readonly fix?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ExitCodeName, message: string, options: LlmopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause});
    this.name = 'LlmopsError';
    this.code = code;
    this.exitCode = ExitCode[code];
    this.fix = options.fix;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      exitCode: this.exitCode,
      message: this.message,
      ...(this.fix ? {fix: this.fix} : {}),
      ...(this.details ? {details: this.details} : {}),
    };
  }
}

export const usageError = (message: string, opts?: LlmopsErrorOptions) => new LlmopsError('USAGE', message, opts);
export const inputError = (message: string, opts?: LlmopsErrorOptions) => new LlmopsError('INPUT', message, opts);
export const notFoundError = (message: string, opts?: LlmopsErrorOptions) =>
  new LlmopsError('NOT_FOUND', message, opts);
export const environmentError = (message: string, opts?: LlmopsErrorOptions) =>
  new LlmopsError('ENVIRONMENT', message, opts);
export const backendError = (message: string, opts?: LlmopsErrorOptions) => new LlmopsError('BACKEND', message, opts);

/** One problem in a config file, located as precisely as we can. */
export interface ConfigProblem {
  file: string;
  line?: number;
  column?: number;
  /** Dotted key path, such as `data.split.train`. */
  path: string;
  message: string;
  expected?: string;
  found?: string;
  didYouMean?: string;
  /** The offending source line with a caret under the column (YAML syntax errors). */
  excerpt?: string;
}

export class ConfigError extends LlmopsError {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], opts: LlmopsErrorOptions = {}) {
    const lines = problems.map((p) => formatConfigProblem(p));
    const head = problems.length === 1 ? 'Invalid configuration:' : `Invalid configuration (${problems.length} problems):`;
    super('CONFIG', [head, ...lines.map((l) => `  - ${l}`)].join('\n'), {
      fix: opts.fix ?? 'Try this: fix the keys above (run `llmops config schema` for every key and its type).',
      details: {problems},
    });
    this.problems = problems;
  }
}

export function formatConfigProblem(p: ConfigProblem): string {
  const where = `${p.file}${p.line ? `:${p.line}${p.column ? `:${p.column}` : ''}` : ''}`;
  let s = `${where}${p.path ? ` ${p.path}` : ''}: ${p.message}`;
  if (p.expected) s += `; expected ${p.expected}`;
  if (p.found !== undefined) s += `, found ${p.found}`;
  if (p.didYouMean) s += ` (did you mean "${p.didYouMean}"?)`;
  if (p.excerpt) s += `\n${p.excerpt.replace(/^/gm, '      ')}`;
  return s;
}

export function isLlmopsError(err: unknown): err is LlmopsError {
  return err instanceof LlmopsError;
}
