#!/bin/sh
# `elmo word2vec` with negatives from an alias table (NEW) against the unigram slot table (OLD: release elmo of 10a0e76)
# and gensim, on two IMDB shards (dim 300, 1 epoch, min-count 10); words/s of the training pass. Run alone.
# CORPUS: `elmo data prepare --imdb` output. Needs gensim (pip install gensim).
set -u
NEW=${NEW:-.build/release}; OLD=${OLD:?release elmo of 10a0e76}
cd "$(dirname "$0")/../.."
grep -m1 "model name" /proc/cpuinfo; grep -o -w -E "avx2|avx512f|avx512_bf16|amx_tile" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
S=${CORPUS:?elmo data prepare output}/training-tokenized-shuffled
W="$S/imdb.en-0000[1-2]-of-00020"
for round in 1 2; do
  for t in 1 2; do
    echo "W $round old t$t $($OLD word2vec --train-data-path "$W" --dim 300 --epochs 1 --min-count 10 --threads $t --output /tmp/w2v-old-$t.bin 2>&1 | grep epoch)"
    echo "W $round new t$t $($NEW/elmo word2vec --train-data-path "$W" --dim 300 --epochs 1 --min-count 10 --threads $t --output /tmp/w2v-new-$t.bin 2>&1 | grep epoch)"
    echo "W $round gensim w$t $(python3 Benchmarks/compare/word2vec_gensim.py $S/imdb.en-0000[1-2]-of-00020 --workers $t --dim 300 --epochs 1 --min-count 10 --output /tmp/w2v-gensim-$t.bin 2>/dev/null | head -1)"
  done
done
