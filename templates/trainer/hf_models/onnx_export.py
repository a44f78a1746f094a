"""ONNX export in the onnx-community / transformers.js layout.

Inputs input_ids, attention_mask, position_ids [batch_size, ...] int64 and past_key_values.N.key|value
[batch_size, n_kv_heads, past_sequence_length, head_dim]; outputs logits and present.N.key|value. The
dynamic axes carry the names transformers.js resolves when it builds an empty cache (batch_size,
past_sequence_length), and heads/head_dim stay static, so the cache shape comes from the graph.

fp16: torch 1.13 cannot run half-precision matmuls on a CPU, so the graph is traced in float32 from
weights already rounded to fp16, then rewritten: weight matrices stored as float16 with a Cast to
float32 after them, cache inputs and outputs and the logits in float16. The arithmetic stays float32
(the same numbers as the torch reference on the fp16 checkpoint); the file is half the size.
"""
import inspect
import os
import shutil

import torch
import torch.nn as nn

OPSET = 14
TWO_GB = 2 * 1024**3


class OnnxWrapper(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        logits, presents = self.model.forward_cached(input_ids, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def io_names(n_layer):
    inputs, outputs = ["input_ids", "attention_mask", "position_ids"], ["logits"]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(n_layer):
        for kind in ("key", "value"):
            inputs.append(f"past_key_values.{i}.{kind}")
            outputs.append(f"present.{i}.{kind}")
            axes[f"past_key_values.{i}.{kind}"] = {0: "batch_size", 2: "past_sequence_length"}
            axes[f"present.{i}.{kind}"] = {0: "batch_size", 2: "total_sequence_length"}
    return inputs, outputs, axes


def _trace(model, path):
    cfg = model.config
    b, s, past = 1, 3, 2  # a non-zero past in the trace keeps its axis dynamic
    ids = torch.zeros((b, s), dtype=torch.long)
    mask = torch.ones((b, past + s), dtype=torch.long)
    pos = torch.arange(past, past + s, dtype=torch.long)[None]
    kv = [torch.zeros((b, cfg.n_kv_head, past, cfg.head_dim)) for _ in range(2 * cfg.n_layer)]
    inputs, outputs, axes = io_names(cfg.n_layer)
    extra = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        extra["dynamo"] = False  # torch >= 2.9 defaults to dynamo, which ignores dynamic_axes
    with torch.no_grad():
        torch.onnx.export(OnnxWrapper(model), (ids, mask, pos, *kv), path, input_names=inputs,
                          output_names=outputs, dynamic_axes=axes, opset_version=OPSET,
                          do_constant_folding=True, **extra)


def _to_fp16(m):
    """Rewrites a float32 graph as described in the module docstring."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    g = m.graph
    casts = []
    for init in list(g.initializer):
        if init.data_type != TensorProto.FLOAT or len(init.dims) < 2:
            continue  # norms, biases and rotary frequencies stay float32 (small, and exact)
        arr = numpy_helper.to_array(init).astype(np.float16)
        new = numpy_helper.from_array(arr, init.name + "__fp16")
        g.initializer.remove(init)
        g.initializer.append(new)
        casts.append(helper.make_node("Cast", [new.name], [init.name], to=TensorProto.FLOAT, name=init.name + "__cast"))
    for inp in g.input:
        if inp.name.startswith("past_key_values."):
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
            f32 = inp.name + "__f32"
            for node in g.node:
                for j, x in enumerate(node.input):
                    if x == inp.name:
                        node.input[j] = f32
            casts.append(helper.make_node("Cast", [inp.name], [f32], to=TensorProto.FLOAT, name=f32 + "__cast"))
    tail = []
    for out in g.output:
        f32 = out.name + "__f32"
        for node in g.node:
            for j, x in enumerate(node.output):
                if x == out.name:
                    node.output[j] = f32
            for j, x in enumerate(node.input):
                if x == out.name:
                    node.input[j] = f32
        out.type.tensor_type.elem_type = TensorProto.FLOAT16
        tail.append(helper.make_node("Cast", [f32], [out.name], to=TensorProto.FLOAT16, name=out.name + "__cast"))
    nodes = casts + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]  # shapes inferred for float32 names no longer hold; onnxruntime re-infers
    return m


def export_onnx(model, out_path, fp16=False):
    """Writes out_path (onnx/model.onnx or onnx/model_fp16.onnx) and, past 2 GB, out_path + '_data'."""
    onnx_dir = os.path.dirname(out_path)
    os.makedirs(onnx_dir, exist_ok=True)
    work = os.path.join(onnx_dir, ".trace")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    traced = os.path.join(work, "model.onnx")
    _trace(model, traced)
    weight_bytes = sum(p.numel() * (2 if fp16 else 4) for p in model.parameters())
    if not fp16 and weight_bytes < TWO_GB and os.path.isfile(traced) and len(os.listdir(work)) == 1:
        os.replace(traced, out_path)
    else:
        import onnx
        m = onnx.load(traced)  # also reads the per-tensor files torch writes past 2 GB
        if fp16:
            m = _to_fp16(m)
        if weight_bytes >= TWO_GB:
            onnx.save_model(m, out_path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=os.path.basename(out_path) + "_data", size_threshold=1024)
        else:
            onnx.save_model(m, out_path)
    shutil.rmtree(work, ignore_errors=True)
    return out_path
