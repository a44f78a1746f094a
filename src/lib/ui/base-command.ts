/**
 * The base of every llmops command.
 *
 * - `--json`: the value a command's run() returns is its result object, printed as JSON on stdout
 *   (oclif's enableJsonFlag). Errors under --json are `{"error": {...}}` on stdout, with the same
 *   exit code as without --json (oclif 4 alone would exit 1: it reads err.exitCode).
 * - User errors (LlmopsError) print their message and "Try this: ..." fix, never a stack trace;
 *   anything else is a bug and says so (stack with --verbose).
 * - Colour is decided once, here (see ui/output.ts).
 */
import {Command, Flags, type Interfaces} from '@oclif/core';
import {ExitCode, LlmopsError, isLlmopsError} from '../errors.js';
import type {LoadedConfig} from '../config/load.js';
import type {Ledger} from '../ledger/ledger.js';

// Set by scripts/bundle.mjs (a fingerprint of the sources); undefined in unbundled runs.
declare const __LLMOPS_BUILD_ID__: string | undefined;
const BUILD_ID = typeof __LLMOPS_BUILD_ID__ === 'string' ? __LLMOPS_BUILD_ID__ : undefined;

/** The fix the CLI adds to a library's NOT_FOUND error, by what was not found (details.entity). */
const NOT_FOUND_ADVICE: Record<string, string> = {
  run: 'Try this: `llmops runs list` to see the run ids.',
  deployment: 'Try this: `llmops deploy list`.',
  lineage: 'Try this: `llmops runs list`, `llmops deploy list`, or the dataset id printed by `llmops data prep`.',
};

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

export abstract class BaseCommand<T extends typeof Command = typeof Command> extends Command {
  static enableJsonFlag = true;

  static baseFlags = {
    config: Flags.string({
      char: 'c',
      summary: 'Path to llmops.yaml (default: found by walking up from the current directory).',
      helpGroup: 'GLOBAL',
    }),
    verbose: Flags.boolean({summary: 'Print more detail, and stacks for unexpected errors.', helpGroup: 'GLOBAL'}),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  private loadedConfig?: LoadedConfig;
  private openedLedgers: Ledger[] = [];

  public async init(): Promise<void> {
    await super.init();
    // Loaded here, not at the top: `--version` and `--help` never need chalk (start-up time).
    const {configureColour} = await import('./output.js');
    configureColour({json: this.jsonEnabled()});
    const {args, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
  }

  /** The project config (llmops.yaml found by walking up, or --config), loaded once. */
  protected async projectConfig(opts: {required?: boolean} = {}): Promise<LoadedConfig> {
    if (!this.loadedConfig) {
      const {loadConfigCached} = await import('../config/cache.js');
      this.loadedConfig = await loadConfigCached({file: this.flags.config, required: opts.required, buildId: BUILD_ID});
    }
    return this.loadedConfig;
  }

  /** Opens the project's ledger (closed automatically when the command ends). */
  protected async ledger(opts: {readonly?: boolean} = {}): Promise<Ledger> {
    const loaded = await this.projectConfig();
    const {Ledger} = await import('../ledger/ledger.js');
    const ledger = Ledger.forProject(loaded, opts);
    this.openedLedgers.push(ledger);
    return ledger;
  }

  /** Progress and commentary for humans: stderr, silent under --json unless --verbose. */
  protected progress(message: string): void {
    if (this.jsonEnabled() && !this.flags?.verbose) return;
    process.stderr.write(message + '\n');
  }

  /** Throws a usage error unless a prompt may be shown (TTY, not CI). */
  protected async requireInteractive(what: string, flagHint: string): Promise<void> {
    const {canPrompt} = await import('./output.js');
    if (!canPrompt() || this.jsonEnabled()) {
      throw new LlmopsError('USAGE', `${what} needs an answer, and no prompt can be shown here (no TTY, CI or --json).`, {
        fix: `Try this: pass ${flagHint}, or --yes to take the defaults.`,
      });
    }
  }

  protected async finally(err: Error | undefined): Promise<void> {
    for (const l of this.openedLedgers) l.close();
    await super.finally(err);
  }

  protected async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (!isLlmopsError(err)) {
      // A full disk, a read-only folder or a damaged ledger is the user's to fix, not a bug.
      const {ledgerStorageError, fileSystemError} = await import('../ledger/fs-errors.js');
      const ledgerFile = this.openedLedgers.at(-1)?.file;
      const sqlite = String((err as {code?: unknown}).code ?? '').startsWith('SQLITE_');
      const mapped = (ledgerFile && sqlite ? ledgerStorageError(ledgerFile, err, 'writing') : undefined) ?? fileSystemError(err);
      if (mapped) err = mapped;
    }
    const json = this.jsonEnabled();
    let payload: Record<string, unknown>;
    let exitCode: number;
    if (isLlmopsError(err)) {
      exitCode = err.exitCode;
      payload = err.toJSON();
      // The library says what was not found (details.entity); the CLI says where to look.
      if (!payload.fix) {
        const advice = NOT_FOUND_ADVICE[String(err.details?.entity)];
        if (advice) payload.fix = advice;
      }
    } else if (err.oclif?.exit !== undefined && err.oclif.exit !== 1) {
      // oclif's own user errors: parse failures (missing/unknown flags) exit 2.
      exitCode = err.oclif.exit === 2 ? ExitCode.USAGE : err.oclif.exit;
      if (err.oclif.exit === 0) return; // this.exit(0)
      payload = {code: 'USAGE', exitCode, message: err.message, fix: `Try this: llmops ${this.id?.replaceAll(':', ' ') ?? ''} --help`};
    } else if ((err as {code?: string}).code === 'ERR_USE_AFTER_CLOSE' || err.message === 'SIGINT') {
      exitCode = ExitCode.INTERRUPTED;
      payload = {code: 'INTERRUPTED', exitCode, message: 'Interrupted.'};
    } else {
      exitCode = ExitCode.BUG;
      payload = {
        code: 'BUG',
        exitCode,
        message: `Unexpected error: ${err.message}`,
        fix: 'Try this: rerun with --verbose and report the output at https://github.com/llmops/llmops/issues',
        ...(this.flags?.verbose ? {stack: err.stack} : {}),
      };
    }
    process.exitCode = exitCode;
    if (json) {
      this.logJson({error: payload});
      return;
    }
    const {default: chalk} = await import('chalk');
    const lines = [chalk.red(`Error: ${String(payload.message)}`)];
    if (payload.fix) lines.push(chalk.yellow(String(payload.fix)));
    if (this.flags?.verbose && err.stack && !isLlmopsError(err)) lines.push(chalk.dim(err.stack));
    process.stderr.write(lines.join('\n') + '\n');
  }

  /** Prints JSON without colour codes even on a TTY (oclif colourises it otherwise). */
  logJson(json: unknown): void {
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  }

  /** A short, human line of output (stdout), suppressed under --json. */
  protected say(message = ''): void {
    this.log(message);
  }
}
