/** `llmops help`, a mistyped command and shell completion, through the real CLI. */
import {describe, expect, it} from 'vitest';
import {runCli, tempDir} from '../helpers/cli.js';

describe('help, suggestions, completion', () => {
  it('llmops help and llmops help train print usage; llmops trian names train and exits 2; autocomplete is there', async () => {
    const cwd = tempDir('llmops-help-');
    const all = await runCli(['help'], {cwd});
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('COMMANDS');
    const train = await runCli(['help', 'train'], {cwd});
    expect(train.code).toBe(0);
    expect(train.stdout).toMatch(/USAGE\s+\$ llmops train/);
    const typo = await runCli(['trian'], {cwd});
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('Did you mean `llmops train`?');
    const completion = await runCli(['autocomplete', 'bash'], {cwd});
    expect(completion.code, completion.stderr).toBe(0);
    expect(completion.stdout).toContain('llmops');
  });
});
