"""Checks an `elmo embed` HDF5 file the way code written for `allennlp elmo`'s files reads it, against the `.npz`
output of the same input (`elmo embed --output X.npz`, same flags). Exit 0 when everything matches.

    python3 Tests/Golden/generate/embed_hdf5_check.py INPUT.txt OUT.hdf5 OUT.npz      (needs h5py, numpy)

What it checks, each the way AllenNLP's consumers do it:
  - the root holds exactly the datasets "0".."N-1" and "sentence_to_index" (AllenNLP's embed_file writes no more);
  - `json.loads(f["sentence_to_index"][0])` is the dict embed_file builds from the input (its own reading code is
    repeated below), and the stored bytes are exactly `json.dumps` of it;
  - looking every input sentence up through that dict gives a float32 dataset equal to the npz array of that line;
  - walking "0".."N-1" gives float32 arrays whose token axis matches `line.strip().split()`.
"""
import json
import sys

import h5py
import numpy


def main(input_path, hdf5_path, npz_path):
    # allennlp/commands/elmo.py, ElmoEmbedder.embed_file: how the input becomes sentences and keys.
    with open(input_path, encoding="utf-8") as input_file:
        sentences = [line.strip() for line in input_file]
    split_sentences = [sentence.split() for sentence in sentences]
    sentence_to_index = {}
    for i, sentence in enumerate(sentences):
        sentence_to_index[sentence] = str(i)

    arrays = numpy.load(npz_path)
    problems = []
    with h5py.File(hdf5_path, "r") as f:
        expected_keys = {str(i) for i in range(len(sentences))} | {"sentence_to_index"}
        if set(f.keys()) != expected_keys:
            problems.append(f"root keys differ: extra {sorted(set(f.keys()) - expected_keys)[:5]}, "
                            f"missing {sorted(expected_keys - set(f.keys()))[:5]}")
        stored = f["sentence_to_index"][0]
        if json.loads(stored) != sentence_to_index:
            problems.append("sentence_to_index does not parse to embed_file's dict")
        if stored != json.dumps(sentence_to_index).encode("utf-8"):
            problems.append("sentence_to_index bytes differ from json.dumps")
        lookup = json.loads(stored)
        for sentence in sentences:
            key = lookup[sentence]
            data = f[key][...]
            if data.dtype != numpy.float32:
                problems.append(f"dataset {key}: dtype {data.dtype}")
            if not numpy.array_equal(data, arrays[key]):
                problems.append(f"dataset {key}: differs from the npz array (max |d| {numpy.abs(data - arrays[key]).max()})")
        for i in range(len(f.keys()) - 1):
            data = f[str(i)][...]
            tokens = len(split_sentences[i])
            if data.ndim >= 2 and data.shape[-2] != tokens:
                problems.append(f"dataset {i}: {data.shape[-2]} token rows for {tokens} tokens")
        attributes = dict(f.attrs)
    for p in problems[:20]:
        print("FAIL", p)
    print(f"{hdf5_path}: {len(sentences)} sentences, {len(problems)} problems; attributes {sorted(attributes)}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
