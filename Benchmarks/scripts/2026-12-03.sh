#!/bin/sh
# The quiet-machine measurements of Benchmarks/RESULTS.md, 2026-12-03 (sections A–G; D, PyTorch, was not run).
set -u
# NEW: a directory with release `elmo` and `bench` of the commit measured; BEF/AFT: release `bench` of 36254dd and cf7b5e5;
# OLD_W2V: release `elmo` of 353a479; CORPUS: `elmo data prepare --imdb` output.
NEW=${NEW:-.build/release}; BEF=${BEF:?release bench of 36254dd}; AFT=${AFT:?release bench of cf7b5e5}
cd "$(dirname "$0")/../.."
grep -m1 "model name" /proc/cpuinfo; grep -o -w -E "avx2|avx512f|avx512_bf16|amx_tile" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
line() { grep -E "^  forward" | awk '{printf "%s ", $2=="forward+backward"?$3:$2}'; }
echo "## A. issue 26: LSTM workspace, before (36254dd) / after (cf7b5e5), ms forward / forward+backward"
for round in 1 2 3 4; do
  for w in before after; do
    b=$BEF; [ $w = after ] && b=$AFT
    for t in 1 2; do
      echo "A $round $w lstm t$t $($b lstm --threads $t --repeats 10 | line)"
      echo "A $round $w bilstm t$t $($b bilstm --threads $t --repeats 5 | line)"
    done
  done
done
echo "## F. per-step products: OpenBLAS vs oneDNN packed (f32) vs oneDNN bf16, ms forward / forward+backward"
for round in 1 2 3; do
  for be in openblas onednn onednn-bf16; do
    for t in 1 2; do
      echo "F $round $be lstm t$t $(ELMO_STEP_PRODUCTS=$be $NEW/bench lstm --threads $t --repeats 10 | line)"
      echo "F $round $be bilstm t$t $(ELMO_STEP_PRODUCTS=$be $NEW/bench bilstm --threads $t --repeats 5 | line)"
    done
    echo "F $round $be pretrain-shipped t2 $(ELMO_STEP_PRODUCTS=$be $NEW/bench pretrain --config configs/imdb-proj256.json --batch-size 64 --sampled 4096 --threads 2 --repeats 3 | line)"
  done
done
echo "## G. embed of the shipped config: fp32 (OpenBLAS, oneDNN) and bf16 step products, sentences/s"
for round in 1 2; do
  for be in openblas onednn onednn-bf16; do
    for t in 1 2; do
      echo "G $round $be embed t$t $(ELMO_STEP_PRODUCTS=$be $NEW/bench embed --config configs/imdb-proj256.json --sentences 300 --threads $t --repeats 1 | grep -E 'tokens/s|sentences/s' | tr -s ' ' | tr '\n' ';')"
    done
  done
done
echo "## E. bench gemm: per-step products, OpenBLAS vs oneDNN packed vs oneDNN bf16"
for t in 1 2; do
  $NEW/bench gemm --threads $t --repeats 5
  $NEW/bench gemm --threads $t --repeats 5 --hidden 512 --proj 256 --batch-size 64
done
echo "## B. issue 27: elementwise AVX-512 vs AVX2 (same binary, ELMO_KERNELS=avx2), ms forward / forward+backward"
for round in 1 2 3; do
  for v in avx2 avx512; do
    for t in 1 2; do
      echo "B $round $v lstm t$t $(ELMO_KERNELS=$v $NEW/bench lstm --threads $t --repeats 10 | line)"
    done
    echo "B $round $v bilstm t1 $(ELMO_KERNELS=$v $NEW/bench bilstm --threads 1 --repeats 5 | line)"
    echo "B $round $v softmax t1 $(ELMO_KERNELS=$v $NEW/bench softmax --threads 1 --repeats 5 | line)"
    echo "B $round $v softmax-sampled t1 $(ELMO_KERNELS=$v $NEW/bench softmax --sampled 8192 --threads 1 --repeats 5 | line)"
    echo "B $round $v pretrain-shipped t2 $(ELMO_KERNELS=$v $NEW/bench pretrain --config configs/imdb-proj256.json --batch-size 64 --sampled 4096 --threads 2 --repeats 3 | line)"
  done
done
echo "## C. word2vec: 2 IMDB shards, dim 300, 1 epoch, min-count 10; words/s of the training pass"
S=${CORPUS:?elmo data prepare output}/training-tokenized-shuffled
W="$S/imdb.en-0000[1-2]-of-00020"
for round in 1 2; do
  echo "C $round old-sequential $(${OLD_W2V:?release elmo of 353a479} word2vec --train-data-path "$W" --dim 300 --epochs 1 --min-count 10 --output /tmp/w2v-old.bin 2>&1 | grep epoch)"
  echo "C $round new t1 $($NEW/elmo word2vec --train-data-path "$W" --dim 300 --epochs 1 --min-count 10 --threads 1 --output /tmp/w2v-1.bin 2>&1 | grep epoch)"
  echo "C $round new t2 $($NEW/elmo word2vec --train-data-path "$W" --dim 300 --epochs 1 --min-count 10 --threads 2 --output /tmp/w2v-2.bin 2>&1 | grep epoch)"
  for k in 1 2; do
    echo "C $round gensim w$k $(python3 Benchmarks/compare/word2vec_gensim.py $S/imdb.en-0000[1-2]-of-00020 --workers $k --dim 300 --epochs 1 --min-count 10 --output /tmp/w2v-gensim-$k.bin 2>/dev/null | head -1)"
  done
done
