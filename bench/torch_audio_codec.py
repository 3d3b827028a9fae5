#!/usr/bin/env python3
"""PyTorch reference of cadenza's audio codec (kind audio_codec, named configs codec_small, codec_lite
and codec_tiny in src/models/audio_codec.c), for side-by-side benchmarks (bench/audio_codec.sh).

The model, as cadenza builds it (SoundStream / EnCodec / the Descript Audio Codec at a small size):
  encoder  conv k7 (1 -> C); per stride s: residual units (ELU, conv k7 dilated to C/2, ELU, conv k1
           back to C, added to the input), ELU, conv k 2s stride s padding ceil(s/2) (channels doubled);
           ELU, conv k3 to the latent width D
  RVQ      n_q books of K codes: nearest code by squared distance, straight-through gradient,
           commitment loss beta * sum over stages of mean((r_i - q_i)^2); the books learn by EMA after
           the optimiser step, with dead-code restarts (cadenza's after_step, drawn as cadenza draws)
  decoder  conv k7 (D -> C 2^stages); per stride, reversed: ELU, ConvTranspose1d k 2s stride s padding
           ceil(s/2) output_padding s%2 (channels halved), residual units; ELU, conv k7 to 1, tanh
Every convolution is weight-normalised (torch.nn.utils.weight_norm, dim 0: per input channel for the
transposed ones). Loss = w_mel DAC mel distance + w_stft DAC STFT distance + w_wave mean|y - x| + beta
commitment (cadenza's loss() and cdz_spectral_loss in src/eval/audio_metrics.c). Module names are
cadenza's tensor names (enc.in, enc.0.res0.conv1, enc.0.down, ..., dec.1.up, dec.out, rvq.codebooks),
so a cadenza checkpoint loads by name (--check). Quantizer dropout is off (every book, every step), as
bench_audio_codec sets "q_dropout":0.

The protocol is ../shared/bench/torch_reference.py's: random audio (uniform noise in [-0.5, 0.5]),
warm-up steps, timed steps, one JSON line per measurement, then a table.
  train   samples/s of a whole training step (forward, backward, clip_grad_norm_ 100, AdamW lr 3e-4
          weight decay 0, the EMA codebook update with dead-code restarts), samples = batch x seq
  encode  x real time: one clip of --seconds (10 s, batch 1) to codes of every book, no_grad
  decode  x real time: those codes back to audio, no_grad
  (one warm-up call, then --reps timed calls)

  /usr/bin/python3 bench/torch_audio_codec.py --threads 2 --what train --configs codec_small
  /usr/bin/python3 bench/torch_audio_codec.py --threads 1 --what encode,decode --configs codec_small
  build/bench/bench_audio_codec --configs codec_tiny --check /tmp/c && \\
      /usr/bin/python3 bench/torch_audio_codec.py --configs codec_tiny --check /tmp/c

--check DIR loads what bench_audio_codec --check DIR wrote (cadenza's weights after one step's codebook
update, a batch, its evaluation loss with the terms, the training gradient, the codes of each window),
computes the same here in eval mode with every book, and exits 1 when the objective, the mel or the
STFT term differs by more than 1e-3 relative. Also compared and reported: the gradient, the codes, and
the codebooks after replaying cadenza's EMA step here from its initial weights (DIR/init.safetensors).

Works with PyTorch 1.13 (Debian's python3-torch, CPU) and 2.x.
"""
import argparse
import json
import math
import os
import struct
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings("ignore", message=".*weight_norm.*")  # 2.x deprecates it for parametrizations

