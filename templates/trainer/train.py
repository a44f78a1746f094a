"""llmops trainer: python3 trainer/train.py --spec RUN_DIR/spec.json

Reads the spec the CLI wrote, trains (or fine-tunes), checkpoints atomically, exports, and reports
progress as JSON lines to $LLMOPS_EVENTS (docs/protocol.md). Under torchrun it trains with DDP and
only rank 0 writes events, checkpoints and the exported model.
"""
import argparse
import contextlib
import math
import os
import platform
import random
import signal
import sys
import time
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# A stop asked for while torch loads (seconds) is kept, not fatal: Stop() picks it up, and the run
# stops gracefully at its first step.
_EARLY_STOP = []
signal.signal(signal.SIGTERM, lambda signum, _f: _EARLY_STOP.append(signal.Signals(signum).name))
signal.signal(signal.SIGINT, lambda signum, _f: _EARLY_STOP.append(signal.Signals(signum).name))

import torch  # noqa: E402

import checkpoint as ckpt  # noqa: E402
from data import DataError, load_split, make_source  # noqa: E402
from events import Events  # noqa: E402
from presets import resolve as resolve_preset  # noqa: E402
from spec import SpecError, load_spec  # noqa: E402
from tokenizer import load_tokenizer  # noqa: E402

PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "L4": 121e12}


