#!/bin/sh
# bf16 for every product by a weight (commit b862aed) against fp32 and against bf16 per-step products alone (the
# former --precision bf16): `bench embed` on 300 and 2,000 sentences, 1 and 2 threads, two rounds alternated; then
# where the time goes (perf: the share of samples in GEMM code, OpenBLAS plus oneDNN's JIT kernels), which bounds
# what bfloat16 can give on a CPU whose bf16 dot products run at twice the fp32 FMA rate (AVX512-BF16, no AMX).
# Run alone on the machine. NEW: a directory with a release `bench`.
set -u
NEW=${NEW:-.build/release}
cd "$(dirname "$0")/../.."
grep -m1 "model name" /proc/cpuinfo; grep -o -w -E "avx2|avx512f|avx512_bf16|amx_tile" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
echo "## J. bench embed, configs/imdb-proj256.json (the shipped model's shape), sentences/s"
for n in 300 2000; do
  for round in 1 2; do
    for t in 1 2; do
      for mode in fp32 steps bf16; do
        case $mode in
          steps) e="ELMO_STEP_PRODUCTS=onednn-bf16"; p=fp32 ;;
          *) e="UNUSED=1"; p=$mode ;;
        esac
        echo "J n$n r$round t$t $mode $(env $e $NEW/bench embed --config configs/imdb-proj256.json --sentences $n --repeats 1 --threads $t --precision $p | grep encode | tr -s ' ')"
      done
    done
  done
done
echo "## K. share of samples in GEMM code (1 thread, 2,000 sentences, 3 encodes)"
for p in fp32 bf16; do
  perf record -q -o /tmp/bf16-embed-$p.data $NEW/bench embed --config configs/imdb-proj256.json --sentences 2000 --repeats 3 --threads 1 --precision $p > /dev/null 2>&1
  perf report -q -i /tmp/bf16-embed-$p.data --no-children --sort dso 2>/dev/null | awk -v p=$p '{gsub("%","",$1)} /openblas|JIT/ {g += $1} {all += $1} END {printf "K %s GEMM share %.1f %%\n", p, g}'
done
