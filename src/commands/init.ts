import {Args, Flags} from '@oclif/core';
import type {ProjectTemplate, ScaffoldResult} from '../lib/project/scaffold.js';
import {BaseCommand} from '../lib/ui/base-command.js';

export interface InitResult extends ScaffoldResult {
  pythonHasTorch: boolean;
  next: string[];
}

export default class Init extends BaseCommand<typeof Init> {
  static summary = 'Create an llmops project: llmops.yaml, sample data, the Python trainer and a README.';
  static description =
    'Asks for the project name, template and Python interpreter on a TTY; every question has a flag, and --yes takes the defaults. Refuses a non-empty directory unless --force, and never overwrites an existing file.';
  static examples = [
    '<%= config.bin %> init my-project',
    '<%= config.bin %> init my-project --yes',
    '<%= config.bin %> init . --force --name demo --template empty --python /usr/bin/python3',
    '<%= config.bin %> init . --force --yes --ci github',
  ];

  static args = {
    dir: Args.string({description: 'Directory to create the project in.', default: '.'}),
  };

  static flags = {
    name: Flags.string({summary: 'Project name (default: the directory name).'}),
    template: Flags.string({summary: 'Project template.', options: ['starter', 'empty']}),
    python: Flags.string({summary: 'Python interpreter with torch (default: the first of python3, /usr/bin/python3 that has torch).'}),
    yes: Flags.boolean({char: 'y', summary: 'Take the defaults for every question.'}),
    force: Flags.boolean({summary: 'Write into a non-empty directory (existing files are kept).'}),
    ci: Flags.string({summary: 'Also write a CI workflow: monitor the production deployment on a schedule, retrain (`pipeline run`) on a drift or SLO breach.', options: ['github', 'gitlab']}),
  };

  async run(): Promise<InitResult> {
    const {scaffoldProject, defaultProjectName, isEmptyDir, PROJECT_TEMPLATES} = await import('../lib/project/scaffold.js');
    const {findTrainerPython, describePython} = await import('../lib/project/python.js');
    const {canPrompt} = await import('../lib/ui/output.js');
    const dir = this.args.dir;
    if (!isEmptyDir(dir) && !this.flags.force) {
      // Fail before asking anything.
      scaffoldProject(dir, {name: 'x', template: 'starter', python: 'python3'});
    }
    const missing = ['name', 'template', 'python'].filter((f) => this.flags[f as 'name'] === undefined);
    const interactive = missing.length > 0 && !this.flags.yes && canPrompt() && !this.jsonEnabled();

    const detected = this.flags.python ? undefined : await findTrainerPython();
    const defaults = {
      name: defaultProjectName(dir),
      template: 'starter' as ProjectTemplate,
      python: detected?.command ?? 'python3',
    };
    let {name, template, python} = {
      name: this.flags.name,
      template: this.flags.template as ProjectTemplate | undefined,
      python: this.flags.python,
    };
    if (interactive) {
      const {input, select} = await import('@inquirer/prompts');
      name ??= await input({message: 'Project name', default: defaults.name});
      template ??= await select({
        message: 'Template',
        choices: Object.entries(PROJECT_TEMPLATES).map(([value, description]) => ({value: value as ProjectTemplate, name: value, description})),
        default: defaults.template,
      });
      python ??= await input({message: 'Python interpreter (with torch)', default: defaults.python});
    }
    name ??= defaults.name;
    template ??= defaults.template;
    python ??= defaults.python;

    const info = detected && detected.command === python ? detected : await describePython(python);
    const result = scaffoldProject(dir, {name, template, python, force: this.flags.force});
    if (this.flags.ci) {
      const {writeCiWorkflow} = await import('../lib/project/ci.js');
      result.files.push(writeCiWorkflow(result.dir, this.flags.ci as 'github' | 'gitlab'));
    }
    const rel = dir === '.' ? '' : `cd ${dir} && `;
    const next = [
      `${rel}llmops doctor`,
      `${rel}llmops data prep`,
      `${rel}llmops train`,
    ];
    if (!this.jsonEnabled()) {
      for (const f of result.files) this.log(`${f.action === 'created' ? '  create' : '  skip  '} ${f.path}${f.action === 'skipped' ? ' (exists, kept)' : ''}`);
      this.log(`\nCreated project "${name}" in ${result.dir}.`);
      if (!info.torch) {
        this.log(`Warning: ${python} ${info.found ? 'has no torch' : 'was not found'}; run \`llmops doctor\` for what to install.`);
      }
      this.log('Next:\n' + next.map((n) => `  ${n}`).join('\n'));
    }
    return {...result, pythonHasTorch: Boolean(info.torch), next};
  }
}
