"""Torch logits (and greedy tokens) of a Hugging Face model folder, through llmops's own modules.

    python3 trainer/hf_logits.py --model DIR --ids 1,2,3 [--new 8] [--transformers]

Prints JSON {logits: [s][vocab], greedy: [...]}. With --transformers it also runs transformers'
AutoModelForCausalLM on the same folder (where it is importable) and reports the max abs diff:
the check that our implementation is the model the checkpoint was trained as.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from hf_models import load_pretrained  # noqa: E402


def greedy(model, ids, n):
    out = list(ids)
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(torch.tensor([out]))
            out.append(int(logits[0, -1].argmax()))
    return out[len(ids):]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--new", type=int, default=0)
    ap.add_argument("--transformers", action="store_true")
    args = ap.parse_args(argv)
    ids = [int(x) for x in args.ids.split(",") if x]
    model, _ = load_pretrained(args.model)
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
    res = {"logits": logits[0].tolist(), "greedy": greedy(model, ids, args.new)}
    if args.transformers:
        from transformers import AutoModelForCausalLM
        # eager: the attention as written (SDPA kernels skip Gemma 2's score soft-capping)
        ref = AutoModelForCausalLM.from_pretrained(args.model, local_files_only=True, torch_dtype=torch.float32,
                                                   attn_implementation="eager").eval()
        with torch.no_grad():
            theirs = ref(input_ids=torch.tensor([ids])).logits
        res["transformers_max_abs_diff"] = float((theirs - logits).abs().max())
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
