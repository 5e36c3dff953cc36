"""Small word2vec files written by gensim, for the Swift loader tests (Tests/UnitTests/Word2VecTests.swift).

Run: python3 Tests/Golden/generate/word2vec_fixture.py   (needs: pip install gensim numpy)
Writes Tests/Golden/Resources/word2vec/: vectors.bin, vectors.txt, vectors.bin.gz, vectors.txt.gz (the same 7 × 5
vectors, including non-ASCII words), truncated.bin (cut inside the last vector) and expected.json.
"""
import gzip
import json
import os
import shutil

import numpy as np
from gensim.models import KeyedVectors

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "Resources", "word2vec")
os.makedirs(out, exist_ok=True)

words = ["the", "movie", "café", "naïve", "東京", "good", "bad"]
rng = np.random.default_rng(7)
vectors = rng.uniform(-1, 1, size=(len(words), 5)).astype(np.float32)
kv = KeyedVectors(vector_size=5)
kv.add_vectors(words, vectors)
kv.save_word2vec_format(os.path.join(out, "vectors.bin"), binary=True)
kv.save_word2vec_format(os.path.join(out, "vectors.txt"), binary=False)
for name in ["vectors.bin", "vectors.txt"]:
    with open(os.path.join(out, name), "rb") as src, gzip.GzipFile(os.path.join(out, name + ".gz"), "wb", mtime=0) as dst:
        shutil.copyfileobj(src, dst)
data = open(os.path.join(out, "vectors.bin"), "rb").read()
open(os.path.join(out, "truncated.bin"), "wb").write(data[:-9])
# Round trip through gensim itself, as the reference values.
back = KeyedVectors.load_word2vec_format(os.path.join(out, "vectors.bin"), binary=True)
text = KeyedVectors.load_word2vec_format(os.path.join(out, "vectors.txt"), binary=False)
json.dump({"words": list(back.index_to_key),
           "vectors": [[float(x) for x in back[w]] for w in back.index_to_key],
           "text_vectors": [[float(x) for x in text[w]] for w in text.index_to_key]},
          open(os.path.join(out, "expected.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)
print("wrote", sorted(os.listdir(out)))
