#!/usr/bin/env python3
"""PyTorch reference of cadenza's ensemble Music Transformer (kind music_transformer, named config
ensemble_small in src/models/music_transformer.c), for side-by-side benchmarks (bench/ensemble.sh).

The model is ../shared/bench/torch_reference.py's Transformer with relative attention (its Block and
the skewing trick of Huang et al. 2018, section 3.4.1), changed where cadenza's config differs:
  - max_relative < the context: one embedding per head for the distances 0 .. R-1 (R = 1024), and
    every key further back than R-1 shares the embedding of distance R-1 (clipped, as Shaw et al. 2018
    clip relative positions; cadenza's skew_add_row in src/nn/cpu/attention.c does the same);
  - dropout (PyTorch's: the probability of dropping) on the embeddings, after each attention
    projection and after the second feed-forward layer, the three sites cadenza drops at;
  - the module names are cadenza's tensor names (embedding, blocks.N.ln1/qkv/er/proj/ln2/ff1/ff2,
    ln_f, output), so a cadenza checkpoint loads by name (--check), and the initialisation is
    cadenza's (GPT-2's), so the losses printed by both sides are comparable.
The protocol is torch_reference.py's: random tokens, 3 warm-up steps, timed steps, one JSON line per
measurement, then a table.
  train  tokens/s of a whole training step (forward with dropout, backward, clip_grad_norm_ 1.0,
         AdamW lr 1e-3 weight decay 0.01), tokens = batch * seq (4 x 2048), fp32
  gen    tokens/s of batch-1 sampling with a key/value cache (torch.multinomial over the full
         softmax), 8 warm-up tokens, then --gen-tokens (at most seq) from position 0, no_grad, eval

  /usr/bin/python3 bench/torch_ensemble.py --threads 2 --configs ensemble_small
  /usr/bin/python3 bench/torch_ensemble.py --threads 1 --configs ensemble_tiny --steps 2 --gen-tokens 32
  build/bench/bench_ensemble --configs ensemble_tiny --check /tmp/c && \
      /usr/bin/python3 bench/torch_ensemble.py --configs ensemble_tiny --check /tmp/c

--check DIR loads what bench_ensemble --check DIR wrote (cadenza's initial weights, a random batch and
its evaluation loss, the session's logits after row 0's first seq tokens), and compares: the loss of
this model on the same weights and tokens (dropout off), and the last logits of both the full forward
and the cached step-by-step path. Exits 1 when they disagree.

Works with PyTorch 1.13 (Debian's python3-torch, CPU) and 2.x.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The ensemble codec's vocabulary (CDZ_ENS_VOCAB in include/cadenza/ensemble.h).
ENS_VOCAB = 5480

CONFIGS = {
    # src/models/music_transformer.c, named config ensemble_small
    "ensemble_small": dict(vocab=ENS_VOCAB, layers=4, d=128, heads=4, ff=512, max_len=2048, max_rel=1024,
                           dropout=0.1, seq=2048, batch=4, lr=1e-3, clip=1.0, weight_decay=0.01),
    # bench_ensemble's quick-check shape: the same structure, distances clipped too (max_rel < seq)
    "ensemble_tiny": dict(vocab=ENS_VOCAB, layers=2, d=64, heads=2, ff=256, max_len=256, max_rel=128,
                          dropout=0.1, seq=256, batch=2, lr=1e-3, clip=1.0, weight_decay=0.01),
}


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h = c["d"], c["heads"]
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ff1, self.ff2 = nn.Linear(d, c["ff"]), nn.Linear(c["ff"], d)
        # one embedding per head and relative distance: row r is distance R-1-r (cadenza's layout)
        self.er = nn.Parameter(torch.randn(self.h, c["max_rel"], d // self.h) * 0.02)
        self.drop = nn.Dropout(c["dropout"])

    def rel_logits(self, q, S):
        """q (B,H,T,Dh) at positions S-T .. S-1 -> (B,H,T,S): column c holds q . er(distance S-1-c),
        distances past R-1 clipped to R-1 (then skewed when T == S)."""
        R = self.er.shape[1]
        Tr = min(S, R)
        qe = q @ self.er[:, R - Tr:].unsqueeze(0).transpose(-1, -2)  # (B,H,T,Tr): distances Tr-1 .. 0
        if S > Tr:  # keys further back than the embeddings reach share distance R-1's
            qe = torch.cat([qe[..., :1].expand(-1, -1, -1, S - Tr), qe], -1)
        T = q.shape[2]
        if T == S:  # training: the skewing trick (Huang et al. 2018)
            qe = F.pad(qe, (1, 0)).reshape(q.shape[0], self.h, T + 1, T)[:, :, 1:]
        return qe

    def attend(self, q, k, v):
        """q: (B,H,T,Dh) for positions S-T..S-1; k, v: (B,H,S,Dh)."""
        T, S, Dh = q.shape[2], k.shape[2], q.shape[3]
        logits = (q @ k.transpose(-1, -2) + self.rel_logits(q, S)) / math.sqrt(Dh)
        if T > 1:
            mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
            logits = logits.masked_fill(~mask, float("-inf"))
        return logits.softmax(-1) @ v

    def forward(self, x, cache=None, pos0=0):
        B, T, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        if cache is not None:
            cache[0][:, :, pos0:pos0 + T] = k
            cache[1][:, :, pos0:pos0 + T] = v
            k, v = cache[0][:, :, :pos0 + T], cache[1][:, :, :pos0 + T]
        a = self.attend(q, k, v).transpose(1, 2).reshape(B, T, d)
        x = x + self.drop(self.proj(a))
        return x + self.drop(self.ff2(F.gelu(self.ff1(self.ln2(x)))))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embedding = nn.Embedding(c["vocab"], c["d"])
        self.drop = nn.Dropout(c["dropout"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.ln_f = nn.LayerNorm(c["d"])
        self.output = nn.Linear(c["d"], c["vocab"])

    def init_gpt2(self, layers):
        """cadenza's cdz_init_gpt2 (src/models/model.c), so the losses of the two sides compare: biases 0,
        layer-norm weights 1, the others N(0, 0.02), proj and ff2 weights N(0, 0.02 / sqrt(2 L))."""
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith(".bias"):
                    p.zero_()
                elif "ln" in name:
                    p.fill_(1.0)
                else:
                    scale = 1 / math.sqrt(2 * layers) if name.endswith((".proj.weight", ".ff2.weight")) else 1.0
                    p.normal_(0.0, 0.02 * scale)
        return self

    def forward(self, x, caches=None, pos0=0):
        h = self.drop(self.embedding(x))
        for i, b in enumerate(self.blocks):
            h = b(h, None if caches is None else caches[i], pos0)
        return self.output(self.ln_f(h))


def bench_train(c, steps, warmup):
    torch.manual_seed(0)
    model = Transformer(c).init_gpt2(c["layers"]).train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
    x = torch.randint(0, c["vocab"], (c["batch"], c["seq"] + 1))

    def step():
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), c["clip"])
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        loss = step()
    dt = (time.perf_counter() - t) / steps
    return dict(tokens_per_s=c["batch"] * c["seq"] / dt, step_ms=dt * 1e3, params=params,
                batch=c["batch"], seq=c["seq"], vocab=c["vocab"], loss=round(loss.item(), 4))


def new_caches(c):
    dh = c["d"] // c["heads"]
    return [[torch.zeros(1, c["heads"], c["max_len"], dh) for _ in range(2)] for _ in range(c["layers"])]


@torch.no_grad()
def bench_gen(c, n):
    torch.manual_seed(0)
    model = Transformer(c).init_gpt2(c["layers"]).eval()
    params = sum(p.numel() for p in model.parameters())
    n = min(n, c["seq"])
    caches = new_caches(c)
    tok = torch.zeros(1, 1, dtype=torch.long)

    def run(count):
        nonlocal tok
        for i in range(count):
            logits = model(tok, caches, i)
            probs = logits[0, -1].softmax(-1)
            tok = torch.multinomial(probs, 1).view(1, 1)

    run(8)
    t = time.perf_counter()
    run(n)
    dt = time.perf_counter() - t
    return dict(tokens_per_s=n / dt, step_ms=dt / n * 1e3, tokens=n, params=params)


def read_safetensors(path):
    """{name: float32 tensor} of a safetensors file (no dependency on the safetensors package)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(t["shape"])
    return out


