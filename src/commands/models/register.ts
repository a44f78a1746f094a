import {Args, Flags} from '@oclif/core';
import {BaseCommand} from '../../lib/ui/base-command.js';

export interface ModelsRegisterResult {
  name: string;
  version: string;
  created: boolean;
  source: 'run' | 'dir' | 'hf';
  runId: string | null;
  dir: string | null;
  hfRef: string | null;
}

export default class ModelsRegister extends BaseCommand<typeof ModelsRegister> {
  static summary = 'Register a run, a model folder or hf:OWNER/NAME as the next version of a named model.';
  static description = 'Versions are numbered v1, v2, ... per name. Registering the same source again under the same name returns its existing version.\n\n--json result: {name, version, created, source, runId, dir, hfRef}';
  static examples = [
    '<%= config.bin %> models register chat r-20261126-101500-ab12',
    '<%= config.bin %> models register chat ./models/imported',
    '<%= config.bin %> models register smol hf:HuggingFaceTB/SmolLM2-135M-Instruct --json',
  ];

  static args = {
    name: Args.string({description: 'Model name (letters, digits, ".", "_", "-").', required: true}),
    source: Args.string({description: 'RUN_ID, a model folder, or hf:OWNER/NAME.', required: true}),
  };

  static flags = {note: Flags.string({summary: 'A note kept with the version.'})};

  async run(): Promise<ModelsRegisterResult> {
    const {registerModel} = await import('../../lib/registry/registry.js');
    const loaded = await this.projectConfig();
    const ledger = await this.ledger();
    const {version: v, created} = registerModel(ledger, loaded.root, this.args.name, this.args.source, this.flags.note);
    const result = {name: v.name, version: `v${v.version}`, created, source: v.source, runId: v.run_id, dir: v.dir, hfRef: v.hf_ref};
    if (!this.jsonEnabled()) this.log(`${v.name}@v${v.version} ${created ? 'registered' : 'was already registered'}: ${v.run_id ?? v.dir ?? v.hf_ref}`);
    return result;
  }
}
