#!/usr/bin/env python3
"""How much polarity signal do frozen ELMo features carry, whatever the head? Embeds every rt-polarity sentence with
`elmo embed --layers all` (stateless), mean-pools each layer over the tokens, and fits a ridge classifier on standardised
features (closed form, so no optimiser settings are involved); prints test and train accuracy per layer on a seeded
90/10 split. Low train accuracy means the features, not the BoW head, are the limit.

Usage: python3 scripts/probe_polarity_features.py runs/wt2-tiny-reset/final   (needs numpy and a release build of elmo)
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def clean_str(s):
    """Kim (2014)'s clean_str, lower-cased, as the example tokenises rt-polarity."""
    s = re.sub(r"[^A-Za-z0-9(),!?\'\`]", " ", s)
    for suffix in ["'s", "'ve", "n't", "'re", "'d", "'ll"]:
        s = s.replace(suffix, " " + suffix)
    for mark in [",", "!", "(", ")", "?"]:
        s = s.replace(mark, f" {mark} ")
    return re.sub(r"\s{2,}", " ", s).strip().lower()


sentences, labels = [], []
for name, label in [("pos", 1), ("neg", 0)]:
    with open(os.path.join(ROOT, "data", "rt-polarity", f"rt-polarity.{name}"), encoding="cp1252", errors="replace") as f:
        for line in f:
            tokens = clean_str(line)
            if tokens:
                sentences.append(tokens)
                labels.append(label)
y = np.array(labels)
with tempfile.TemporaryDirectory() as tmp:
    text, npz = os.path.join(tmp, "sentences.txt"), os.path.join(tmp, "features.npz")
    with open(text, "w", encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
    subprocess.run([os.path.join(ROOT, ".build", "release", "elmo"), "embed", "--init-from-ckpt", sys.argv[1],
                    "--input", text, "--output", npz, "--layers", "all"], check=True)
    arrays = np.load(npz)
    pooled = [np.stack([arrays[str(i)][layer].mean(0) for i in range(len(y))]) for layer in range(3)]

order = np.random.default_rng(0).permutation(len(y))
train, test = order[: int(0.9 * len(y))], order[int(0.9 * len(y)):]


def ridge(X, lam=1.0):
    X = (X - X[train].mean(0)) / (X[train].std(0) + 1e-8)
    X = np.hstack([X, np.ones((len(X), 1))])
    t = 2.0 * y - 1
    w = np.linalg.solve(X[train].T @ X[train] + lam * np.eye(X.shape[1]), X[train].T @ t[train])
    return ((X[test] @ w > 0) == y[test]).mean(), ((X[train] @ w > 0) == y[train]).mean()


for layer in range(3):
    print("layer %d: test %.4f, train %.4f" % ((layer,) + ridge(pooled[layer])))
print("all layers: test %.4f, train %.4f" % ridge(np.hstack(pooled)))
