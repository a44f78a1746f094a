"""Atomic checkpoints: a checkpoint is a directory that either exists complete or not at all.

Files are written into a hidden temp directory, fsynced, and the directory is renamed into place;
then the `latest` pointer file is replaced atomically. A process killed mid-write leaves only a
`.tmp-*` directory, which resume never picks and the next save cleans up.
"""
import json
import os
import shutil

import torch

STATE_FILE = "trainer_state.json"


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(path):
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(root)


def write_atomic_text(path, text):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(path) or ".")


def publish_dir(tmp, final):
    """fsync everything under tmp, then move it to final (replacing an older final)."""
    _fsync_tree(tmp)
    parent = os.path.dirname(final)
    if os.path.exists(final):
        old = os.path.join(parent, f".old-{os.path.basename(final)}-{os.getpid()}")
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    _fsync_dir(parent)


def save(ckpt_root, step, payload, state, extra_files=None, keep=0):
    """payload: dict of name -> object for torch.save; state: JSON-able trainer state."""
    os.makedirs(ckpt_root, exist_ok=True)
    for name in os.listdir(ckpt_root):
        if name.startswith(".tmp-") or name.startswith(".old-"):
            shutil.rmtree(os.path.join(ckpt_root, name), ignore_errors=True)
    name = f"step-{step:06d}"
    tmp = os.path.join(ckpt_root, f".tmp-{name}-{os.getpid()}")
    os.makedirs(tmp)
    for fname, obj in payload.items():
        torch.save(obj, os.path.join(tmp, fname))
    for fname, src in (extra_files or {}).items():
        shutil.copyfile(src, os.path.join(tmp, fname))
    with open(os.path.join(tmp, STATE_FILE), "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1)
    final = os.path.join(ckpt_root, name)
    publish_dir(tmp, final)
    write_atomic_text(os.path.join(ckpt_root, "latest"), name + "\n")
    if keep and keep > 0:
        done = sorted(n for n in os.listdir(ckpt_root) if n.startswith("step-"))
        for old in done[:-keep]:
            shutil.rmtree(os.path.join(ckpt_root, old), ignore_errors=True)
    return final


def resolve(path):
    """A checkpoint dir, a checkpoints dir with `latest`, or a run dir -> the checkpoint dir."""
    if os.path.isfile(os.path.join(path, STATE_FILE)):
        return path
    for root in (path, os.path.join(path, "checkpoints")):
        pointer = os.path.join(root, "latest")
        if os.path.isfile(pointer):
            with open(pointer, encoding="utf-8") as f:
                name = f.read().strip()
            cand = os.path.join(root, name)
            if os.path.isfile(os.path.join(cand, STATE_FILE)):
                return cand
    raise ValueError(f"resume_from: {path} is not a checkpoint (no {STATE_FILE}, no checkpoints/latest). "
                     "Try this: pass RUN_DIR/checkpoints/step-NNNNNN or a run directory that has checkpoints")


def tload(path, map_location="cpu"):
    """torch.load of our own files; torch >= 2.6 defaults to weights_only, which rejects RNG states."""
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except TypeError:  # torch without the weights_only argument
        return torch.load(path, map_location=map_location)


def load_state(ckpt_dir):
    with open(os.path.join(ckpt_dir, STATE_FILE), encoding="utf-8") as f:
        return json.load(f)
