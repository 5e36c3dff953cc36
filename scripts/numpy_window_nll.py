"""Independent check of `elmo eval`: the first window (8 rows x 20 steps, zero state) of a text, scored by the numpy
reference model of Tests/Golden/generate/bilm_reference.py with a checkpoint's weights (tiny preset shapes).

Usage: python3 scripts/numpy_window_nll.py runs/wt2-tiny-full/final.safetensors some-text.txt   (needs numpy, safetensors)
"""
import sys, numpy as np
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Golden", "generate"))
import bilm_reference as R
from safetensors import safe_open
path = sys.argv[1]
f = safe_open(path, "numpy")
p = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
vocab = f.metadata()["vocab"].split("\n")
vid = {w: i for i, w in enumerate(vocab)}
lines = [l.split() for l in open(sys.argv[2], encoding="utf-8")]
B, T = 8, 20
# StreamBatcher fill: rows in order, each row consumes sentences until T predictions
stream = iter(lines)
for direction in ["forward", "backward"]:
    stream = iter(lines)
    chars = np.zeros((B, T, 50), dtype=np.int64); targets = np.zeros((B, T), dtype=np.int64)
    for b in range(B):
        t = 0
        while t < T:
            s = next(stream)
            seq = ["<S>"] + s + ["</S>"]
            if direction == "backward": seq = seq[::-1]
            for k in range(len(seq) - 1):
                if t >= T: break
                chars[b, t] = R.char_ids(seq[k]); targets[b, t] = vid.get(seq[k + 1], vid["<UNK>"]); t += 1
        # (the rest of a cut sentence would continue in the next window)
    acts, _ = R.direction_forward(p, direction, chars)
    top = acts["layer_1.output"].reshape(-1, 64)
    logits = top @ p["softmax.weight"].T + p["softmax.bias"]
    m = logits.max(1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(1, keepdims=True)))[:, 0]
    nll = lse - logits[np.arange(len(logits)), targets.reshape(-1)]
    print(direction, "mean NLL", nll.mean(), "per t (row 0):", np.round(nll.reshape(B, T)[0][:8], 2))
