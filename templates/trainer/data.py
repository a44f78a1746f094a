"""Datasets: JSONL records -> token ids + loss masks -> deterministic batches.

Records are {"id", "text"} or {"id", "messages": [{"role", "content"}]}. Text records become
<|bos|>{text}<|eos|>; chat records go through the chat template. In a finetune the loss mask keeps
only the assistant's replies (content and closing <|end|>), so the model learns to answer, not to
imitate users.
"""
import json
import os

import torch

from tokenizer import CHAT_FORMAT

ROLES = ("system", "user", "assistant")


class DataError(ValueError):
    pass


def read_jsonl(path):
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{n}: not JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise DataError(f"{path}:{n}: expected an object with \"text\" or \"messages\"")
            if isinstance(rec.get("text"), str):
                records.append(rec)
            elif isinstance(rec.get("messages"), list):
                for i, m in enumerate(rec["messages"]):
                    if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                        raise DataError(f"{path}:{n}: messages[{i}]: expected {{\"role\": system|user|assistant, "
                                        f"\"content\": string}}")
                records.append(rec)
            else:
                raise DataError(f"{path}:{n}: expected a \"text\" string or a \"messages\" list")
    return records


def render(rec, tok, assistant_only):
    """(ids, mask) for one record; mask[i] = 1 where token i counts in the loss."""
    if "text" in rec and isinstance(rec["text"], str):
        ids = [tok.bos_id] + tok.encode(rec["text"]) + [tok.eos_id]
        return ids, [1] * len(ids)
    ids, mask = [], []
    for m in rec["messages"]:
        tmpl = CHAT_FORMAT[m["role"]]
        head, tail = tmpl.split("{content}")
        end, after = tail[: len("<|end|>")], tail[len("<|end|>"):]
        h, body, rest = tok.encode(head), tok.encode(m["content"] + end), tok.encode(after)
        learn = 1 if (not assistant_only or m["role"] == "assistant") else 0
        ids += h + body + rest
        # In a finetune only the reply and its closing <|end|> are targets (the role header and the
        # newline after <|end|> are template); in a plain train run everything counts.
        ctx = 0 if assistant_only else 1
        mask += [ctx] * len(h) + [learn] * len(body) + [ctx] * len(rest)
    return ids, mask


def load_split(dataset_dir, split, tok, kind):
    """Records of a split rendered for `kind` ("train" or "finetune"). Returns (items, mode)."""
    path = os.path.join(dataset_dir, f"{split}.jsonl")
    if not os.path.exists(path):
        return None, None
    recs = read_jsonl(path)
    if kind == "finetune":
        chats = [r for r in recs if "messages" in r and not isinstance(r.get("text"), str)]
        if chats:
            items = [render(r, tok, assistant_only=True) for r in chats]
            items = [it for it in items if sum(it[1]) > 0]
            return items, "chat"
    return [render(r, tok, assistant_only=False) for r in recs], "packed"


class PackedStream:
    """All records end to end; a batch is random windows of context+1 tokens (train runs)."""

    def __init__(self, items, context, seed):
        ids, mask = [], []
        for i, m in items:
            ids += i
            mask += m
        if not ids:
            raise DataError("the split has no tokens")
        # Tiny datasets: repeat so a full window always fits.
        while len(ids) < context + 2:
            ids, mask = ids + ids, mask + mask
        self.ids = torch.tensor(ids, dtype=torch.long)
        self.mask = torch.tensor(mask, dtype=torch.long)
        self.context = context
        self.gen = torch.Generator().manual_seed(seed)

    def batch(self, batch_size):
        hi = len(self.ids) - self.context - 1
        starts = torch.randint(0, hi + 1, (batch_size,), generator=self.gen)
        return self._windows(starts)

    def _windows(self, starts):
        offs = torch.arange(self.context + 1)
        idx = starts[:, None] + offs[None, :]
        chunk, m = self.ids[idx], self.mask[idx]
        return chunk[:, :-1], chunk[:, 1:], m[:, 1:]

    def fixed_batches(self, batch_size, n):
        """Evenly spaced windows: the same val batches at every eval, so val losses compare."""
        hi = len(self.ids) - self.context - 1
        total = batch_size * n
        starts = torch.linspace(0, hi, total).long()
        return [self._windows(starts[i * batch_size:(i + 1) * batch_size]) for i in range(n)]

    def state(self):
        return self.gen.get_state()

    def load_state(self, s):
        self.gen.set_state(s)


class ChatRecords:
    """One conversation per row, right-padded; loss only where the mask says (finetunes)."""

    def __init__(self, items, context, seed, pad_id):
        if not items:
            raise DataError("the split has no chat records with an assistant reply")
        # A reply that starts past the context window would give a batch row with nothing to learn.
        kept = [it for it in items if sum(it[1][1: context + 1]) > 0]
        if not kept:
            raise DataError(f"no conversation has an assistant reply within the first {context} tokens. "
                            "Try this: fine-tune a base with a longer context, or shorten system/user turns")
        if len(kept) < len(items):
            print(f"warning: {len(items) - len(kept)} of {len(items)} conversations have no assistant "
                  f"tokens within the context ({context}); skipped", flush=True)
        items = kept
        self.items = items
        self.context = context
        self.pad_id = pad_id
        self.gen = torch.Generator().manual_seed(seed)

    def _collate(self, picks):
        rows = [(ids[: self.context + 1], m[: self.context + 1]) for ids, m in (self.items[i] for i in picks)]
        width = max(len(r[0]) for r in rows)
        x = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mk = torch.zeros((len(rows), width), dtype=torch.long)
        for j, (ids, m) in enumerate(rows):
            x[j, : len(ids)] = torch.tensor(ids)
            mk[j, : len(m)] = torch.tensor(m)
        return x[:, :-1], x[:, 1:], mk[:, 1:]

    def batch(self, batch_size):
        picks = torch.randint(0, len(self.items), (batch_size,), generator=self.gen).tolist()
        return self._collate(picks)

    def fixed_batches(self, batch_size, n):
        picks = list(range(len(self.items)))[: batch_size * n]
        return [self._collate(picks[i:i + batch_size]) for i in range(0, len(picks), batch_size)]

    def state(self):
        return self.gen.get_state()

    def load_state(self, s):
        self.gen.set_state(s)


def make_source(items, mode, context, seed, tok):
    if mode == "chat":
        return ChatRecords(items, context, seed, tok.pad_id)
    return PackedStream(items, context, seed)
