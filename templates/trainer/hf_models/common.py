"""Pieces both families share: the attention mask, attention itself, and the loss."""
import torch
import torch.nn.functional as F


def build_mask(attention_mask, s, total, device, window=None):
    """bool [b|1, 1, s, total]: query i (absolute index total - s + i) may see key j when j <= i, the
    key is not padding (attention_mask[b, j] == 1) and, with a sliding window, i - j < window."""
    q_idx = torch.arange(s, device=device) + (total - s)
    k_idx = torch.arange(total, device=device)
    mask = k_idx[None, :] <= q_idx[:, None]
    if window:
        mask = mask & ((q_idx[:, None] - k_idx[None, :]) < window)
    mask = mask[None, None]
    if attention_mask is not None:
        mask = mask & attention_mask.bool()[:, None, None, :]
    return mask


def attend(q, k, v, mask, scale, groups=1, softcap=None):
    """q [b, h, s, d]; k, v [b, kv, t, d] with h a multiple of kv (grouped-query attention: query head
    i reads kv head i // (h / kv), as transformers' repeat_kv lays them out). Softmax in float32.
    softcap (Gemma 2): scaled scores become tanh(scores / softcap) * softcap before the mask."""
    if groups > 1:  # a Python int from the config, so the trace has no data-dependent branch
        b, kv, t, d = k.shape
        k = k[:, :, None].expand(b, kv, groups, t, d).reshape(b, kv * groups, t, d)
        v = v[:, :, None].expand(b, kv, groups, t, d).reshape(b, kv * groups, t, d)
    att = (q @ k.transpose(-2, -1)).float() * scale
    if softcap:
        att = torch.tanh(att / softcap) * softcap
    att = att.masked_fill(~mask, torch.finfo(torch.float32).min)
    att = F.softmax(att, dim=-1).to(q.dtype)
    return att @ v


def lm_loss(logits, targets, loss_mask):
    if targets is None:
        return logits, None
    loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
    if loss_mask is None:
        return logits, loss.mean()
    m = loss_mask.reshape(-1).to(loss.dtype)
    return logits, (loss * m).sum() / m.sum().clamp(min=1.0)


def count_params(model, trainable_only=False):
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        n += p.numel()
    return n