@torch.no_grad()
def check(c, name, d):
    ref = json.load(open(os.path.join(d, "check.json")))
    B, T = ref["batch"], ref["seq"]
    if (B, T, ref["vocab"]) != (c["batch"], c["seq"], c["vocab"]):
        raise SystemExit(f"check: {d} holds {ref['config']} ({B} x {T}, vocab {ref['vocab']}), not {name}")
    model = Transformer(c).eval()
    weights = read_safetensors(os.path.join(d, "model.safetensors"))
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    extra = sorted(k for k in set(weights) - set(own) if not k.startswith("adam"))
    if missing or extra:
        raise SystemExit(f"check: tensors only here {missing}, only in cadenza's file {extra}")
    for k, v in own.items():
        if tuple(v.shape) != tuple(weights[k].shape):
            raise SystemExit(f"check: {k}: shape {tuple(v.shape)} here, {tuple(weights[k].shape)} in cadenza's file")
    model.load_state_dict({k: weights[k] for k in own})
    raw = open(os.path.join(d, "tokens.u16"), "rb").read()
    x = torch.tensor(struct.unpack(f"<{B * (T + 1)}H", raw), dtype=torch.long).view(B, T + 1)
    logits = model(x[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), x[:, 1:].reshape(-1)).item()
    caches = new_caches(c)
    for i in range(T):
        step_logits = model(x[:1, i:i + 1], caches, i)[0, -1]
    cz = torch.frombuffer(bytearray(open(os.path.join(d, "step_logits.f32"), "rb").read()), dtype=torch.float32)
    full_vs_cz = (logits[0, -1] - cz).abs().max().item()
    step_vs_cz = (step_logits - cz).abs().max().item()
    params = sum(p.numel() for p in model.parameters())
    # fp32 sums in different orders over 128-256 terms: agreement to ~1e-5 relative is expected; a
    # semantic difference (e.g. unclipped distances) moves the loss in the third decimal or more
    ok = abs(loss - ref["loss"]) <= 1e-4 * abs(ref["loss"]) and max(full_vs_cz, step_vs_cz) <= 1e-3 and params == ref["params"]
    r = dict(config=name, what="check", loss_torch=round(loss, 6), loss_cadenza=round(ref["loss"], 6),
             max_abs_logit_diff_full=full_vs_cz, max_abs_logit_diff_step=step_vs_cz, params=params,
             params_cadenza=ref["params"], ok=ok)
    print(json.dumps(r), flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="ensemble_small", help="ensemble_small, ensemble_tiny, comma-separated, or all")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--gen-tokens", type=int, default=512)
    ap.add_argument("--what", default="train,gen")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch default)")
    ap.add_argument("--check", metavar="DIR", help="compare with bench_ensemble --check DIR instead of timing")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    for name in names:
        if name not in CONFIGS:
            ap.error(f"unknown config {name!r} (known: {', '.join(CONFIGS)}, all)")
    if args.check:
        sys.exit(0 if all(check(CONFIGS[n], n, args.check) for n in names) else 1)
    rows = []
    for name in names:
        c = CONFIGS[name]
        for what in args.what.split(","):
            r = dict(impl="torch", config=name, what=what)
            r.update(bench_train(c, args.steps, args.warmup) if what == "train" else bench_gen(c, args.gen_tokens))
            r.update(device="cpu", torch=torch.__version__, threads=torch.get_num_threads())
            print(json.dumps(r), flush=True)
            rows.append(r)
    print(f"{'config':<15} {'what':<6} {'tokens/s':>12}  params")
    for r in rows:
        print(f"{r['config']:<15} {r['what']:<6} {r['tokens_per_s']:>12.0f}  {r['params']}")


if __name__ == "__main__":
    main()
