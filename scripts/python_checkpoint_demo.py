#!/usr/bin/env python3
"""Runs the Python snippet of docs/python.md (extracted from the document, so the document is what is tested).

Usage: python3 scripts/python_checkpoint_demo.py CHECKPOINT.safetensors [EMBED.npz TEXT]
With an `elmo embed --layers all` output and its input text, also checks that the snippet's char-CNN token vectors equal
layer 0 of every token of the first sentence (needs: pip install numpy safetensors).
"""
import os
import re
import sys

import numpy as np

doc = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "python.md"), encoding="utf-8").read()
snippet = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
checkpoint, extra = sys.argv[1], sys.argv[2:]
sys.argv = [sys.argv[0], checkpoint]
scope = {}
exec(compile(snippet, "docs/python.md", "exec"), scope)
if extra:
    npz_path, text_path = extra
    words = open(text_path, encoding="utf-8").readline().split()
    layer0 = np.load(npz_path)["0"][0]                     # [n, 2P]: the token vector twice
    ours = np.stack([scope["token_vector"](w) for w in words])
    width = ours.shape[1]
    error = max(np.abs(layer0[:, :width] - ours).max(), np.abs(layer0[:, width:] - ours).max())
    print(f"layer 0 of {len(words)} tokens vs elmo embed: max |difference| {error:.2e}")
    sys.exit(0 if error < 1e-4 else 1)
