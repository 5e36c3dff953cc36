#!/usr/bin/env python3
"""Loads a .bin written by `elmo word2vec` with gensim and prints its size and nearest neighbours,
proving the file is in the word2vec binary format gensim reads.

Usage: python3 scripts/check_word2vec_with_gensim.py runs/word2vec/vectors.bin   (needs: pip install gensim)
"""
import sys

from gensim.models import KeyedVectors

path = sys.argv[1]
kv = KeyedVectors.load_word2vec_format(path, binary=True)
print(f"{path}: {len(kv.index_to_key)} words, dimension {kv.vector_size}")
for word in ["king", "film", "good", "january", "river"]:
    if word in kv:
        neighbours = ", ".join(f"{w} {s:.2f}" for w, s in kv.most_similar(word, topn=5))
        print(f"  {word}: {neighbours}")