class StampedLog:
    """The run log, line by line with a UTC timestamp ("E " marks stderr), as `runs logs` shows it.

    Under llmops stdout and stderr are the file logs/run.log, not a pipe: the trainer never depends
    on a reader being alive. A failed write (a full disk) is dropped rather than allowed to end the
    run: the events file and checkpoints matter more than a log line.
    """

    def __init__(self, stream, mark=""):
        self._stream = stream
        self._mark = mark
        self._bol = True

    def write(self, s):
        out = []
        for piece in s.splitlines(keepends=True):
            if self._bol:
                t = time.time()
                out.append(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ " % int(t % 1 * 1000) + self._mark)
            out.append(piece)
            self._bol = piece.endswith("\n")
        try:
            self._stream.write("".join(out))
            self._stream.flush()
        except (OSError, ValueError):
            pass
        return len(s)

    def flush(self):
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


class Stop:
    """SIGTERM/SIGINT only set a flag: the step in flight finishes, then we checkpoint and leave."""

    def __init__(self):
        self.reason = _EARLY_STOP[0] if _EARLY_STOP else None
        signal.signal(signal.SIGTERM, self._handler)
        signal.signal(signal.SIGINT, self._handler)

    def _handler(self, signum, _frame):
        self.reason = signal.Signals(signum).name


def lr_at(step, hp, total):
    """Linear warm-up to lr, then cosine decay to lr * min_lr_ratio at `total`."""
    warm = min(hp["warmup_steps"], max(total - 1, 0))
    if step <= warm and warm > 0:
        return hp["lr"] * step / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    floor = hp["lr"] * hp["min_lr_ratio"]
    return floor + 0.5 * (hp["lr"] - floor) * (1 + math.cos(math.pi * progress))


def dist_env():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def peak_flops(name):
    for key, v in PEAK_FLOPS.items():
        if key in (name or ""):
            return v
    return None


def rng_state(device):
    s = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        s["cuda"] = torch.cuda.get_rng_state(device)
    return s


def set_rng_state(s, device):
    torch.set_rng_state(s["torch"])
    random.setstate(s["python"])
    if device.type == "cuda" and "cuda" in s:
        torch.cuda.set_rng_state(s["cuda"], device)


def build(spec, hp, tok, device):
    """The model handle for this run: ours (llmops-gpt) or a Hugging Face base."""
    ft = spec.get("finetune")
    if spec.get("arch") == "llama" and not ft:
        from hf_handle import HFNative
        return HFNative.fresh_llama(spec, hp, device)
    if ft:
        from handles import detect_base
        return detect_base(ft, hp, tok, device)
    from handles import OurModel
    return OurModel.fresh(hp, tok, device)


def pick_device(hp, world, local_rank):
    """The device, the process group under torchrun, and the numerics settings that go with them."""
    if hp["device"] == "auto":
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(hp["device"])
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        # Same seed + same data + same thread count -> the same loss at every step.
        torch.use_deterministic_algorithms(True)
    return device


def setup(spec):
    """Everything decided before the first step: device, seed, model handle, data, schedule.

    Returns the run's state as a namespace that optimizer(), resume(), loop() and export() share.
    """
    rank, world, local_rank = dist_env()
    hp = resolve_preset(spec["preset"], spec["overrides"])
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    device = pick_device(hp, world, local_rank)
    torch.manual_seed(spec["seed"])
    random.seed(spec["seed"])

    # A Llama-architecture run brings a Hugging Face tokenizer; its data arrives tokenized by the CLI.
    tok = None if spec.get("arch") == "llama" else load_tokenizer(spec["tokenizer"])
    handle = build(spec, hp, tok, device)
    r = types.SimpleNamespace(
        rank=rank, world=world, local_rank=local_rank, is_main=rank == 0, hp=hp, device=device,
        handle=handle, tok=handle.tokenizer, context=handle.context, model=handle.module,
        total=spec["max_steps"] or hp["max_steps"],
        eval_every=spec["eval_every"] or hp["eval_every"],
        ckpt_every=spec["checkpoint_every"] or hp["checkpoint_every"],
        log_every=max(1, hp["log_every"]),
        ds_dir=spec["dataset"]["dir"],
        start_step=0, tokens_seen=0)

    train_items, mode = handle.load_split(r.ds_dir, "train", spec["kind"])
    if not train_items:
        raise DataError(f"{os.path.join(r.ds_dir, 'train.jsonl')}: no usable records")
    r.train_src = make_source(train_items, mode, r.context, spec["seed"] * 1000 + rank, r.tok)
    val_items, vmode = handle.load_split(r.ds_dir, "val", spec["kind"])
    r.val_batches = None
    if val_items:
        r.val_batches = make_source(val_items, vmode, r.context, spec["seed"], r.tok).fixed_batches(
            hp["batch_size"], hp["eval_batches"])

    setup_precision(r)
    handle.set_sdpa(device.type == "cuda" and hp["sdpa"])
    return r


def setup_precision(r):
    """Mixed precision on CUDA (bf16 where supported, else fp16 with a grad scaler); fp32 on the CPU."""
    hp, device = r.hp, r.device
    use_amp = device.type == "cuda" and hp["dtype"] != "fp32"
    r.amp_dtype = torch.float32
    if use_amp:
        want = hp["dtype"]
        r.amp_dtype = torch.bfloat16 if want in ("bf16", "bfloat16") or (
            want == "auto" and torch.cuda.is_bf16_supported()) else torch.float16
    amp_dtype = r.amp_dtype

    def autocast():
        # CPU autocast in torch 1.13 rejects fp32; on the CPU we simply do not autocast.
        return torch.autocast("cuda", dtype=amp_dtype) if use_amp else contextlib.nullcontext()

    r.autocast = autocast
    want_scaler = use_amp and amp_dtype == torch.float16
    r.scaler = (torch.amp.GradScaler("cuda", enabled=want_scaler) if hasattr(torch.amp, "GradScaler")
                else torch.cuda.amp.GradScaler(enabled=want_scaler))


def optimizer(r):
    """AdamW over the trainable parameters; no weight decay on biases and norms (1-D tensors)."""
    hp = r.hp
    r.params = [p for p in r.model.parameters() if p.requires_grad]
    decay = [p for p in r.params if p.dim() >= 2]
    no_decay = [p for p in r.params if p.dim() < 2]
    opt_kwargs = {"lr": hp["lr"], "betas": (hp["beta1"], hp["beta2"])}
    if r.device.type == "cuda" and "fused" in torch.optim.AdamW.__init__.__code__.co_varnames:
        opt_kwargs["fused"] = True
    r.opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                               {"params": no_decay, "weight_decay": 0.0}], **opt_kwargs)


def resume(spec, r):
    """Weights, optimizer, RNG, data position and grad scaler from the checkpoint to resume, if any."""
    if not spec.get("resume_from"):
        return
    cdir = ckpt.resolve(spec["resume_from"])
    state = ckpt.load_state(cdir)
    r.handle.load_checkpoint(cdir)
    r.opt.load_state_dict(ckpt.tload(os.path.join(cdir, "optimizer.pt"), r.device))
    rng = ckpt.tload(os.path.join(cdir, "rng.pt"))
    set_rng_state(rng, r.device)
    r.train_src.load_state(rng["data"])
    if "scaler" in rng and r.scaler.is_enabled():
        r.scaler.load_state_dict(rng["scaler"])
    r.start_step, r.tokens_seen = state["step"], state.get("tokens", 0)
    print(f"resumed from {cdir} at step {r.start_step}", flush=True)


