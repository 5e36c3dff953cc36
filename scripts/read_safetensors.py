#!/usr/bin/env python3
"""Reads a swift-elmo checkpoint (or any safetensors file) with the reference `safetensors`
package and prints every tensor's name, dtype, shape and a checksum, plus the metadata.

Usage: python3 scripts/read_safetensors.py runs/tiny/final.safetensors
(needs: pip install numpy safetensors)
"""
import json
import sys

from safetensors import safe_open

path = sys.argv[1]
with safe_open(path, framework="numpy") as f:
    metadata = f.metadata() or {}
    for key, value in sorted(metadata.items()):
        shown = value if len(value) < 200 else value[:200] + "…"
        print(f"metadata {key} = {shown}")
    for name in f.keys():
        t = f.get_tensor(name)
        checksum = float(t.astype("float64").sum()) if t.size else 0.0
        print(f"{name}\t{t.dtype}\t{list(t.shape)}\tsum={checksum:.9g}")
