import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../lib/ui/base-command.js';

export interface PushResult {
  runId: string | null;
  modelDir: string;
  repo: string;
  url: string;
  files: number;
  bytes: number;
  commit: string | null;
}

export default class Push extends BaseCommand<typeof Push> {
  static summary = "Upload a run's exported model folder to the Hugging Face Hub.";
  static description = 'The token comes from HF_TOKEN (write access) and is never printed or recorded. HF_ENDPOINT points at a mirror.\n\n--json result: {runId, modelDir, repo, url, files, bytes, commit}';
  static examples = ['<%= config.bin %> push r-20261126-abc123 --repo my-org/tiny-chat', '<%= config.bin %> push ./path/to/model --repo me/model --private'];
  static args = {run: Args.string({description: 'RUN_ID (its RUN_DIR/model), a model folder, or NAME@ALIAS / NAME@vN.', required: true})};
  static flags = {
    repo: Flags.string({summary: 'Target repository, OWNER/NAME (created if missing).', required: true}),
    private: Flags.boolean({summary: 'Create the repository private.'}),
    message: Flags.string({summary: 'Commit message.'}),
  };

  async run(): Promise<PushResult> {
    const {usageError} = await import('../lib/errors.js');
    if (!/^[\w.-]+\/[\w.-]+$/.test(this.flags.repo)) {
      throw usageError(`--repo ${this.flags.repo}: expected OWNER/NAME.`, {fix: 'Try this: --repo my-org/tiny-chat'});
    }
    const ledger = await this.ledger();
    const {resolveModel, loadServableModel} = await import('../lib/serve/model-dir.js');
    const model = resolveModel(this.args.run, ledger);
    loadServableModel(model.dir, {runId: model.runId});
    this.progress(`Uploading ${model.dir} to ${this.flags.repo}...`);
    const {uploadFolder} = await import('../lib/hub/index.js');
    const r = await uploadFolder(model.dir, this.flags.repo, {
      ...(this.flags.private ? {private: true} : {}),
      ...(this.flags.message ? {message: this.flags.message} : {}),
    });
    if (model.runId) ledger.addArtifact({runId: model.runId, kind: 'model', path: r.url, meta: {pushed_to: r.repo, commit: r.commit, files: r.files}});
    if (!this.jsonEnabled()) this.log(`Pushed ${r.files} files (${(r.bytes / 1e6).toFixed(1)} MB) to ${r.url}${r.commit ? ` (commit ${r.commit.slice(0, 8)})` : ''}.`);
    return {runId: model.runId, modelDir: model.dir, ...r};
  }
}