def wrap_forward(r):
    """The module the loop calls: compiled on CUDA when asked, wrapped in DDP under torchrun."""
    r.fwd = r.model
    if r.hp["compile"] and r.device.type == "cuda" and hasattr(torch, "compile"):
        r.fwd = torch.compile(r.model)
    if r.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        r.fwd = DDP(r.fwd, device_ids=[r.local_rank] if r.device.type == "cuda" else None)


def announce(spec, r, events):
    """The "running" event (environment, sizes) and the run's metadata kept with checkpoints."""
    hp, device, handle = r.hp, r.device, r.handle
    r.tokens_per_step = hp["batch_size"] * hp["grad_accum"] * r.context * r.world
    n_params = handle.num_params()
    gpu_name = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    r.peak = peak_flops(gpu_name)
    r.flops_tok = handle.flops_per_token()
    r.meta = {"preset": spec["preset"], "run_id": spec.get("run_id"), "dataset_id": spec["dataset"].get("id"),
              "dataset_dir": r.ds_dir, "kind": spec["kind"], "base": handle.base_info(), "hp": hp}
    events.emit("status", status="running", total_steps=r.total, start_step=r.start_step, env={
        "python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "device": device.type, "gpu": gpu_name, "gpu_count": r.world if device.type == "cuda" else 0,
        "params": n_params, "trainable_params": handle.num_params(trainable_only=True),
        "tokens_per_step": r.tokens_per_step, "dtype": str(r.amp_dtype).replace("torch.", ""),
        "sdpa": device.type == "cuda" and hp["sdpa"], "world_size": r.world,
        **({"data": handle.data_counts} if getattr(handle, "data_counts", None) else {})})
    print(f"training {spec['kind']} preset={spec['preset']} params={n_params} device={device} "
          f"steps={r.start_step}->{r.total} tokens/step={r.tokens_per_step}", flush=True)


def save(spec, r, events, step):
    """An atomic checkpoint of everything resume() reads back (rank 0 only)."""
    if not r.is_main:
        return
    rng = rng_state(r.device)
    rng["data"] = r.train_src.state()
    if r.scaler.is_enabled():
        rng["scaler"] = r.scaler.state_dict()
    path = ckpt.save(os.path.join(spec["run_dir"], "checkpoints"), step,
                     {**r.handle.checkpoint_payload(), "optimizer.pt": r.opt.state_dict(), "rng.pt": rng},
                     {"step": step, "total_steps": r.total, "tokens": r.tokens_seen, "meta": r.meta,
                      "world_size": r.world}, keep=r.hp["keep_checkpoints"])
    events.emit("checkpoint", step=step, path=os.path.abspath(path))
    return path


def evaluate(r):
    """Mean validation loss over the fixed validation batches, and its perplexity."""
    r.model.eval()
    losses = []
    with torch.no_grad():
        for x, y, m in r.val_batches:
            x, y, m = x.to(r.device), y.to(r.device), m.to(r.device)
            with r.autocast():
                _, loss = r.model(x, y, m)
            losses.append(loss.item())
    r.model.train()
    v = sum(losses) / len(losses)
    return v, math.exp(min(v, 50.0))


def train_step(r, step):
    """One optimizer step over grad_accum micro-batches; returns (summed loss, lr)."""
    hp, device = r.hp, r.device
    lr = lr_at(step, hp, r.total)
    for g in r.opt.param_groups:
        g["lr"] = lr
    loss_sum = torch.zeros((), device=device)
    for micro in range(hp["grad_accum"]):
        x, y, m = r.train_src.batch(hp["batch_size"])
        x, y, m = x.to(device, non_blocking=True), y.to(device, non_blocking=True), m.to(device)
        sync = r.world == 1 or micro == hp["grad_accum"] - 1
        ctx = r.fwd.no_sync() if (r.world > 1 and not sync) else contextlib.nullcontext()
        with ctx:
            with r.autocast():
                _, loss = r.fwd(x, y, m)
            r.scaler.scale(loss / hp["grad_accum"]).backward()
        loss_sum += loss.detach()
    if hp["grad_clip"] > 0:
        r.scaler.unscale_(r.opt)
        torch.nn.utils.clip_grad_norm_(r.params, hp["grad_clip"])
    r.scaler.step(r.opt)
    r.scaler.update()
    r.opt.zero_grad(set_to_none=True)
    r.tokens_seen += r.tokens_per_step
    return loss_sum, lr


