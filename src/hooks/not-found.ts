/**
 * `llmops trian`: names the closest command and exits 2 (a usage error), on a terminal or not.
 * (@oclif/plugin-not-found suggests only through a TTY prompt; scripts and CI logs need the words.)
 */
import type {Hook} from '@oclif/core';

const hook: Hook<'command_not_found'> = async function (opts) {
  const {closest} = await import('../lib/util/did-you-mean.js');
  const ids = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id);
  const guess = closest(opts.id, ids);
  const shown = (id: string) => id.replaceAll(':', ' ');
  this.error(`"${shown(opts.id)}" is not an llmops command.${guess ? ` Did you mean \`llmops ${shown(guess)}\`?` : ''} Try this: llmops help`, {exit: 2});
};

export default hook;
