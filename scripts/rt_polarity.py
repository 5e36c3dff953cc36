"""What the rt-polarity probes share: the example's tokenisation, the data set, frozen ELMo features from
`elmo embed`, and a closed-form ridge classifier (no optimiser settings). Imported by probe_polarity_features.py and
probe_concat_scales.py (needs numpy and a release build of elmo)."""
import os
import re
import subprocess
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


def load():
    """The shipped rt-polarity as (tokenised sentences, labels: 1 positive, 0 negative); empty lines dropped."""
    sentences, labels = [], []
    for name, label in [("pos", 1), ("neg", 0)]:
        with open(os.path.join(ROOT, "data", "rt-polarity", f"rt-polarity.{name}"), encoding="cp1252", errors="replace") as f:
            for line in f:
                tokens = clean_str(line)
                if tokens:
                    sentences.append(tokens)
                    labels.append(label)
    return sentences, np.array(labels)


def mean_pooled_layers(checkpoint, sentences):
    """Every layer of each sentence's ELMo vectors averaged over its tokens: [N, layers, 2P]."""
    with tempfile.TemporaryDirectory() as tmp:
        text, npz = os.path.join(tmp, "sentences.txt"), os.path.join(tmp, "pooled.npz")
        with open(text, "w", encoding="utf-8") as f:
            f.write("\n".join(sentences) + "\n")
        subprocess.run([os.path.join(ROOT, ".build", "release", "elmo"), "embed", "--init-from-ckpt", checkpoint,
                        "--input", text, "--output", npz, "--layers", "all", "--pool", "mean"], check=True, cwd=ROOT)
        arrays = np.load(npz)
        return np.stack([arrays[str(i)] for i in range(len(sentences))])


def ridge(X, y, train, test, lam):
    """Ridge on features standardised by the train rows, labels as ±1: (test accuracy, train accuracy)."""
    Z = (X - X[train].mean(0)) / (X[train].std(0) + 1e-8)
    Z = np.hstack([Z, np.ones((len(Z), 1))])
    w = np.linalg.solve(Z[train].T @ Z[train] + lam * np.eye(Z.shape[1]), Z[train].T @ (2.0 * y[train] - 1))
    return ((Z[test] @ w > 0) == y[test]).mean(), ((Z[train] @ w > 0) == y[train]).mean()
