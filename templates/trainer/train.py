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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import checkpoint as ckpt  # noqa: E402
from data import DataError, load_split, make_source  # noqa: E402
from events import Events  # noqa: E402
from presets import resolve as resolve_preset  # noqa: E402
from spec import SpecError, load_spec  # noqa: E402
from tokenizer import load_tokenizer  # noqa: E402

PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12, "L4": 121e12}


class Stop:
    """SIGTERM/SIGINT only set a flag: the step in flight finishes, then we checkpoint and leave."""

    def __init__(self):
        self.reason = None
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


def run(spec, events, stop):
    rank, world, local_rank = dist_env()
    is_main = rank == 0
    hp = resolve_preset(spec["preset"], spec["overrides"])
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
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
    torch.manual_seed(spec["seed"])
    random.seed(spec["seed"])

    # A Llama-architecture run brings a Hugging Face tokenizer; its data arrives tokenized by the CLI.
    tok = None if spec.get("arch") == "llama" else load_tokenizer(spec["tokenizer"])
    handle = build(spec, hp, tok, device)
    tok = handle.tokenizer
    context = handle.context
    model = handle.module

    total = spec["max_steps"] or hp["max_steps"]
    eval_every = spec["eval_every"] or hp["eval_every"]
    ckpt_every = spec["checkpoint_every"] or hp["checkpoint_every"]
    log_every = max(1, hp["log_every"])
    ds_dir = spec["dataset"]["dir"]

    train_items, mode = handle.load_split(ds_dir, "train", spec["kind"])
    if not train_items:
        raise DataError(f"{os.path.join(ds_dir, 'train.jsonl')}: no usable records")
    train_src = make_source(train_items, mode, context, spec["seed"] * 1000 + rank, tok)
    val_items, vmode = handle.load_split(ds_dir, "val", spec["kind"])
    val_batches = None
    if val_items:
        val_batches = make_source(val_items, vmode, context, spec["seed"], tok).fixed_batches(
            hp["batch_size"], hp["eval_batches"])

    use_amp = device.type == "cuda" and hp["dtype"] != "fp32"
    amp_dtype = torch.float32
    if use_amp:
        want = hp["dtype"]
        amp_dtype = torch.bfloat16 if want in ("bf16", "bfloat16") or (
            want == "auto" and torch.cuda.is_bf16_supported()) else torch.float16
    def autocast():
        # CPU autocast in torch 1.13 rejects fp32; on the CPU we simply do not autocast.
        return torch.autocast("cuda", dtype=amp_dtype) if use_amp else contextlib.nullcontext()

    want_scaler = use_amp and amp_dtype == torch.float16
    scaler = (torch.amp.GradScaler("cuda", enabled=want_scaler) if hasattr(torch.amp, "GradScaler")
              else torch.cuda.amp.GradScaler(enabled=want_scaler))
    handle.set_sdpa(device.type == "cuda" and hp["sdpa"])

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt_kwargs = {"lr": hp["lr"], "betas": (hp["beta1"], hp["beta2"])}
    if device.type == "cuda" and "fused" in torch.optim.AdamW.__init__.__code__.co_varnames:
        opt_kwargs["fused"] = True
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], **opt_kwargs)

    start_step, tokens_seen = 0, 0
    if spec.get("resume_from"):
        cdir = ckpt.resolve(spec["resume_from"])
        state = ckpt.load_state(cdir)
        handle.load_checkpoint(cdir)
        opt.load_state_dict(ckpt.tload(os.path.join(cdir, "optimizer.pt"), device))
        rng = ckpt.tload(os.path.join(cdir, "rng.pt"))
        set_rng_state(rng, device)
        train_src.load_state(rng["data"])
        if "scaler" in rng and scaler.is_enabled():
            scaler.load_state_dict(rng["scaler"])
        start_step, tokens_seen = state["step"], state.get("tokens", 0)
        print(f"resumed from {cdir} at step {start_step}", flush=True)

    fwd = model
    if hp["compile"] and device.type == "cuda" and hasattr(torch, "compile"):
        fwd = torch.compile(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        fwd = DDP(fwd, device_ids=[local_rank] if device.type == "cuda" else None)

    tokens_per_step = hp["batch_size"] * hp["grad_accum"] * context * world
    n_params = handle.num_params()
    gpu_name = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    peak = peak_flops(gpu_name)
    flops_tok = handle.flops_per_token()
    meta = {"preset": spec["preset"], "run_id": spec.get("run_id"), "dataset_id": spec["dataset"].get("id"),
            "dataset_dir": ds_dir, "kind": spec["kind"], "base": handle.base_info(), "hp": hp}
    events.emit("status", status="running", total_steps=total, start_step=start_step, env={
        "python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "device": device.type, "gpu": gpu_name, "gpu_count": world if device.type == "cuda" else 0,
        "params": n_params, "trainable_params": handle.num_params(trainable_only=True),
        "tokens_per_step": tokens_per_step, "dtype": str(amp_dtype).replace("torch.", ""),
        "sdpa": device.type == "cuda" and hp["sdpa"], "world_size": world,
        **({"data": handle.data_counts} if getattr(handle, "data_counts", None) else {})})
    print(f"training {spec['kind']} preset={spec['preset']} params={n_params} device={device} "
          f"steps={start_step}->{total} tokens/step={tokens_per_step}", flush=True)

    def save(step):
        if not is_main:
            return
        rng = rng_state(device)
        rng["data"] = train_src.state()
        if scaler.is_enabled():
            rng["scaler"] = scaler.state_dict()
        path = ckpt.save(os.path.join(spec["run_dir"], "checkpoints"), step,
                         {**handle.checkpoint_payload(), "optimizer.pt": opt.state_dict(), "rng.pt": rng},
                         {"step": step, "total_steps": total, "tokens": tokens_seen, "meta": meta,
                          "world_size": world}, keep=hp["keep_checkpoints"])
        events.emit("checkpoint", step=step, path=os.path.abspath(path))
        return path

    def evaluate():
        model.eval()
        losses = []
        with torch.no_grad():
            for x, y, m in val_batches:
                x, y, m = x.to(device), y.to(device), m.to(device)
                with autocast():
                    _, loss = model(x, y, m)
                losses.append(loss.item())
        model.train()
        v = sum(losses) / len(losses)
        return v, math.exp(min(v, 50.0))

    model.train()
    last_saved = start_step if spec.get("resume_from") else None
    t_last, tok_last = time.time(), tokens_seen
    step = start_step
    while step < total:
        step += 1
        lr = lr_at(step, hp, total)
        for g in opt.param_groups:
            g["lr"] = lr
        loss_sum = torch.zeros((), device=device)
        for micro in range(hp["grad_accum"]):
            x, y, m = train_src.batch(hp["batch_size"])
            x, y, m = x.to(device, non_blocking=True), y.to(device, non_blocking=True), m.to(device)
            sync = world == 1 or micro == hp["grad_accum"] - 1
            ctx = fwd.no_sync() if (world > 1 and not sync) else contextlib.nullcontext()
            with ctx:
                with autocast():
                    _, loss = fwd(x, y, m)
                scaler.scale(loss / hp["grad_accum"]).backward()
            loss_sum += loss.detach()
        if hp["grad_clip"] > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, hp["grad_clip"])
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        tokens_seen += tokens_per_step

        if world > 1:
            import torch.distributed as dist
            flag = torch.tensor([1.0 if stop.reason else 0.0], device=device)
            dist.all_reduce(flag)
            if flag.item() > 0 and not stop.reason:
                stop.reason = "SIGTERM"

        if is_main and (step % log_every == 0 or step == total or step == start_step + 1 or stop.reason):
            loss_v = (loss_sum / hp["grad_accum"]).item()
            now = time.time()
            tps = (tokens_seen - tok_last) / max(now - t_last, 1e-9)
            t_last, tok_last = now, tokens_seen
            values = {"loss": loss_v, "lr": lr, "tokens_per_s": round(tps, 1), "tokens": tokens_seen}
            if peak and flops_tok:
                values["mfu"] = round(flops_tok * tps / (peak * world), 4)
            events.emit("metric", step=step, values=values)
            print(f"step {step}/{total} loss {loss_v:.4f} lr {lr:.2e} tok/s {tps:.0f}", flush=True)
            if not math.isfinite(loss_v):
                raise RuntimeError(f"loss is {loss_v} at step {step}; try a lower lr (overrides.lr)")
        if val_batches and is_main and (step % eval_every == 0 or step == total):
            v, ppl = evaluate()
            events.emit("metric", step=step, values={"val_loss": v, "val_ppl": ppl})
            print(f"step {step} val_loss {v:.4f} val_ppl {ppl:.2f}", flush=True)
        if stop.reason:
            save(step)
            events.emit("status", status="stopped", reason=stop.reason, step=step)
            print(f"stopped by {stop.reason} at step {step}; checkpoint saved", flush=True)
            return 0
        if step % ckpt_every == 0 and step != total:
            save(step)
            last_saved = step

    if is_main:
        if last_saved != total:
            save(total)
        if spec["export"]:
            out = os.path.join(spec["run_dir"], "model")
            res = handle.export(out, dict(meta, step=total))
            events.emit("artifact", kind="model", path=res["path"], parity=res.get("parity"))
            if res.get("onnx"):
                events.emit("artifact", kind="onnx", path=res["onnx"])
            print(f"exported to {res['path']}", flush=True)
        events.emit("status", status="succeeded", step=total)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="llmops trainer")
    ap.add_argument("--spec", required=True, help="path to the run's spec.json")
    args = ap.parse_args(argv)
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