def share_stop(r, stop):
    """Under torchrun a stop seen by any rank stops every rank at the same step."""
    if r.world > 1:
        import torch.distributed as dist
        flag = torch.tensor([1.0 if stop.reason else 0.0], device=r.device)
        dist.all_reduce(flag)
        if flag.item() > 0 and not stop.reason:
            stop.reason = "SIGTERM"


def loop(spec, r, events, stop):
    """Steps from start_step to total: metrics, evals and checkpoints on schedule, stop on a signal.

    Returns the step last checkpointed (None when none was), or "stopped".
    """
    hp = r.hp
    r.model.train()
    last_saved = r.start_step if spec.get("resume_from") else None
    t_last, tok_last = time.time(), r.tokens_seen
    step = r.start_step
    while step < r.total:
        step += 1
        loss_sum, lr = train_step(r, step)
        share_stop(r, stop)

        if r.is_main and (step % r.log_every == 0 or step == r.total or step == r.start_step + 1 or stop.reason):
            loss_v = (loss_sum / hp["grad_accum"]).item()
            now = time.time()
            tps = (r.tokens_seen - tok_last) / max(now - t_last, 1e-9)
            t_last, tok_last = now, r.tokens_seen
            values = {"loss": loss_v, "lr": lr, "tokens_per_s": round(tps, 1), "tokens": r.tokens_seen}
            if r.peak and r.flops_tok:
                values["mfu"] = round(r.flops_tok * tps / (r.peak * r.world), 4)
            events.emit("metric", step=step, values=values)
            print(f"step {step}/{r.total} loss {loss_v:.4f} lr {lr:.2e} tok/s {tps:.0f}", flush=True)
            if not math.isfinite(loss_v):
                raise RuntimeError(f"loss is {loss_v} at step {step}; try a lower lr (overrides.lr)")
        if r.val_batches and r.is_main and (step % r.eval_every == 0 or step == r.total):
            v, ppl = evaluate(r)
            events.emit("metric", step=step, values={"val_loss": v, "val_ppl": ppl})
            print(f"step {step} val_loss {v:.4f} val_ppl {ppl:.2f}", flush=True)
        if stop.reason:
            save(spec, r, events, step)
            events.emit("status", status="stopped", reason=stop.reason, step=step)
            print(f"stopped by {stop.reason} at step {step}; checkpoint saved", flush=True)
            return "stopped"
        if step % r.ckpt_every == 0 and step != r.total:
            save(spec, r, events, step)
            last_saved = step
    return last_saved


def export(spec, r, events, last_saved):
    """The final checkpoint (unless the loop just wrote it), the exported model, and "succeeded"."""
    if not r.is_main:
        return
    if last_saved != r.total:
        save(spec, r, events, r.total)
    if spec["export"]:
        out = os.path.join(spec["run_dir"], "model")
        res = r.handle.export(out, dict(r.meta, step=r.total))
        events.emit("artifact", kind="model", path=res["path"], parity=res.get("parity"))
        if res.get("onnx"):
            events.emit("artifact", kind="onnx", path=res["onnx"])
        print(f"exported to {res['path']}", flush=True)
    events.emit("status", status="succeeded", step=r.total)


def run(spec, events, stop):
    r = setup(spec)
    optimizer(r)
    resume(spec, r)
    wrap_forward(r)
    announce(spec, r, events)
    last_saved = loop(spec, r, events, stop)
    if last_saved != "stopped":
        export(spec, r, events, last_saved)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="llmops trainer")
    ap.add_argument("--spec", required=True, help="path to the run's spec.json")
    args = ap.parse_args(argv)
    if os.environ.get("LLMOPS_EXIT_FILE") and not sys.stdout.isatty():
        sys.stdout = StampedLog(sys.stdout)
        sys.stderr = StampedLog(sys.stderr, "E ")
    rank, _world, _ = dist_env()
    events = Events(enabled=rank == 0)
    stop = Stop()
    try:
        spec = load_spec(args.spec)
        code = run(spec, events, stop)
    except (SpecError, DataError, ValueError, FileNotFoundError) as e:
        print(f"trainer: error: {e}", file=sys.stderr, flush=True)
        events.emit("status", status="failed", reason=str(e))
        code = 2
    except Exception as e:  # noqa: BLE001 - every failure must reach the supervisor as an event
        traceback.print_exc()
        events.emit("status", status="failed", reason=f"{type(e).__name__}: {e}")
        code = 1
    finally:
        events.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
