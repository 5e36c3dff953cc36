#!/bin/sh
# Every speed figure of the performance issues on whatever CPU this is (written for the Intel / AMX runs this
# project has not had yet): the CPU and what our binaries dispatch to, the side-by-side with PyTorch (bf16 workloads
# too where the CPU has AVX512-BF16 or AMX), the step GEMMs as a fraction of the square GEMM, `embed` and pretraining
# of the shipped shape in fp32 and bf16, and (with CORPUS set) `elmo word2vec` beside gensim.
#   usage: Benchmarks/scripts/any-cpu.sh > figures.txt       (nothing else may run meanwhile; 30-60 min)
#   needs: a release build (swift build -c release), python3 with torch; for the word2vec part gensim and
#          CORPUS=DIR, the output of `elmo data prepare`.
set -eu
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/release}
grep -m1 "model name" /proc/cpuinfo
echo "flags: $(grep -o -w -E 'avx2|avx512f|avx512_bf16|avx512_vnni|amx_tile|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
$BIN/elmo --version
bf16=$(grep -q -w -E 'avx512_bf16|amx_bf16' /proc/cpuinfo && echo yes || echo no)

echo "## PyTorch side by side (Benchmarks/compare/compare.py: best of 3 rounds per side, ratios ours / PyTorch)"
BENCH=$BIN/bench python3 Benchmarks/compare/compare.py --threads 1 2 --rounds 3

echo "## Step GEMMs and their fraction of the square GEMM (bench gemm), default and shipped shapes, 1 thread"
$BIN/bench gemm --threads 1 --repeats 5
$BIN/bench gemm --threads 1 --repeats 5 --hidden 512 --proj 256 --batch-size 64

echo "## embed of the shipped shape, 2,000 sentences, two rounds alternated"
precisions="fp32"; [ "$bf16" = yes ] && precisions="fp32 bf16"
for round in 1 2; do
    for t in 1 2; do
        for p in $precisions; do
            echo "embed r$round t$t $p $($BIN/bench embed --config configs/imdb-proj256.json --sentences 2000 --repeats 1 \
                --threads $t --precision $p | grep encode | tr -s ' ')"
        done
    done
done

echo "## pretraining steps of the shipped shape (batch 64, 4,096 sampled), ms forward / forward+backward"
for t in 1 2; do
    for p in $precisions; do
        echo "pretrain t$t $p"
        $BIN/bench pretrain --config configs/imdb-proj256.json --batch-size 64 --sampled 4096 --threads $t --repeats 3 --precision $p \
            | grep -E "^  forward"
    done
done

if [ -n "${CORPUS:-}" ]; then
    echo "## elmo word2vec beside gensim, 2 workers, dim 300, 2 epochs"
    out=$(mktemp -d)
    $BIN/elmo word2vec --train-data-path "$CORPUS/training-tokenized-shuffled/*" --dim 300 --epochs 2 --min-count 3 \
        --threads 2 --output "$out/ours.bin" 2>&1 | tail -n 2
    python3 Benchmarks/compare/word2vec_gensim.py "$CORPUS"/training-tokenized-shuffled/* --workers 2 --dim 300 --epochs 2 \
        --min-count 3 --output "$out/gensim.bin" | tail -n 2
    rm -rf "$out"
fi