# src/models/audio_codec.c's named configs (with q_dropout 0, as bench_audio_codec sets)
CONFIGS = {
    "codec_small": dict(rate=24000, channels=16, strides=[2, 4, 5, 8], dilations=[1, 3], latent=64, books=8,
                        codebook=1024, w_mel=1.0, w_stft=1.0, w_wave=5.0, beta=0.25, ema_decay=0.99,
                        dead_threshold=0.005, batch=8, seq=7680, lr=3e-4, clip=100.0, weight_decay=0.0),
    "codec_lite": dict(rate=24000, channels=8, strides=[2, 4, 5, 8], dilations=[1, 3], latent=64, books=8,
                       codebook=1024, w_mel=1.0, w_stft=1.0, w_wave=5.0, beta=0.25, ema_decay=0.99,
                       dead_threshold=0.005, batch=8, seq=7680, lr=3e-4, clip=100.0, weight_decay=0.0),
    "codec_tiny": dict(rate=24000, channels=4, strides=[2, 8], dilations=[1], latent=8, books=4, codebook=16,
                       w_mel=1.0, w_stft=1.0, w_wave=5.0, beta=0.25, ema_decay=0.9, dead_threshold=0.01,
                       batch=2, seq=2048, lr=3e-4, clip=100.0, weight_decay=0.0),
}

# ---- cadenza's counter-based random stream (src/core/rng.c: splitmix64's mix), for dead-code restarts ----
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def random_at(key, index):
    """cdz_random_at(key, index) on Python integers."""
    return _mix64((key + (index + 1) * GOLDEN) & M64)


def _signed(u):
    return u - (1 << 64) if u >= 1 << 63 else u


def _srl(z, k):
    """Logical right shift of int64 tensors (as uint64)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def random_at_below(key, K, n):
    """cdz_random_at(key, k) % n for k in 0 .. K-1, as an int64 tensor (uint64 arithmetic in int64,
    whose multiplications wrap)."""
    z = _signed(key) + (torch.arange(K, dtype=torch.int64) + 1) * _signed(GOLDEN)
    z = (z ^ _srl(z, 30)) * _signed(0xBF58476D1CE4E5B9)
    z = (z ^ _srl(z, 27)) * _signed(0x94D049BB133111EB)
    z = z ^ _srl(z, 31)
    r = torch.remainder(z, n)  # z as signed; as unsigned it is z + 2^64 where negative
    return torch.where(z < 0, torch.remainder(r + (1 << 64) % n, n), r)


# ---- DAC's spectral distances (cadenza's cdz_spectral_loss) ----
SCALES = [(32, 5), (64, 10), (128, 20), (256, 40), (512, 80), (1024, 160), (2048, 320)]
STFT_WINDOWS = (2048, 512)
EPS = 1e-5


def hz_to_mel(f):
    """librosa's Slaney scale (htk=False)."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    return f / f_sp if f < min_log_hz else min_log_hz / f_sp + math.log(f / min_log_hz) / (math.log(6.4) / 27)


def mel_to_hz(m):
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel = min_log_hz / f_sp
    return f_sp * m if m < min_log_mel else min_log_hz * math.exp(math.log(6.4) / 27 * (m - min_log_mel))


def mel_filters(rate, n_fft, n_mels):
    """librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels) (fmin 0, fmax rate/2, norm 'slaney')."""
    bins = n_fft // 2 + 1
    freqs = torch.linspace(0, rate / 2, bins, dtype=torch.float64)
    top = hz_to_mel(rate / 2)
    pts = torch.tensor([mel_to_hz(top * i / (n_mels + 1)) for i in range(n_mels + 2)], dtype=torch.float64)
    w = torch.zeros(n_mels, bins, dtype=torch.float64)
    for m in range(n_mels):
        lo, mid, hi = pts[m], pts[m + 1], pts[m + 2]
        tri = torch.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)).clamp(min=0)
        w[m] = tri * (2.0 / (hi - lo))
    return w.float()


