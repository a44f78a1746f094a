"""Reading and writing Hugging Face checkpoints without the safetensors package.

The format is simple enough to own: 8 bytes little-endian header length N, N bytes of JSON
({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the raw
little-endian tensor bytes. Sharded checkpoints add model.safetensors.index.json
({"weight_map": {name: shard file}}). Files are memory-mapped copy-on-write, so a multi-GB
checkpoint is paged in only as its tensors are converted.
"""
import json
import mmap
import os
import struct

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}
# Same-size integer views, so every dtype (bf16 included) reaches bytes through numpy.
_INT_VIEW = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"


def read_header(path):
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > 100_000_000:
            raise ValueError(f"{path}: header length {n} is implausible; not a safetensors file")
        try:
            header = json.loads(f.read(n))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: the safetensors header is not JSON ({e.msg})") from None
    return header, 8 + n


def load_file(path, names=None):
    """{name: tensor} of one .safetensors file (tensors keep their stored dtype)."""
    header, base = read_header(path)
    out = {}
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) if size > base else None
    for name, info in header.items():
        if name == "__metadata__" or (names is not None and name not in names):
            continue
        dtype = DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, which llmops does not read "
                             f"(expected one of {', '.join(DTYPES)})")
        begin, end = info["data_offsets"]
        shape = info["shape"]
        numel = 1
        for d in shape:
            numel *= d
        if numel == 0:
            out[name] = torch.empty(shape, dtype=dtype)
            continue
        t = torch.frombuffer(mm, dtype=dtype, count=numel, offset=base + begin)
        if (end - begin) != numel * t.element_size():
            raise ValueError(f"{path}: tensor {name}: {end - begin} bytes for shape {shape} {info['dtype']}")
        out[name] = t.view(shape)
    return out


def load_checkpoint(model_dir):
    """All tensors of a model folder: model.safetensors, or the shards its index names."""
    single = os.path.join(model_dir, SINGLE)
    index = os.path.join(model_dir, INDEX)
    if os.path.isfile(index):
        with open(index, encoding="utf-8") as f:
            weight_map = json.load(f).get("weight_map") or {}
        if not weight_map:
            raise ValueError(f"{index}: no weight_map")
        out = {}
        for shard in sorted(set(weight_map.values())):
            out.update(load_file(os.path.join(model_dir, shard)))
        missing = [k for k in weight_map if k not in out]
        if missing:
            raise ValueError(f"{index}: tensors listed but absent from their shards: {missing[:5]}")
        return out
    if os.path.isfile(single):
        return load_file(single)
    if os.path.isfile(os.path.join(model_dir, "pytorch_model.bin")):
        return torch.load(os.path.join(model_dir, "pytorch_model.bin"), map_location="cpu")
    raise ValueError(f"{model_dir}: no {SINGLE}, {INDEX} or pytorch_model.bin. "
                     "Try this: point at a Hugging Face model folder with its weights downloaded")


def _bytes(t):
    t = t.detach().contiguous().cpu()
    return t.view(_INT_VIEW[t.element_size()]).numpy().tobytes() if t.dtype != torch.bool else t.numpy().tobytes()


def save_file(tensors, path, metadata=None):
    header, offset = {}, 0
    order = sorted(tensors)
    for name in order:
        t = tensors[name]
        n = t.numel() * t.element_size()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in order:
            f.write(_bytes(tensors[name]))


def save_checkpoint(tensors, model_dir, max_shard_bytes=5 * 1024**3):
    """model.safetensors, or shards plus model.safetensors.index.json past max_shard_bytes."""
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    meta = {"format": "pt"}
    if total <= max_shard_bytes:
        save_file(tensors, os.path.join(model_dir, SINGLE), meta)
        return [SINGLE]
    shards, cur, size = [], {}, 0
    for name in sorted(tensors):
        n = tensors[name].numel() * tensors[name].element_size()
        if cur and size + n > max_shard_bytes:
            shards.append(cur)
            cur, size = {}, 0
        cur[name] = tensors[name]
        size += n
    shards.append(cur)
    names, weight_map = [], {}
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, os.path.join(model_dir, fname), meta)
        names.append(fname)
        weight_map.update({k: fname for k in shard})
    with open(os.path.join(model_dir, INDEX), "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    return names + [INDEX]
