"""Writes Tests/Golden/Resources/python-written.safetensors with the reference `safetensors`
package (numpy API), for the Swift reader's interoperability test (SafeTensorsTests).

Run: python3 Tests/Golden/generate/safetensors_fixture.py   (needs: pip install numpy safetensors)
Values are simple functions of the index so the Swift test can recompute them.
"""
import os

import numpy as np
from safetensors.numpy import save_file

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "Resources", "python-written.safetensors")

tensors = {
    "weights.f32": (np.arange(12, dtype=np.float32) / 8.0 - 0.75).reshape(3, 4),
    "weights.f64": (np.arange(6, dtype=np.float64) * 1e-3 + np.pi).reshape(2, 3),
    "half.f16": np.array([0.5, -2.0, 65504.0, 6.1035156e-05], dtype=np.float16),
    "step": np.array(1234567890123, dtype=np.int64),
    "ids.i32": np.array([-1, 0, 7, 2**31 - 1], dtype=np.int32),
    "empty": np.zeros((0, 5), dtype=np.float32),
}
save_file(tensors, out, metadata={"format": "pt", "note": "ünïcödé \"quoted\"\nnewline"})
print("wrote", os.path.relpath(out))
