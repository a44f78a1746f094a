import {Flags} from '@oclif/core';
import type {DoctorReport} from '../lib/project/doctor.js';
import {ExitCode, LlmopsError} from '../lib/errors.js';
import {BaseCommand} from '../lib/ui/base-command.js';

export default class Doctor extends BaseCommand<typeof Doctor> {
  static summary = 'Check what this machine has for the project (Python, torch, GPUs, ssh, Slurm, kubectl, the ledger).';
  static description =
    'Each failed check prints its fix. Exits 8 when something the configured backends need is missing. With --fix, installs what is missing where the platform allows (apt-get as root), asking first on a TTY.';
  static examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json', '<%= config.bin %> doctor --fix --yes'];

  static flags = {
    fix: Flags.boolean({summary: 'Install what is missing (apt-get), asking first on a TTY.'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask before installing.'}),
  };

  async run(): Promise<DoctorReport & {installed?: boolean}> {
    const loaded = await this.projectConfig();
    const {ledgerPath} = await import('../lib/ledger/ledger.js');
    const {runDoctor} = await import('../lib/project/doctor.js');
    let report = await runDoctor(loaded, ledgerPath(loaded));
    let installed: boolean | undefined;
    if (!this.jsonEnabled()) this.render(report);
    if (this.flags.fix && report.install.length > 0) {
      if (!this.flags.yes) {
        await this.requireInteractive('Installing packages', '--yes');
        const {confirm} = await import('@inquirer/prompts');
        if (!(await confirm({message: `Run: ${report.install.join(' && ')}?`, default: true}))) {
          throw new LlmopsError('ENVIRONMENT', 'Not installed.', {fix: `Try this: ${report.install.join(' && ')}`});
        }
      }
      const {runInherited} = await import('../lib/system/exec.js');
      for (const cmd of report.install) {
        this.progress(`$ ${cmd}`);
        const [bin, ...args] = cmd.split(' ');
        // eslint-disable-next-line no-await-in-loop
        const code = await runInherited(bin!, args, {env: {DEBIAN_FRONTEND: 'noninteractive'}});
        if (code !== 0) throw new LlmopsError('ENVIRONMENT', `\`${cmd}\` failed (exit ${code ?? 'none'}).`, {fix: 'Try this: run it by hand to see why, then rerun llmops doctor.'});
      }
      installed = true;
      report = await runDoctor(loaded, ledgerPath(loaded));
      if (!this.jsonEnabled()) this.render(report);
    }
    if (!report.ok) {
      const failed = report.checks.filter((c) => c.required && !c.ok);
      const err = new LlmopsError('ENVIRONMENT', `Missing: ${failed.map((c) => c.name).join(', ')}.`, {
        fix: `Try this: ${failed.map((c) => c.fix).filter(Boolean).join('; ')}${report.install.length > 0 ? ` (or \`llmops doctor --fix\`)` : ''}`,
        details: {checks: report.checks, install: report.install},
      });
      if (this.jsonEnabled()) {
        // The whole report is the useful output: print it and keep the exit code.
        this.logJson({...report, installed});
        process.exitCode = ExitCode.ENVIRONMENT;
        return undefined as never;
      }
      throw err;
    }
    return {...report, installed};
  }

  private render(report: DoctorReport): void {
    for (const c of report.checks) {
      const mark = c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn';
      this.log(`${mark}  ${c.name.padEnd(12)} ${c.detail}`);
      if (!c.ok && c.fix) this.log(`      ${''.padEnd(12)} fix: ${c.fix}`);
    }
  }
}
