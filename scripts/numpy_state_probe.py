#!/usr/bin/env python3
"""Runs one direction of a checkpoint's LM (the independent numpy model of Tests/Golden/generate/bilm_reference.py) over the
first 40 non-empty lines of a text as one stream from a zero state, and reports the mean next-token NLL and how many LSTM
cells sit at the ±cell_clip bound. This is the probe that found the backward-LM defect (README, "State resets").

Usage: python3 scripts/numpy_state_probe.py runs/wt2-tiny-reset/final.safetensors backward [data/wikitext-2/train.txt]
(needs numpy, safetensors; tiny-preset shapes, as the reference model)
"""
import os
import sys

import numpy as np
from safetensors import safe_open

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Golden", "generate"))
import bilm_reference as R  # noqa: E402

checkpoint, direction = sys.argv[1], sys.argv[2]
text = sys.argv[3] if len(sys.argv) > 3 else "data/wikitext-2/train.txt"
with safe_open(checkpoint, "numpy") as f:
    p = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
    vocab = f.metadata()["vocab"].split("\n")
ids = {w: i for i, w in enumerate(vocab)}
lines = [l.split() for l in open(text, encoding="utf-8") if l.split()][:40]
inputs, targets = [], []
for words in lines:
    seq = ["<S>"] + words + ["</S>"]
    if direction == "backward":
        seq = seq[::-1]
    for k in range(len(seq) - 1):
        inputs.append(seq[k])
        targets.append(ids.get(seq[k + 1], ids["<UNK>"]))
_, _, tokens, _ = R.charcnn_forward(p, np.array([R.char_ids(w) for w in inputs]))
C, P, clip = R.C, R.P, R.CELL_CLIP


def step(prefix, x, c, h):
    z = np.concatenate([x, h]) @ p[prefix + ".kernel"] + p[prefix + ".bias"]
    i, j, f, o = R.sigmoid(z[:C]), np.tanh(z[C:2 * C]), R.sigmoid(z[2 * C:3 * C] + 1), R.sigmoid(z[3 * C:])
    c = np.clip(f * c + i * j, -clip, clip)
    return c, np.clip((o * np.tanh(c)) @ p[prefix + ".projection"], -R.PROJ_CLIP, R.PROJ_CLIP)


state = [(np.zeros(C), np.zeros(P)) for _ in range(R.L)]
nll, pinned = [], []
for t in range(len(inputs)):
    x = tokens[t]
    for l in range(R.L):
        c, h = step(f"lstm.{direction}.layer_{l}", x, *state[l])
        state[l] = (c, h)
        x = h + x if l >= 1 else h
    logits = x @ p["softmax.weight"].T + p["softmax.bias"]
    m = logits.max()
    nll.append(m + np.log(np.exp(logits - m).sum()) - logits[targets[t]])
    pinned.append([int((np.abs(s[0]) >= clip - 1e-6).sum()) for s in state])
marks = [t for t in (10, 100, 400) if t < len(pinned)] + [len(pinned) - 1]
print(f"{direction}: {len(inputs)} tokens, mean NLL {np.mean(nll):.3f}; cells at ±{clip} per layer (of {C}) at steps "
      + ", ".join(f"{t}: {pinned[t]}" for t in marks))
