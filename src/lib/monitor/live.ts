/**
 * A live terminal view: alternate screen, hidden cursor, a frame redrawn every interval, and the
 * terminal restored on every way out (the view ending, SIGINT, SIGTERM, an exception, process exit).
 * Without a TTY it prints one frame per refresh, separated by a rule, with no escape codes.
 */
const ALT_ON = '\u001B[?1049h';
const ALT_OFF = '\u001B[?1049l';
const CURSOR_HIDE = '\u001B[?25l';
const CURSOR_SHOW = '\u001B[?25h';
const HOME = '\u001B[H';
const CLEAR_LINE_END = '\u001B[K';
const CLEAR_BELOW = '\u001B[J';

export interface LiveOptions {
  /** Draws one frame. */
  frame: () => string | Promise<string>;
  intervalMs: number;
  /** Checked after each frame: true ends the view (a run that finished). */
  done?: () => boolean;
  out?: NodeJS.WriteStream;
  /** Stop after this many frames (tests, scripts). */
  maxFrames?: number;
}

export type LiveEnd = 'done' | 'interrupted' | 'frames';

export async function liveView(opts: LiveOptions): Promise<{end: LiveEnd; frames: number; lastFrame: string}> {
  const out = opts.out ?? process.stdout;
  const tty = Boolean(out.isTTY);
  let restored = !tty;
  const restore = () => {
    if (restored) return;
    restored = true;
    out.write(CURSOR_SHOW + ALT_OFF);
  };
  let wake: (() => void) | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    restore();
    wake?.();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', restore);
  if (tty) out.write(ALT_ON + CURSOR_HIDE);
  let frames = 0;
  let lastFrame = '';
  try {
    for (;;) {
      lastFrame = await opts.frame();
      frames++;
      if (interrupted) break;
      const footer = `\n\nrefreshing every ${opts.intervalMs / 1000}s, Ctrl-C to quit`;
      if (tty) out.write(HOME + (lastFrame + footer).split('\n').join(CLEAR_LINE_END + '\n') + CLEAR_LINE_END + CLEAR_BELOW);
      else out.write((frames > 1 ? '\n' + '-'.repeat(40) + '\n' : '') + lastFrame + '\n');
      if (opts.done?.()) return {end: 'done', frames, lastFrame};
      if (opts.maxFrames && frames >= opts.maxFrames) return {end: 'frames', frames, lastFrame};
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.intervalMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
      if (interrupted) break;
    }
    return {end: 'interrupted', frames, lastFrame};
  } finally {
    restore();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', restore);
  }
}
