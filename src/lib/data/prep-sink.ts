/**
 * The main thread's side of data prep: each processed batch, in input order, is counted, deduped
 * and written to its split (or to rejected.jsonl / duplicates.jsonl). Everything the manifest
 * counts is tallied here.
 */
import {promptOf} from '../profile/profile.js';
import type {PiiCounts, PiiType} from '../util/pii.js';
import type {Deduper, DedupVerdict} from './prep-dedup.js';
import type {ProfileTakeBack} from './prep-profile.js';
import type {StageWriters} from './prep-stage.js';
import {FORMATS, KINDS, type PackedBatch} from './process.js';
import {inProfileSample, type ProfileTotals} from './profile-terms.js';
import type {Message} from './records.js';
import type {RuleTally} from './rule-tally.js';
import type {TokenCounter} from './tokens.js';

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

export class RecordSink {
  read = 0;
  rejected = 0;
  truncated = 0;
  /** bit 1: text, bit 2: chat. */
  kinds = 0;
  readonly byReason: Record<string, number> = {};
  readonly formats: Record<string, number> = {};
  readonly piiCounts: PiiCounts = {};
  piiRecords = 0;
  /** Records read per record kind (KINDS order). */
  readonly kindRecords = [0, 0, 0];
  /** Per record kind and rejection reason: its count and first three lines. */
  readonly rejections = new Map<string, RuleTally>();
  readonly recordsBySrc: number[];

  constructor(
    private readonly o: {
      names: string[];
      w: StageWriters;
      dedup: Deduper;
      takeBack: ProfileTakeBack;
      profile: ProfileTotals;
      profileSample: number;
      tokens: TokenCounter;
    },
  ) {
    this.recordsBySrc = new Array<number>(o.names.length).fill(0);
  }

  consume(b: PackedBatch): void {
    if (b.profile) this.o.profile.merge(b.profile);
    this.truncated += b.truncated ?? 0;
    this.recordsBySrc[b.src]! += b.n;
    const out = Buffer.from(b.out.buffer, b.out.byteOffset, b.out.byteLength);
    const piiAt = new Map(b.pii);
    for (let i = 0; i < b.n; i++) {
      this.read++;
      const start = i === 0 ? 0 : b.end[i - 1]!;
      const flags = b.flags[i]!;
      this.kindRecords[flags >> 6]!++;
      if ((flags & 1) === 0) {
        this.reject(b, i, out, start, piiAt.get(i));
        continue;
      }
      const verdict = this.o.dedup.check(b, i);
      if (verdict.dup) {
        this.duplicate(b, i, out, verdict);
        continue;
      }
      const split = ((flags >> 1) & 3) as 0 | 1 | 2;
      [this.o.w.train, this.o.w.val, this.o.w.test][split]!.encoded(out, start, b.end[i]!);
      this.o.tokens.add(b.tokens[i]!, split);
      const format = FORMATS[(flags >> 3) & 7]!;
      this.formats[format] = (this.formats[format] ?? 0) + 1;
      this.kinds |= format === 'text' ? 1 : 2;
      const p = piiAt.get(i);
      if (p) this.addPii(p);
    }
  }

  private reject(b: PackedBatch, i: number, out: Buffer, start: number, pii: PiiCounts | undefined): void {
    this.rejected++;
    const reason = b.tags[i]!;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    this.tally(b.flags[i]! >> 6, reason, b.src, b.line[i]!);
    if (pii) this.addPii(pii);
    this.o.w.rejected.encoded(out, start, b.end[i]!);
  }

  private duplicate(b: PackedBatch, i: number, out: Buffer, v: Exclude<DedupVerdict, {dup: null}>): void {
    const {names, w, dedup, takeBack, profileSample} = this.o;
    w.duplicates.line(JSON.stringify({id: b.tags[i], source: names[b.src], line: b.line[i], duplicate_of: dedup.keptIds[v.of], kind: v.dup, similarity: round4(v.similarity)}));
    // The worker counted this training record's prompt in the drift profile: take it back.
    if (((b.flags[i]! >> 1) & 3) === 0 && inProfileSample(b.keyLo[i]!, profileSample)) {
      takeBack.add(v.dup === 'exact' ? `${b.keyHi[i]}:${b.keyLo[i]}` : undefined, () =>
        promptOf(JSON.parse(out.toString('utf8', i === 0 ? 0 : b.end[i - 1]!, b.end[i]! - 1)) as {text?: string; messages?: Message[]}),
      );
    }
  }

  private tally(kind: number, reason: string, src: number, line: number): void {
    const key = `${kind}|${reason}`;
    let t = this.rejections.get(key);
    if (!t) this.rejections.set(key, (t = {kind: KINDS[kind]!, reason, records: 0, share: 0, examples: []}));
    t.records++;
    if (t.examples.length < 3) t.examples.push({source: this.o.names[src]!, line});
  }

  private addPii(counts: PiiCounts): void {
    this.piiRecords++;
    for (const [k, v] of Object.entries(counts)) this.piiCounts[k as PiiType] = (this.piiCounts[k as PiiType] ?? 0) + v;
  }

  /** Rejections per rule with their share of the records of their kind, in a stable order. */
  byRule(): RuleTally[] {
    return [...this.rejections.values()]
      .map((t) => ({...t, share: round4(t.records / Math.max(1, t.kind === 'unknown' ? this.read : this.kindRecords[KINDS.indexOf(t.kind)]!))}))
      .sort((a, b) => (a.kind !== b.kind ? (a.kind < b.kind ? -1 : 1) : b.records - a.records || (a.reason < b.reason ? -1 : 1)));
  }
}
