/**
 * The drift profile's take-back: the workers count every training prompt of the sample in the
 * profile before dedup decides; the prompts of records dedup then removes are collected here and
 * subtracted once at the end, so the profile describes the records actually written.
 */
import {ProfileTotals, TermBatch} from './profile-terms.js';

/** How many repeated content keys wait with a count before their prompt is scanned. */
const REPEATED_KEYS = 1024;

export class ProfileTakeBack {
  private readonly removed = new TermBatch();
  // Exact duplicates with one content key have one prompt: for the last 1,024 such keys the prompt
  // waits here with a count and is scanned once (a corpus repeated 40 times spent 80% of the main
  // thread scanning the same prompts again).
  private readonly repeated = new Map<string, {prompt: string; n: number}>();

  /** A removed record's prompt; `key` (its content key) groups exact duplicates, undefined for near ones. */
  add(key: string | undefined, prompt: () => string): void {
    if (key === undefined) return this.removed.add(prompt());
    const hit = this.repeated.get(key);
    if (hit) {
      hit.n++;
      return;
    }
    if (this.repeated.size >= REPEATED_KEYS) {
      const [oldest, e] = this.repeated.entries().next().value!;
      this.repeated.delete(oldest);
      this.removed.add(e.prompt, e.n);
    }
    this.repeated.set(key, {prompt: prompt(), n: 1});
  }

  /** Subtracts everything taken back from the profile (once, after the last batch). */
  applyTo(profile: ProfileTotals): void {
    for (const e of this.repeated.values()) this.removed.add(e.prompt, e.n);
    this.repeated.clear();
    if (!this.removed.empty) profile.subtract(this.removed.part());
  }
}
