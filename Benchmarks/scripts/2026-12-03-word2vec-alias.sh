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
# Equal accuracy (ACCURACY=1; minutes): both trainers on the whole training corpus, then frozen BoW on the split.
if [ "${ACCURACY:-0}" = 1 ]; then
  $NEW/elmo word2vec --train-data-path "$S/*" --dim 300 --epochs 2 --min-count 10 --threads 2 --output /tmp/w2v-ours.bin
  python3 Benchmarks/compare/word2vec_gensim.py $S/* --workers 2 --dim 300 --epochs 2 --min-count 10 --output /tmp/w2v-gensim.bin
  for v in ours gensim; do for seed in 2020 1 2; do
    echo "A $v seed $seed $($NEW/elmo train --encoder word2vec --pretrained-word2vec-file /tmp/w2v-$v.bin --seed $seed --save-dir /tmp/w2v-acc-$v-$seed 2>/dev/null | tail -n 1)"
  done; done
fi
