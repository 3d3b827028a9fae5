#!/usr/bin/env python3
"""Folders of symlinks for the ensemble model's style measure (docs/ensemble.md).

held-out/STYLE/   Mutopia pieces of the eval split of `cadenza dataset build --eval-fraction F` (by the
                  file's content hash, as cadenza does): the classifier is trained on these.
set-aside/STYLE/  pieces of the training split, every K-th in path order up to --per-style: real
                  music the classifier never saw, to score beside the generated pieces.
Styles: baroque, classical, romantic (the index's style field, as cdz_ens_style_of reads it).
Usage: scripts/ensemble_style_sets.py --data ../shared/data --out DIR [--eval-fraction 0.1] [--per-style 40]
"""
import argparse
import json
import os

FNV_OFFSET, FNV_PRIME = 14695981039346656037, 1099511628211


def fnv1a64(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def style_of(field):
    f = field.lower()
    if "baroque" in f:
        return "baroque"
    if "romant" in f:
        return "romantic"
    if "classical" in f and "orchestral" not in f:
        return "classical"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--eval-fraction", type=float, default=0.1)
    ap.add_argument("--per-style", type=int, default=40)
    a = ap.parse_args()
    root = os.path.join(a.data, "mutopia")
    index = json.load(open(os.path.join(root, "index.json")))
    train = {}
    counts = {}
    for e in sorted(index, key=lambda e: e["path"]):
        style = style_of(e.get("style", ""))
        if not style:
            continue
        path = os.path.abspath(os.path.join(root, e["path"]))
        with open(path, "rb") as f:
            u = (fnv1a64(f.read()) >> 11) / 9007199254740992.0
        split = "held-out" if u < a.eval_fraction else "train"
        if split == "train":
            train.setdefault(style, []).append(path)
            continue
        d = os.path.join(a.out, split, style)
        os.makedirs(d, exist_ok=True)
        os.symlink(path, os.path.join(d, e["path"].replace("/", "_")))
        counts[(split, style)] = counts.get((split, style), 0) + 1
    for style, paths in sorted(train.items()):
        step = max(1, len(paths) // a.per_style)
        d = os.path.join(a.out, "set-aside", style)
        os.makedirs(d, exist_ok=True)
        for p in paths[::step][: a.per_style]:
            os.symlink(p, os.path.join(d, os.path.relpath(p, root).replace("/", "_")))
            counts[("set-aside", style)] = counts.get(("set-aside", style), 0) + 1
    for (split, style), n in sorted(counts.items()):
        print(f"{split:10s} {style:10s} {n}")


if __name__ == "__main__":
    main()
