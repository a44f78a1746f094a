/** Stage 7: token statistics from per-record counts, exact percentiles over a histogram of lengths. */
export interface TokenStats {
  tokenizer: string;
  context_length: number;
  records: number;
  total: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  over_context: number;
  by_split: {train: number; val: number; test: number};
}

export class TokenCounter {
  // A histogram of lengths keeps memory bounded by the distinct lengths, not by the records.
  private readonly hist = new Map<number, number>();
  private records = 0;
  private total = 0;
  private over = 0;
  private readonly bySplit = [0, 0, 0];

  constructor(
    private readonly tokenizer: string,
    private readonly context: number,
  ) {}

  add(tokens: number, split: 0 | 1 | 2): void {
    this.hist.set(tokens, (this.hist.get(tokens) ?? 0) + 1);
    this.records++;
    this.total += tokens;
    this.bySplit[split]! += tokens;
    if (tokens > this.context) this.over++;
  }

  stats(): TokenStats {
    const lens = [...this.hist.keys()].sort((a, b) => a - b);
    const pct = (p: number): number => {
      if (this.records === 0) return 0;
      const rank = Math.max(1, Math.ceil(p * this.records));
      let seen = 0;
      for (const l of lens) {
        seen += this.hist.get(l)!;
        if (seen >= rank) return l;
      }
      return lens[lens.length - 1] ?? 0;
    };
    return {
      tokenizer: this.tokenizer,
      context_length: this.context,
      records: this.records,
      total: this.total,
      mean: this.records ? Math.round((this.total / this.records) * 100) / 100 : 0,
      min: lens[0] ?? 0,
      p50: pct(0.5),
      p90: pct(0.9),
      p95: pct(0.95),
      p99: pct(0.99),
      max: lens[lens.length - 1] ?? 0,
      over_context: this.over,
      by_split: {train: this.bySplit[0]!, val: this.bySplit[1]!, test: this.bySplit[2]!},
    };
  }
}
