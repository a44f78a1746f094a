import {BaseCommand} from '../lib/ui/base-command.js';
import type {VersionInfo} from '../lib/project/version-info.js';

export default class Version extends BaseCommand<typeof Version> {
  static summary = 'Print the llmops version; with --verbose, every version a bug report needs.';
  static description =
    '--verbose (and --json) add Node, platform/arch, onnxruntime-node, torch from the project\'s Python ("not found" when absent) and the ledger schema version (this llmops\'s and the project ledger\'s).';
  static examples = ['<%= config.bin %> version', '<%= config.bin %> version --verbose', '<%= config.bin %> version --json'];

  async run(): Promise<VersionInfo | {llmops: string}> {
    if (!this.flags.verbose && !this.jsonEnabled()) {
      this.log(this.config.userAgent);
      return {llmops: this.config.version};
    }
    const {versionInfo, renderVersionInfo} = await import('../lib/project/version-info.js');
    const info = await versionInfo({llmopsVersion: this.config.version, ...(await this.projectParts())});
    if (!this.jsonEnabled()) this.log(renderVersionInfo(info));
    return info;
  }

  /** The configured Python and the ledger; a broken or missing llmops.yaml must not stop a bug report. */
  private async projectParts(): Promise<{python: string; ledgerPath: string | null}> {
    try {
      const loaded = await this.projectConfig();
      if (!loaded.file && !process.env.LLMOPS_DB) return {python: loaded.config.python, ledgerPath: null};
      const {ledgerPath} = await import('../lib/ledger/ledger.js');
      return {python: loaded.config.python, ledgerPath: ledgerPath(loaded)};
    } catch {
      return {python: 'python3', ledgerPath: null};
    }
  }
}
