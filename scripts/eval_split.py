#!/usr/bin/env python3
"""Lists (or links) the first N files of a corpus in the eval split that `cadenza dataset build
--eval-fraction F` makes: a file is in it when the top 53 bits of the FNV-1a hash of its bytes, as a
fraction, fall below F (src/data/build.c). Usage: eval_split.py CORPUS_DIR N [--fraction F] [--link DIR]
(POP909's layout: CORPUS/NNN/NNN.mid; other corpora: every .mid under CORPUS, sorted)."""
import argparse
import os


def fnv1a64(data):
    h = 14695981039346656037
    for x in data:
        h = ((h ^ x) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("n", type=int)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--link", help="make symbolic links to the files in this folder")
    a = ap.parse_args()
    files = []
    for d in sorted(os.listdir(a.corpus)):
        p = os.path.join(a.corpus, d, d + ".mid")
        if os.path.exists(p):
            files.append(p)
    if not files:
        for root, _, names in sorted(os.walk(a.corpus)):
            files += [os.path.join(root, f) for f in sorted(names) if f.lower().endswith((".mid", ".midi"))]
    picked = 0
    for p in files:
        if (fnv1a64(open(p, "rb").read()) >> 11) / 9007199254740992.0 >= a.fraction:
            continue
        if a.link:
            os.symlink(os.path.abspath(p), os.path.join(a.link, os.path.basename(p)))
        else:
            print(p)
        picked += 1
        if picked == a.n:
            break


if __name__ == "__main__":
    main()
