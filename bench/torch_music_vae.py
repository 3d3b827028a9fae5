#!/usr/bin/env python3
"""PyTorch reference of cadenza's MusicVAE model (kind music_vae), for side-by-side benchmarks.

The model follows the spec shared by the C kind, this reference and the CLI (bidirectional LSTM
encoder, mu and softplus sigma, reparameterised z, flat "cat-" decoder or hierarchical "hierdec-"
decoder: a conductor LSTM and one core decoder per part that runs each bar from the conductor's bar
embedding).  The protocol is that of ../shared/bench/torch_reference.py and ../shared/docs/BENCHMARKS.md:
random tokens, warm-up steps, timed steps, one JSON line per measurement, then a table.

Measured per configuration:
  train   tokens/s of a whole training step (forward, backward, global-norm clip at 1.0, Adam.step),
          tokens = batch * S * parts; teacher forcing (no scheduled sampling); fp32
  sample  milliseconds for one sample of batch 1: z ~ N(0, 1), then the decoder run one step at a time
          with carried (h, c), each class drawn at --temperature (0: greedy), under torch.no_grad

  /usr/bin/python3 bench/torch_music_vae.py --threads 2 --configs mel_2bar,drums_2bar
  /usr/bin/python3 bench/torch_music_vae.py --configs all --steps 20
  /usr/bin/python3 bench/torch_music_vae.py --check      # loss of fixed parameters, see check() below

Works with PyTorch 1.13 (Debian's python3-torch, CPU) and 2.x.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BAR = 16  # steps per bar (Magenta level_lengths [U, 16])

# parts: list of (classes K, input encoding "one_hot" | "drum_roll")
# enc_layers x enc_hidden per direction; decoder "flat" (dec_layers x dec_hidden) or "hier"
# (conductor cond_layers x cond_hidden, core decoders dec_layers x dec_hidden);
# free_bits, max_beta, beta_rate: the KL term (Magenta's hparams of the same names)
MEL = [(90, "one_hot")]
DRUMS = [(512, "drum_roll")]
CONFIGS = {
    # Magenta's cat-mel_2bar_small
    "mel_2bar_small": dict(S=32, parts=MEL, enc_layers=1, enc_hidden=512, Z=256, decoder="flat",
                           dec_layers=2, dec_hidden=256, batch=512, free_bits=0, max_beta=0.2,
                           beta_rate=0.99999),
    # cadenza's reduced configs (src/models/music_vae.c), the shipped models' shapes
    "mel_2bar": dict(S=32, parts=MEL, enc_layers=1, enc_hidden=128, Z=128, decoder="flat",
                     dec_layers=2, dec_hidden=192, batch=64, free_bits=0, max_beta=0.2,
                     beta_rate=0.9999),
    "mel_16bar": dict(S=256, parts=MEL, enc_layers=1, enc_hidden=128, Z=128, decoder="hier",
                      cond_layers=1, cond_hidden=128, dec_layers=1, dec_hidden=192, batch=32,
                      free_bits=48, max_beta=0.2, beta_rate=0.9999),
    "mel_16bar_flat": dict(S=256, parts=MEL, enc_layers=1, enc_hidden=128, Z=128, decoder="flat",
                           dec_layers=1, dec_hidden=256, batch=32, free_bits=48, max_beta=0.2,
                           beta_rate=0.9999),
    "drums_2bar": dict(S=32, parts=DRUMS, enc_layers=1, enc_hidden=128, Z=128, decoder="flat",
                       dec_layers=2, dec_hidden=192, batch=64, free_bits=48, max_beta=0.2,
                       beta_rate=0.9999),
}

LR, LR_MIN, LR_DECAY, CLIP = 1e-3, 1e-5, 0.9999, 1.0


def input_table(K, kind):
    """(K, width) float table: row k is the input encoding of class k."""
    if kind == "one_hot":
        return torch.eye(K)
    if kind == "drum_roll":  # the 9 bits of k, then 1 when k == 0 (Magenta's roll_input with the NOR bit)
        k = torch.arange(K)
        bits = ((k.unsqueeze(1) >> torch.arange(9)) & 1).float()
        return torch.cat([bits, (k == 0).float().unsqueeze(1)], 1)
    raise ValueError(kind)


def split_state(v, layers, hidden):
    """(N, 2 * layers * hidden) -> (h, c), each (layers, N, hidden): layer 0 (h, c), layer 1 (h, c) ..."""
    v = v.view(v.shape[0], layers, 2, hidden)
    return v[:, :, 0].transpose(0, 1).contiguous(), v[:, :, 1].transpose(0, 1).contiguous()


class MusicVAE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.S, self.P, self.Z = c["S"], len(c["parts"]), c["Z"]
        self.K = [k for k, _ in c["parts"]]
        for p, (K, kind) in enumerate(c["parts"]):
            self.register_buffer(f"table{p}", input_table(K, kind))
        self.widths = [getattr(self, f"table{p}").shape[1] for p in range(self.P)]
        D, He, Z = sum(self.widths), c["enc_hidden"], c["Z"]
        self.enc = nn.LSTM(D, He, c["enc_layers"], batch_first=True, bidirectional=True)
        self.mu = nn.Linear(2 * He, Z)
        self.sigma = nn.Linear(2 * He, Z)
        Ld, Hd = c["dec_layers"], c["dec_hidden"]
        if c["decoder"] == "flat":
            assert self.P == 1, "the flat decoder has one part"
            self.init = nn.Linear(Z, 2 * Ld * Hd)
            self.dec = nn.LSTM(self.widths[0] + Z, Hd, Ld, batch_first=True)
            self.out = nn.Linear(Hd, self.K[0])
        else:
            assert self.S % BAR == 0
            self.U = self.S // BAR
            Lc, Hc = c["cond_layers"], c["cond_hidden"]
            self.cond_init = nn.Linear(Z, 2 * Lc * Hc)
            self.cond = nn.LSTM(1, Hc, Lc, batch_first=True)
            self.core_init = nn.ModuleList(nn.Linear(Hc, 2 * Ld * Hd) for _ in range(self.P))
            self.core = nn.ModuleList(nn.LSTM(w + Hc, Hd, Ld, batch_first=True) for w in self.widths)
            self.core_out = nn.ModuleList(nn.Linear(Hd, K) for K in self.K)

    def table(self, p):
        return getattr(self, f"table{p}")

    def encode(self, x):
        """x: (B, S * P) interleaved tokens -> mu, sigma (B, Z)."""
        xs = x.view(x.shape[0], self.S, self.P)
        inp = torch.cat([F.embedding(xs[:, :, p], self.table(p)) for p in range(self.P)], -1)
        _, (h, _) = self.enc(inp)
        last = torch.cat([h[-2], h[-1]], -1)  # top layer: fwd h at the last step, bwd h at the first
        return self.mu(last), F.softplus(self.sigma(last))

    def decode_logits(self, x, z):
        """Teacher forcing: the list over parts of logits (B, S, K_p)."""
        B = x.shape[0]
        xs = x.view(B, self.S, self.P)
        c = self.c
        prev = []  # per part (B, S, w_p): the encoding of the previous step's class, zeros at t = 0
        for p in range(self.P):
            e = F.embedding(xs[:, :-1, p], self.table(p))
            prev.append(torch.cat([e.new_zeros(B, 1, e.shape[2]), e], 1))
        if c["decoder"] == "flat":
            state = split_state(torch.tanh(self.init(z)), c["dec_layers"], c["dec_hidden"])
            inp = torch.cat([prev[0], z.unsqueeze(1).expand(B, self.S, self.Z)], -1)
            h, _ = self.dec(inp, state)
            return [self.out(h)]
        U, Hc = self.U, c["cond_hidden"]
        cstate = split_state(torch.tanh(self.cond_init(z)), c["cond_layers"], Hc)
        emb, _ = self.cond(z.new_zeros(B, U, 1), cstate)  # (B, U, Hc): bar embeddings
        emb = emb.reshape(B * U, Hc)
        outs = []
        for p in range(self.P):  # the bars as B * U independent rows of 16 steps
            state = split_state(torch.tanh(self.core_init[p](emb)), c["dec_layers"], c["dec_hidden"])
            inp = torch.cat([prev[p].reshape(B * U, BAR, -1), emb.unsqueeze(1).expand(B * U, BAR, Hc)], -1)
            h, _ = self.core[p](inp, state)
            outs.append(self.core_out[p](h).view(B, self.S, -1))
        return outs

    def forward(self, x, eps, beta, free_nats):
        """The objective and its terms; eps: (B, Z)."""
        B = x.shape[0]
        mu, sigma = self.encode(x)
        z = mu + sigma * eps
        xs = x.view(B, self.S, self.P)
        r = 0
        for p, logits in enumerate(self.decode_logits(x, z)):
            ce = F.cross_entropy(logits.reshape(-1, self.K[p]), xs[:, :, p].reshape(-1), reduction="none")
            r = r + ce.view(B, -1).sum(1)
        kl = (0.5 * (mu * mu + sigma * sigma - 1 - 2 * torch.log(sigma))).sum(1)
        loss = (r + beta * torch.clamp(kl - free_nats, min=0)).mean()
        return loss, dict(r=r.mean(), recon=r.mean() / (self.S * self.P), kl=kl.mean(), mu=mu, sigma=sigma)

    @torch.no_grad()
    def sample(self, z, temperature):
        """Batch-1 decoding from z (1, Z), one step at a time with carried (h, c): (S * P,) tokens."""
        c, dev = self.c, z.device
        toks = []

        def draw(logits):
            if temperature <= 0:
                return int(logits.argmax())
            return int(torch.multinomial(F.softmax(logits / temperature, -1), 1))

        if c["decoder"] == "flat":
            w, tab = self.widths[0], self.table(0)
            inp = torch.zeros(1, 1, w + self.Z, device=dev)
            inp[0, 0, w:] = z[0]
            state = split_state(torch.tanh(self.init(z)), c["dec_layers"], c["dec_hidden"])
            for _ in range(self.S):
                h, state = self.dec(inp, state)
                k = draw(self.out(h[0, 0]))
                toks.append(k)
                inp[0, 0, :w] = tab[k]
            return toks
        Hc = c["cond_hidden"]
        cstate = split_state(torch.tanh(self.cond_init(z)), c["cond_layers"], Hc)
        zero = torch.zeros(1, 1, 1, device=dev)
        inps = [torch.zeros(1, 1, w + Hc, device=dev) for w in self.widths]  # prev class zeros at bar 0
        for _ in range(self.U):
            e, cstate = self.cond(zero, cstate)
            states = []
            for p in range(self.P):
                inps[p][0, 0, self.widths[p]:] = e[0, 0]
                states.append(split_state(torch.tanh(self.core_init[p](e[0])), c["dec_layers"], c["dec_hidden"]))
            for _ in range(BAR):
                for p in range(self.P):
                    h, states[p] = self.core[p](inps[p], states[p])
                    k = draw(self.core_out[p](h[0, 0]))
                    toks.append(k)
                    inps[p][0, 0, :self.widths[p]] = self.table(p)[k]
        return toks


def sync(dev):
    if dev == "cuda":
        torch.cuda.synchronize()


def random_tokens(c, B, dev):
    """(B, S * P) random classes, interleaved by part."""
    cols = [torch.randint(0, K, (B, c["S"], 1), device=dev) for K, _ in c["parts"]]
    return torch.cat(cols, 2).view(B, -1)


def bench_train(c, dev, warmup, steps):
    torch.manual_seed(0)
    model = MusicVAE(c).to(dev)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    B = c["batch"]
    x = random_tokens(c, B, dev)
    free = c["free_bits"] * math.log(2)
    n = [0]

    def step():
        s = n[0]
        beta = c["max_beta"] * (1 - c["beta_rate"] ** s)
        for g in opt.param_groups:
            g["lr"] = (LR - LR_MIN) * LR_DECAY ** s + LR_MIN
        eps = torch.randn(B, c["Z"], device=dev)
        loss, _ = model(x, eps, beta, free)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        n[0] += 1
        return loss

    for _ in range(warmup):
        step()
    sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        loss = step()
    sync(dev)
    dt = (time.perf_counter() - t) / steps
    tokens = B * c["S"] * len(c["parts"])
    return dict(params=params, tokens_per_s=tokens / dt, step_ms=dt * 1e3, loss=float(loss))


def bench_sample(c, dev, warmup, samples, temperature):
    torch.manual_seed(0)
    model = MusicVAE(c).to(dev).eval()

    def one():
        z = torch.randn(1, c["Z"], device=dev)
        return model.sample(z, temperature)

    for _ in range(warmup):
        one()
    sync(dev)
    t = time.perf_counter()
    for _ in range(samples):
        toks = one()
    sync(dev)
    dt = (time.perf_counter() - t) / samples
    assert len(toks) == c["S"] * len(c["parts"])
    return dict(ms_per_sample=dt * 1e3, tokens_per_s=len(toks) / dt, temperature=temperature)


# ---- --check: the loss of fixed, formula-defined parameters on fixed data ------------------------------
#
# Every weight is set from a formula of its logical position, so another implementation (cadenza) can
# set the same values whatever its layout.  Tags t = 1, 2, ... number the weight blocks in the order
# printed by --check ("tags").
#   Linear(in -> out), tag t:   W[o][i] = 0.5 sin(0.7 o + 1.3 i + t),   b[o] = 0.1 cos(0.5 o + t)
#   LSTM layer (one direction), input width n, hidden H, tag t: one matrix W of (4H) rows by (n + H)
#   columns, rows gate-major in the order i, f, g (cell candidate), o (row = gate * H + unit), columns
#   [layer input (n) ; h_prev (H)]:   W[r][j] = 0.5 sin(0.7 r + 1.3 j + t),   b[r] = 0.1 cos(0.5 r + t)
#   (one bias: PyTorch's bias_ih = b, bias_hh = 0).
# Data: token i (interleaved index) of example b: (5 + 7 b + 3 i + (i * i) % 11) % K_p, p = i % P.
# eps[b][j] = sin(1 + 2 b + 0.5 j).
# Printed: r (mean over the batch of summed cross-entropy, nats), recon (r per token), kl (mean over the
# batch), loss = mean(r + 1.0 * max(KL - 0, 0)) (beta 1, free bits 0), loss_fb = the same with beta 0.2
# and free_bits 0.25 (free 0.25 * ln 2 nats), grad_norm (global L2 norm of d loss / d parameters, each bias
# counted once: PyTorch's bias_hh duplicates bias_ih's gradient and is left out), mu[0], sigma[0].
CHECKS = {
    "check_mel_flat": dict(S=32, parts=MEL, enc_layers=1, enc_hidden=3, Z=4, decoder="flat",
                           dec_layers=2, dec_hidden=3),
    "check_mel_hier": dict(S=32, parts=MEL, enc_layers=1, enc_hidden=3, Z=4, decoder="hier",
                           cond_layers=1, cond_hidden=3, dec_layers=1, dec_hidden=3),
    "check_drums_flat": dict(S=32, parts=DRUMS, enc_layers=1, enc_hidden=3, Z=4, decoder="flat",
                             dec_layers=2, dec_hidden=3),
}


def fixed_matrix(rows, cols, t):
    r = torch.arange(rows, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(cols, dtype=torch.float64).unsqueeze(0)
    w = 0.5 * torch.sin(0.7 * r + 1.3 * j + t)
    b = 0.1 * torch.cos(0.5 * torch.arange(rows, dtype=torch.float64) + t)
    return w.float(), b.float()


@torch.no_grad()
def set_fixed(model):
    """Sets every parameter from the formulas above; returns the tag list [(name, tag)]."""
    tags = []

    def linear(name, lin):
        t = len(tags) + 1
        w, b = fixed_matrix(lin.out_features, lin.in_features, t)
        lin.weight.copy_(w)
        lin.bias.copy_(b)
        tags.append((name, t))

    def lstm(name, m):
        for l in range(m.num_layers):
            for d, sfx in enumerate(["", "_reverse"][: 2 if m.bidirectional else 1]):
                t = len(tags) + 1
                wih = getattr(m, f"weight_ih_l{l}{sfx}")
                n, H = wih.shape[1], m.hidden_size
                w, b = fixed_matrix(4 * H, n + H, t)
                wih.copy_(w[:, :n])
                getattr(m, f"weight_hh_l{l}{sfx}").copy_(w[:, n:])
                getattr(m, f"bias_ih_l{l}{sfx}").copy_(b)
                getattr(m, f"bias_hh_l{l}{sfx}").zero_()
                tags.append((f"{name}.l{l}.{'bwd' if d else 'fwd'}", t))

    lstm("enc", model.enc)
    linear("mu", model.mu)
    linear("sigma", model.sigma)
    if model.c["decoder"] == "flat":
        linear("dec_init", model.init)
        lstm("dec", model.dec)
        linear("out", model.out)
    else:
        linear("cond_init", model.cond_init)
        lstm("cond", model.cond)
        for p in range(model.P):
            linear(f"core_init{p}", model.core_init[p])
            lstm(f"core{p}", model.core[p])
            linear(f"core_out{p}", model.core_out[p])
    return tags


def check():
    for name, c in CHECKS.items():
        model = MusicVAE(c)
        tags = set_fixed(model)
        B, S, P = 2, c["S"], len(c["parts"])
        i = torch.arange(S * P)
        x = torch.stack([(5 + 7 * b + 3 * i + (i * i) % 11) for b in range(B)])
        K = torch.tensor([k for k, _ in c["parts"]])
        x = x % K[i % P]
        bz = torch.arange(B, dtype=torch.float64).unsqueeze(1)
        jz = torch.arange(c["Z"], dtype=torch.float64).unsqueeze(0)
        eps = torch.sin(1 + 2 * bz + 0.5 * jz).float()
        loss, t = model(x, eps, 1.0, 0.0)
        loss.backward()
        g2 = sum(float((p.grad.double() ** 2).sum()) for n, p in model.named_parameters()
                 if "bias_hh" not in n)
        loss_fb, _ = model(x, eps, 0.2, 0.25 * math.log(2))
        print(json.dumps(dict(check=name, r=float(t["r"]), recon=float(t["recon"]), kl=float(t["kl"]),
                              loss=float(loss), loss_fb=float(loss_fb), grad_norm=math.sqrt(g2),
                              mu0=[round(float(v), 7) for v in t["mu"][0]],
                              sigma0=[round(float(v), 7) for v in t["sigma"][0]],
                              tokens0=x[0, :8].tolist(), tags=dict(tags))), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--configs", default="all", help="comma-separated names, or all: " + ",".join(CONFIGS))
    ap.add_argument("--what", default="train,sample")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (0: PyTorch default)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps (and samples) first")
    ap.add_argument("--steps", type=int, default=10, help="timed training steps")
    ap.add_argument("--samples", type=int, default=0, help="timed samples (0: as many as --steps)")
    ap.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (0: greedy)")
    ap.add_argument("--check", action="store_true", help="print the loss of fixed parameters and exit")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.check:
        check()
        return
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    for name in names:
        if name not in CONFIGS:
            ap.error(f"unknown config {name!r}; known: {', '.join(CONFIGS)}")
    rows = []
    for name in names:
        c = CONFIGS[name]
        for what in args.what.split(","):
            if what == "train":
                r = bench_train(c, args.device, args.warmup, args.steps)
            elif what == "sample":
                r = bench_sample(c, args.device, args.warmup, args.samples or args.steps, args.temperature)
            else:
                ap.error(f"unknown --what {what!r} (train, sample)")
            r = dict(config=name, what=what, **r, device=args.device, torch=torch.__version__,
                     threads=torch.get_num_threads())
            print(json.dumps(r), flush=True)
            rows.append(r)
    print(f"{'config':<20} {'what':<7} {'tokens/s':>10} {'ms':>10}  params")
    for r in rows:
        ms = r["step_ms"] if r["what"] == "train" else r["ms_per_sample"]
        print(f"{r['config']:<20} {r['what']:<7} {r['tokens_per_s']:>10.0f} {ms:>10.2f}  {r.get('params', '')}")


if __name__ == "__main__":
    main()
