"""Checks an `elmo export-allennlp` pair with an independent numpy reader: the float64 reference of
allennlp_reference.py (bilm-tf's TensorFlow layout read straight from the HDF5 arrays, AllenNLP's character ids and
its zero padding row) computes the ELMo layers of each sentence from options.json + weights.hdf5 alone, and they must
equal `elmo embed --layers all` of the same checkpoint (an .npz) to within float32 rounding.

    elmo export-allennlp --output-options X/options.json --output-weights X/weights.hdf5
    elmo embed --input S.txt --output X/embed.npz
    python3 Tests/Golden/generate/export_allennlp_check.py X/options.json X/weights.hdf5 S.txt X/embed.npz   (numpy, h5py)
"""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from allennlp_reference import Reference  # noqa: E402


def main(options_path, weights_path, sentences_path, npz_path):
    with open(options_path) as f:
        options = json.load(f)
    with h5py.File(weights_path, "r") as f:
        w = {}
        f.visititems(lambda name, obj: w.__setitem__(name, obj[...]) if isinstance(obj, h5py.Dataset) else None)
    if w["char_embed"].shape[0] != 261:
        print(f"FAIL char_embed has {w['char_embed'].shape[0]} rows; AllenNLP adds the padding row to 261")
        return 1
    ref = Reference(w, options)
    C, P, L = options["lstm"]["dim"], options["lstm"]["projection_dim"], options["lstm"]["n_layers"]
    zero = {(d, l): (np.zeros(C), np.zeros(P)) for d in range(2) for l in range(L)}
    arrays = np.load(npz_path)
    with open(sentences_path, encoding="utf-8") as f:
        sentences = [line.split() for line in f]
    worst = 0.0
    for k, words in enumerate(sentences):
        expected = ref.sentence(words, zero)[0]
        actual = arrays[str(k)].astype(np.float64)
        if expected.shape != actual.shape:
            print(f"FAIL sentence {k}: shape {actual.shape}, reference {expected.shape}")
            return 1
        worst = max(worst, float(np.abs(expected - actual).max() / (1 + np.abs(expected).max())))
    print(f"{weights_path}: {len(sentences)} sentences, {len(w)} arrays; worst |elmo embed - numpy| / (1 + max|x|) = {worst:.2e}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
