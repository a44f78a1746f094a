/** lm-evaluation-harness's definitions, transcribed as independent references for the tests. */

/** lm-evaluation-harness's get_rolling_token_windows + make_disjoint_window, transcribed from lm_eval/utils.py. */
export function harnessWindows(tokenList: number[], prefixToken: number, maxSeqLen: number, contextLen = 1): Array<[number[], number[]]> {
  const out: Array<[number[], number[]]> = [];
  if (tokenList.length === 0) return out;
  const predLen = maxSeqLen - contextLen + 1;
  let predicted = 0;
  const firstSeqLen = Math.min(maxSeqLen, tokenList.length);
  out.push([[prefixToken, ...tokenList.slice(0, firstSeqLen - 1)], tokenList.slice(0, firstSeqLen)]);
  predicted += firstSeqLen;
  while (predicted < tokenList.length) {
    const windowPredLen = Math.min(tokenList.length - predicted, predLen);
    const windowEnd = predicted + windowPredLen;
    out.push([tokenList.slice(Math.max(0, windowEnd - maxSeqLen - 1), windowEnd - 1), tokenList.slice(windowEnd - windowPredLen, windowEnd)]);
    predicted += windowPredLen;
  }
  // make_disjoint_window: the context keeps only what the continuation does not already cover.
  return out.map(([a, b]) => [a.slice(0, a.length - (b.length - 1)), b]);
}
