"""A model small enough to check by hand: its logits depend only on the input token (a bigram
table), in the serving layout (input_ids, attention_mask, position_ids, one layer of KV cache).

    python3 bigram_onnx.py TABLE.json OUT_DIR    # TABLE.json: {"vocab": V, "n_positions": N, "table": [V*V floats]}
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "templates", "trainer"))
from tokenizer import ByteTokenizer  # noqa: E402

spec = json.load(open(sys.argv[1]))
out = sys.argv[2]
V = spec["vocab"]
table = np.array(spec["table"], dtype=np.float32).reshape(V, V)

inputs = [
    helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["b", "s"]),
    helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["b", "t"]),
    helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["b", "s"]),
    helper.make_tensor_value_info("past_key_values.0.key", TensorProto.FLOAT, ["b", 1, "p", 1]),
    helper.make_tensor_value_info("past_key_values.0.value", TensorProto.FLOAT, ["b", 1, "p", 1]),
]
outputs = [
    helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["b", "s", V]),
    helper.make_tensor_value_info("present.0.key", TensorProto.FLOAT, ["b", 1, "t", 1]),
    helper.make_tensor_value_info("present.0.value", TensorProto.FLOAT, ["b", 1, "t", 1]),
]
inits = [
    numpy_helper.from_array(table, "table"),
    numpy_helper.from_array(np.array([1, 3], dtype=np.int64), "axes"),
    numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
]
nodes = [
    helper.make_node("Gather", ["table", "input_ids"], ["logits"], axis=0),
    helper.make_node("Unsqueeze", ["input_ids", "axes"], ["u"]),
    helper.make_node("Cast", ["u"], ["uf"], to=TensorProto.FLOAT),
    helper.make_node("Mul", ["uf", "zero"], ["z"]),
    helper.make_node("Concat", ["past_key_values.0.key", "z"], ["present.0.key"], axis=2),
    helper.make_node("Concat", ["past_key_values.0.value", "z"], ["present.0.value"], axis=2),
]
graph = helper.make_graph(nodes, "bigram", inputs, outputs, inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
onnx.save(model, os.path.join(out, "onnx", "model.onnx"))

tok = ByteTokenizer()
tok.save(os.path.join(out, "tokenizer.json"))
cfg = {"model_type": "llmops-gpt", "n_layer": 1, "n_head": 1, "n_embd": 1, "head_dim": 1, "vocab_size": V,
       "n_positions": spec["n_positions"], "bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id}
files = {"config.json": cfg, "tokenizer_config.json": tok.tokenizer_config(spec["n_positions"]),
         "generation_config.json": {"eos_token_id": [tok.end_id, tok.eos_id]}}
for name, obj in files.items():
    with open(os.path.join(out, name), "w") as f:
        json.dump(obj, f)
