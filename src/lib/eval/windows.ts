/**
 * How texts become scoring requests, as lm-evaluation-harness makes them (so our numbers and the
 * harness's agree on the same model):
 *   - a (context, continuation) pair: trailing spaces of the context move to the continuation, the
 *     continuation's tokens are those of encode(context + continuation) after encode(context), and
 *     the whole is cut to the last contextLength + 1 tokens (`_encode_pair`, `_loglikelihood_tokens`);
 *   - a long text: rolling windows (`get_rolling_token_windows` with context_len 1 and
 *     `make_disjoint_window`), so every token is predicted exactly once.
 */

/**
 * One forward pass worth of scoring: `ids` are fed (all but the last) and the log-probabilities
 * of ids[from..] are read, token t being predicted at position t-1.
 */
export interface ScoreRequest {
  ids: number[];
  from: number;
}

export interface TokenEncoder {
  encode(text: string): number[];
}

/**
 * A (context, continuation) pair. `prefix` holds the tokens a text starts with (the tokenizer's BOS
 * when it adds one); an empty context is scored after the prefix token alone, as the harness does.
 */
export function pairRequest(tok: TokenEncoder, prefix: number[], emptyPrefix: number, context: string, continuation: string, contextLength: number): ScoreRequest {
  let ctx = context;
  let cont = continuation;
  const spaces = ctx.length - ctx.trimEnd().length;
  if (spaces > 0) {
    cont = ctx.slice(ctx.length - spaces) + cont;
    ctx = ctx.slice(0, ctx.length - spaces);
  }
  let ctxIds: number[];
  let contIds: number[];
  if (ctx === '') {
    ctxIds = prefix.length > 0 ? prefix : [emptyPrefix];
    contIds = tok.encode(cont);
  } else {
    ctxIds = [...prefix, ...tok.encode(ctx)];
    const whole = [...prefix, ...tok.encode(ctx + cont)];
    contIds = whole.slice(ctxIds.length);
  }
  const whole = [...ctxIds, ...contIds].slice(-(contextLength + 1));
  return {ids: whole, from: Math.max(1, whole.length - contIds.length)};
}

/**
 * Rolling windows over a token sequence `seq` whose first token is never predicted (the prefix):
 * each window feeds at most `contextLength` tokens. The first window predicts seq[1..L]; the next
 * ones predict the following L tokens each, fed the L tokens before them; the last one is fed a full
 * window too and predicts only what is left. Returns requests with `offset`, the index in `seq` of
 * each request's ids[0] (token t of a request is seq[offset + t]).
 */
export function rollingRequests(seq: number[], contextLength: number): Array<ScoreRequest & {offset: number}> {
  const n = seq.length;
  const L = contextLength;
  if (n < 2) return [];
  const out: Array<ScoreRequest & {offset: number}> = [];
  const firstEnd = Math.min(L, n - 1); // last target index of the first window
  out.push({ids: seq.slice(0, firstEnd + 1), from: 1, offset: 0});
  let covered = firstEnd + 1; // targets seq[1..covered) are predicted
  while (covered < n) {
    const r = Math.min(n - covered, L);
    const end = covered + r; // targets seq[covered..end)
    const start = end - 1 - L;
    out.push({ids: seq.slice(start, end), from: covered - start, offset: start});
    covered = end;
  }
  return out;
}
