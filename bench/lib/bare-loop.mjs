// The bare engine both serving benchmarks compare against: an onnxruntime-node greedy loop with a
// KV cache (inputs input_ids, attention_mask, position_ids, past_key_values.i.key|value; outputs
// logits, present.i.key|value), float32 cache, no tokenizer, no HTTP, no server code.

const i64 = (xs) => BigInt64Array.from(xs, (x) => BigInt(x));

/** A greedy decoder over `session` for a graph of `layers` layers, `kvHeads` x `headDim` cache rows and `vocab` logits. */
export function bareGreedy(ort, session, {layers, kvHeads, headDim, vocab}) {
  /** Generates `n` tokens after `promptIds`: seconds end to end and the time to the first token. */
  return async (promptIds, n) => {
    let past = Array.from({length: 2 * layers}, () => new Float32Array(0));
    let pastLen = 0;
    let ids = promptIds;
    const out = [];
    let ttftMs = 0;
    const t0 = performance.now();
    while (out.length < n) {
      const s = ids.length;
      const feeds = {
        input_ids: new ort.Tensor('int64', i64(ids), [1, s]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + s).fill(1n), [1, pastLen + s]),
        position_ids: new ort.Tensor('int64', i64(ids.map((_, i) => pastLen + i)), [1, s]),
      };
      for (let i = 0; i < layers; i++) {
        feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', past[2 * i], [1, kvHeads, pastLen, headDim]);
        feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', past[2 * i + 1], [1, kvHeads, pastLen, headDim]);
      }
      const r = await session.run(feeds);
      const logits = r.logits.data;
      const off = (s - 1) * vocab;
      let best = 0;
      for (let v = 1; v < vocab; v++) if (logits[off + v] > logits[off + best]) best = v;
      if (out.length === 0) ttftMs = performance.now() - t0;
      out.push(best);
      past = [];
      for (let i = 0; i < layers; i++) past.push(r[`present.${i}.key`].data, r[`present.${i}.value`].data);
      pastLen += s;
      ids = [best];
    }
    return {seconds: (performance.now() - t0) / 1000, ttftMs, tokens: out};
  };
}