class Spectral:
    def __init__(self, rate):
        self.windows = {win: torch.hann_window(win, periodic=True) for win, _ in SCALES}
        self.filters = {win: mel_filters(rate, win, mels) for win, mels in SCALES}

    def mags(self, x, win):
        """|STFT| (B, bins, frames) of x (B, T): periodic Hann, hop win/4, centred with reflected ends."""
        return torch.stft(x, win, win // 4, win, self.windows[win], center=True, pad_mode="reflect",
                          return_complex=True).abs()

    def __call__(self, x, y):
        """(mel distance, STFT distance) of y against x, each the mean over the batch's examples."""
        mel = stft = 0
        for win, _ in SCALES:
            mx, my = self.mags(x, win), self.mags(y, win)
            fb = self.filters[win]
            melx, mely = fb @ mx, fb @ my
            mel = mel + (torch.log10(mely.clamp(min=EPS)) - torch.log10(melx.clamp(min=EPS))).abs().mean()
            if win in STFT_WINDOWS:
                stft = stft + (torch.log10(my.clamp(min=EPS).pow(2)) - torch.log10(mx.clamp(min=EPS).pow(2))).abs().mean() \
                    + (my - mx).abs().mean()
        return mel, stft


# ---- the model ----

def wn_conv(C, OC, K, stride=1, dil=1, transpose=False):
    if transpose:  # DAC: padding ceil(s/2), output padding s%2, so T frames give T*s samples
        conv = nn.ConvTranspose1d(C, OC, K, stride, padding=(stride + 1) // 2, output_padding=stride % 2)
    elif stride > 1:  # DAC: kernel 2s, padding ceil(s/2)
        conv = nn.Conv1d(C, OC, K, stride, padding=(stride + 1) // 2)
    else:  # "same"
        conv = nn.Conv1d(C, OC, K, padding=dil * (K - 1) // 2, dilation=dil)
    return nn.utils.weight_norm(conv, dim=0)


def res_units(C, dilations):
    mid = max(C // 2, 1)
    return nn.ModuleDict({f"res{r}": nn.ModuleDict({"conv1": wn_conv(C, mid, 7, dil=d), "conv2": wn_conv(mid, C, 1)})
                          for r, d in enumerate(dilations)})


def run_res(units, x):
    for u in units.values():
        x = x + u["conv2"](F.elu(u["conv1"](F.elu(x))))
    return x


class RVQ(nn.Module):
    def __init__(self, n_q, K, D):
        super().__init__()
        self.register_buffer("codebooks", torch.randn(n_q, K, D))
        self.register_buffer("ema_count", torch.zeros(n_q, K))
        self.register_buffer("ema_sum", torch.zeros(n_q, K, D))

    def nearest(self, r, i):
        book = self.codebooks[i]
        # |r - e|^2 less |r|^2 (the same for every code), as cadenza's cdz_vq_nearest; first index on ties
        d = torch.addmm((book * book).sum(1), r, book.t(), beta=1, alpha=-2)
        return d.argmin(1)

    def forward(self, z, use):
        """z (N, D) -> straight-through q (N, D), commitment sum, codes (N, use), residuals [r_i]."""
        r, q, commit, codes, residuals = z, torch.zeros_like(z), 0, [], []
        for i in range(use):
            k = self.nearest(r.detach(), i)
            qi = self.codebooks[i][k]
            commit = commit + (r - qi).pow(2).mean()
            codes.append(k)
            residuals.append(r.detach())
            q = q + qi
            r = r - qi
        return z + (q - z).detach(), commit, torch.stack(codes, 1), residuals

    @torch.no_grad()
    def ema_update(self, codes, residuals, step, decay, threshold, eps=1e-5):
        """cadenza's after_step: cdz_vq_ema_update then cdz_vq_restart_dead for each used book."""
        K = self.codebooks.shape[1]
        for i, r in enumerate(residuals):
            N = r.shape[0]
            book, count, s = self.codebooks[i], self.ema_count[i], self.ema_sum[i]
            count.mul_(decay)
            s.mul_(decay)
            count.add_(torch.bincount(codes[:, i], minlength=K).float() * (1 - decay))
            s.index_add_(0, codes[:, i], r * (1 - decay))
            total = count.sum()
            c = (count + eps) / (total + K * eps) * total
            keep = c > 0
            book[keep] = s[keep] / c[keep].unsqueeze(1)
            if threshold > 0:
                dead = count < threshold
                if bool(dead.any()):
                    pick = random_at_below(random_at(step, i), K, N)[dead]
                    book[dead] = r[pick]
                    s[dead] = threshold * r[pick]
                    count[dead] = threshold


class Codec(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        C, S, dil = c["channels"], c["strides"], c["dilations"]
        enc = nn.ModuleDict({"in": wn_conv(1, C, 7)})
        ch = C
        for i, s in enumerate(S):
            enc[str(i)] = res_units(ch, dil)
            enc[str(i)]["down"] = wn_conv(ch, 2 * ch, 2 * s, stride=s)
            ch *= 2
        enc["out"] = wn_conv(ch, c["latent"], 3)
        dec = nn.ModuleDict({"in": wn_conv(c["latent"], ch, 7)})
        for i in reversed(range(len(S))):
            stage = nn.ModuleDict({"up": wn_conv(ch, ch // 2, 2 * S[i], stride=S[i], transpose=True)})
            ch //= 2
            stage.update(res_units(ch, dil))
            dec[str(i)] = stage
        dec["out"] = wn_conv(ch, 1, 7)
        self.enc, self.dec = enc, dec
        self.rvq = RVQ(c["books"], c["codebook"], c["latent"])
        self.hop = math.prod(S)
        self.spectral = Spectral(c["rate"])

    def encode(self, x):
        """x (B, 1, T) -> latent (B, D, T / hop)."""
        x = self.enc["in"](x)
        for i in range(len(self.c["strides"])):
            st = self.enc[str(i)]
            x = st["down"](F.elu(run_res({k: v for k, v in st.items() if k != "down"}, x)))
        return self.enc["out"](F.elu(x))

    def decode(self, q):
        x = self.dec["in"](q)
        for i in reversed(range(len(self.c["strides"]))):
            st = self.dec[str(i)]
            x = run_res({k: v for k, v in st.items() if k != "up"}, st["up"](F.elu(x)))
        return torch.tanh(self.dec["out"](F.elu(x)))

    def loss(self, x):
        """x (B, T) -> (objective, terms dict, codes, residuals) with every book."""
        c = self.c
        B, T = x.shape
        z = self.encode(x.unsqueeze(1))
        D, Fr = z.shape[1], z.shape[2]
        rows = z.permute(0, 2, 1).reshape(B * Fr, D)  # (B F, D): cadenza's row order
        q, commit, codes, residuals = self.rvq(rows, c["books"])
        y = self.decode(q.view(B, Fr, D).permute(0, 2, 1)).squeeze(1)
        mel, stft = self.spectral(x, y)
        wave = (y - x).abs().mean()
        obj = c["w_mel"] * mel + c["w_stft"] * stft + c["w_wave"] * wave + c["beta"] * commit
        return obj, dict(mel=mel, stft=stft, wave=wave, commit=commit), codes, residuals

    @torch.no_grad()
    def codes_of(self, x):
        """x (T,) -> codes (frames, books)."""
        z = self.encode(x.view(1, 1, -1))
        rows = z[0].t().contiguous()
        r, out = rows, []
        for i in range(self.c["books"]):
            k = self.rvq.nearest(r, i)
            out.append(k)
            r = r - self.rvq.codebooks[i][k]
        return torch.stack(out, 1)

    @torch.no_grad()
    def audio_of(self, codes):
        """codes (frames, books) -> (frames hop,) samples."""
        q = sum(self.rvq.codebooks[i][codes[:, i]] for i in range(codes.shape[1]))
        return self.decode(q.t().unsqueeze(0)).view(-1)


def n_params(model):
    trainable = sum(p.numel() for p in model.parameters())
    return trainable + sum(b.numel() for b in model.rvq.buffers()), trainable


def bench_train(c, steps, warmup):
    torch.manual_seed(0)
    model = Codec(c).train()
    params, trainable = n_params(model)
    opt = torch.optim.AdamW(model.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
    x = torch.rand(c["batch"], c["seq"]) - 0.5
    it = 0

    def step():
        nonlocal it
        loss, terms, codes, residuals = model.loss(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), c["clip"])
        opt.step()
        model.rvq.ema_update(codes, residuals, it, c["ema_decay"], c["dead_threshold"])
        it += 1
        return loss, terms

    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        loss, terms = step()
    dt = (time.perf_counter() - t) / steps
    return dict(samples_per_s=c["batch"] * c["seq"] / dt, step_ms=dt * 1e3, params=params, trainable=trainable,
                batch=c["batch"], seq=c["seq"], loss=round(loss.item(), 4), mel=round(float(terms["mel"]), 4),
                stft=round(float(terms["stft"]), 4))


@torch.no_grad()
def bench_codec(c, what, seconds, reps):
    torch.manual_seed(0)
    model = Codec(c).eval()
    n = int(seconds * c["rate"] + 0.5)
    x = torch.rand(n) - 0.5
    pad = -n % model.hop  # cadenza reads the last frame's missing samples as silence
    xp = F.pad(x, (0, pad))
    codes = model.codes_of(xp)
    fn = (lambda: model.codes_of(xp)) if what == "encode" else (lambda: model.audio_of(codes))
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    dt = time.perf_counter() - t
    return dict(x_real_time=seconds * reps / dt, ms=dt / reps * 1e3, seconds=seconds, samples=n,
                frames=codes.shape[0], books=c["books"], reps=reps)


def read_safetensors(path):
    """({name: float32 tensor}, metadata) of a safetensors file (no dependency on the safetensors
    package): 8-byte little-endian header length, JSON header, raw little-endian data."""
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
    return out, header.get("__metadata__", {})


def load_cadenza(model, path):
    """Loads a cadenza checkpoint into model by tensor name (every tensor must match)."""
    weights, _ = read_safetensors(path)
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    extra = sorted(k for k in set(weights) - set(own) if not k.startswith("adam"))
    if missing or extra:
        raise SystemExit(f"check: tensors only here {missing}, only in {path} {extra}")
    state = {}
    for k, v in own.items():
        w = weights[k]
        # cadenza's weight_g is (rows); PyTorch's weight_norm keeps it (rows, 1, 1)
        if w.numel() != v.numel() or (tuple(w.shape) != tuple(v.shape) and not k.endswith("weight_g")):
            raise SystemExit(f"check: {k}: shape {tuple(v.shape)} here, {tuple(w.shape)} in {path}")
        state[k] = w.reshape(v.shape)
    model.load_state_dict(state)


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def check(c, name, d):
    ref = json.load(open(os.path.join(d, "check.json")))
    B, T = ref["batch"], ref["seq"]
    if (B, T, ref["books"]) != (c["batch"], c["seq"], c["books"]):
        raise SystemExit(f"check: {d} holds {ref['config']} ({B} x {T}, {ref['books']} books), not {name}")
    torch.manual_seed(0)
    model = Codec(c).eval()
    raw = open(os.path.join(d, "input.f32"), "rb").read()
    x = torch.frombuffer(bytearray(raw), dtype=torch.float32).view(B, T)

    # the codebook step: cadenza's initial weights, one training forward, the EMA update and restarts
    # replayed here, against the books cadenza saved after its after_step
    load_cadenza(model, os.path.join(d, "init.safetensors"))
    with torch.no_grad():
        _, _, codes, residuals = model.loss(x)
    model.rvq.ema_update(codes, residuals, 0, c["ema_decay"], c["dead_threshold"])
    mine = {k: v.clone() for k, v in model.rvq.state_dict().items()}

    load_cadenza(model, os.path.join(d, "model.safetensors"))
    ema_err = max(((mine[k] - v).abs().max() / v.abs().max().clamp(min=1e-30)).item()
                  for k, v in model.rvq.state_dict().items())

    # evaluation loss (every book), and the gradient on the same forward pass (no dropout to differ)
    model.zero_grad(set_to_none=True)
    obj, terms, _, _ = model.loss(x)
    obj.backward()
    got = dict(loss=obj.item(), **{k: float(v) for k, v in terms.items()})

    # the gradient against cadenza's, tensor by tensor: the largest |difference| / |cadenza's|
    g = torch.frombuffer(bytearray(open(os.path.join(d, "grads.f32"), "rb").read()), dtype=torch.float32)
    params = dict(model.named_parameters())
    worst, worst_name, cos_min = 0.0, "", 1.0
    for tname, off, numel in ref["tensors"]:
        if tname not in params:
            continue
        gc = g[off:off + numel]
        gt = params[tname].grad.reshape(-1)
        e = ((gt - gc).norm() / gc.norm().clamp(min=1e-30)).item()
        cos = F.cosine_similarity(gt, gc, dim=0).item()
        if e > worst:
            worst, worst_name = e, tname
        cos_min = min(cos_min, cos)

    # the codes of each window (cadenza: cdz_audio_codec_encode, one window at a time)
    F_ = T // ref["hop"]
    cc = torch.frombuffer(bytearray(open(os.path.join(d, "codes.i32"), "rb").read()), dtype=torch.int32)
    cc = cc.view(B, F_, ref["books"]).long()
    ct = torch.stack([model.codes_of(x[b]) for b in range(B)])
    agree = (ct == cc).float().mean(dim=(0, 1))  # per book

    ok = all(rel(got[k], ref[k]) <= 1e-3 for k in ("loss", "mel", "stft"))
    r = dict(config=name, what="check",
             **{f"{k}_torch": round(got[k], 6) for k in ("loss", "mel", "stft", "wave", "commit")},
             **{f"{k}_cadenza": round(ref[k], 6) for k in ("loss", "mel", "stft", "wave", "commit")},
             rel_diff={k: float(f"{rel(got[k], ref[k]):.2e}") for k in ("loss", "mel", "stft", "wave", "commit")},
             grad_rel_err_max=float(f"{worst:.2e}"), grad_rel_err_tensor=worst_name, grad_cos_min=round(cos_min, 6),
             codes_agree_per_book=[round(a, 4) for a in agree.tolist()], ema_step_rel_err=float(f"{ema_err:.2e}"),
             params=n_params(model)[0], params_cadenza=ref["params"], ok=ok)
    print(json.dumps(r), flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="codec_small", help="codec_small, codec_lite, codec_tiny, comma-separated, or all")
    ap.add_argument("--what", default="train,encode,decode")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the encode/decode clip")
    ap.add_argument("--reps", type=int, default=3, help="timed encode/decode calls")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch default)")
    ap.add_argument("--check", metavar="DIR", help="compare with bench_audio_codec --check DIR instead of timing")
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
            if what == "train":
                r.update(bench_train(c, args.steps, args.warmup))
            elif what in ("encode", "decode"):
                r.update(bench_codec(c, what, args.seconds, args.reps))
            else:
                ap.error(f"unknown --what {what!r} (train, encode, decode)")
            r.update(device="cpu", torch=torch.__version__, threads=torch.get_num_threads())
            print(json.dumps(r), flush=True)
            rows.append(r)
    print(f"{'config':<12} {'what':<7} {'rate':>14}")
    for r in rows:
        v = f"{r['samples_per_s']:.0f} samples/s" if r["what"] == "train" else f"{r['x_real_time']:.1f} x real time"
        print(f"{r['config']:<12} {r['what']:<7} {v:>14}")


if __name__ == "__main__":
    main()
