#!/usr/bin/env bash
# GPU check of the trainer's CUDA path (run on a GPU machine from the repo root; no network needed):
#   bash bench/trainer-gpu.sh            (results under $OUT or /tmp/llmops-trainer-gpu)
# 1. gpt2-124m and gpu-350m presets: bf16 autocast + SDPA + torch.compile; tokens/s and MFU.
# 2. tiny on CUDA with export: ONNX parity checked by Python onnxruntime (parity.json).
# 3. LoRA finetune of a Hugging Face model directory (a randomly initialised GPT-2 built locally)
#    through transformers + peft, merged export.
set -u
OUT=${OUT:-/tmp/llmops-trainer-gpu}
PY=${PYTHON:-python3}
W=$(mktemp -d)
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"

$PY - "$W" <<'PYEOF'
import json, os, random, sys
w = sys.argv[1]
random.seed(0)
words = ("the of and to in is was that for on with as by at from his her it an were are which this be "
         "or has had not but one all their they new more first two after time when also over into only "
         "other most some such city world year people state school music game team film river").split()
os.makedirs(f"{w}/text"); os.makedirs(f"{w}/chat")
for split, n in (("train", 20000), ("val", 200)):
    with open(f"{w}/text/{split}.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"{split}{i}", "text": " ".join(random.choice(words) for _ in range(120))}) + "\n")
    with open(f"{w}/chat/{split}.jsonl", "w") as f:
        for i in range(n // 50):
            q = " ".join(random.choice(words) for _ in range(8))
            f.write(json.dumps({"id": f"c{i}", "messages": [{"role": "user", "content": q},
                                {"role": "assistant", "content": "the answer is " + q.split()[0]}]}) + "\n")
PYEOF

summary() {  # name
  $PY - "$W/$1" "$1" <<'PYEOF' | tee -a "$OUT/summary.jsonl"
import json, sys, statistics, os
d, name = sys.argv[1], sys.argv[2]
ev = [json.loads(l) for l in open(f"{d}/events.jsonl")] if os.path.exists(f"{d}/events.jsonl") else []
m = [e for e in ev if e["type"] == "metric" and "loss" in e["values"]]
steady = m[2:] or m[-1:]
res = {"name": name, "status": ev[-1].get("status") if ev else None, "reason": ev[-1].get("reason") if ev else None}
if ev and ev[0].get("env"):
    res["env"] = ev[0]["env"]
if m:
    res.update({"tokens_per_s": statistics.median(e["values"]["tokens_per_s"] for e in steady),
                "mfu": statistics.median(e["values"].get("mfu", 0) for e in steady),
                "loss_first": m[0]["values"]["loss"], "loss_last": m[-1]["values"]["loss"], "steps": m[-1]["step"]})
p = f"{d}/model/parity.json"
if os.path.exists(p):
    res["parity_python"] = json.load(open(p))
if os.path.isdir(f"{d}/model"):
    res["model_files"] = sorted(os.listdir(f"{d}/model"))
print(json.dumps(res))
PYEOF
}

trainrun() {  # name timeout json-spec-fields
  local name=$1 limit=$2 fields=$3
  mkdir -p "$W/$name"
  $PY -c "import json,sys; s={'version':1,'run_id':'$name','kind':'train','run_dir':'$W/$name','dataset':{'id':'d','dir':'$W/text'},'preset':'tiny','max_steps':30,'seed':1,'overrides':{},'eval_every':None,'checkpoint_every':None,'resume_from':None,'finetune':None,'tokenizer':'byte','export':False,'threads':None}; s.update(json.loads(sys.argv[1])); json.dump(s, open('$W/$name/spec.json','w'))" "$fields"
  local t0=$(date +%s)
  LLMOPS_EVENTS="$W/$name/events.jsonl" timeout "$limit" $PY templates/trainer/train.py --spec "$W/$name/spec.json" > "$OUT/$name.log" 2>&1
  echo "== $name rc=$? wall=$(( $(date +%s) - t0 ))s"
  summary "$name"
}

trainrun gpt2-124m 110 '{"preset":"gpt2-124m","max_steps":40,"overrides":{"log_every":5,"compile":true},"eval_every":1000,"checkpoint_every":1000}'
trainrun tiny-export 60 '{"preset":"tiny","max_steps":30,"export":true,"overrides":{"log_every":10}}'

# A Hugging Face base: a small random GPT-2 saved locally with our byte tokenizer as its tokenizer.
$PY - "$W" <<'PYEOF' > "$OUT/hf-base.log" 2>&1
import json, sys
sys.path.insert(0, "templates/trainer")
from tokenizer import ByteTokenizer
from transformers import GPT2Config, GPT2LMHeadModel
w = sys.argv[1]
t = ByteTokenizer()
GPT2LMHeadModel(GPT2Config(vocab_size=t.vocab_size, n_layer=2, n_head=4, n_embd=128, n_positions=256,
                           bos_token_id=t.bos_id, eos_token_id=t.eos_id)).save_pretrained(f"{w}/hfbase")
t.save(f"{w}/hfbase/tokenizer.json")
json.dump(t.tokenizer_config(256), open(f"{w}/hfbase/tokenizer_config.json", "w"))
print("ok")
PYEOF
tail -1 "$OUT/hf-base.log"
trainrun hf-lora 90 "{\"kind\":\"finetune\",\"dataset\":{\"id\":\"c\",\"dir\":\"$W/chat\"},\"max_steps\":30,\"export\":true,\"overrides\":{\"log_every\":5,\"lr\":0.003},\"finetune\":{\"base\":\"$W/hfbase\",\"method\":\"lora\",\"lora\":{\"r\":8,\"alpha\":16,\"dropout\":0.0,\"targets\":[\"qkv\",\"proj\"]}}}"
ls -R "$W/hf-lora/model" 2>/dev/null | head -20

trainrun gpu-350m 100 '{"preset":"gpu-350m","max_steps":25,"overrides":{"log_every":5,"compile":true},"eval_every":1000,"checkpoint_every":1000}'
rm -rf "$W"
