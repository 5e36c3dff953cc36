#!/bin/sh
# Should oneDNN's packed per-step products be the default? OpenBLAS against oneDNN fp32 on this CPU's own instruction
# set and on AVX2 alone (ONEDNN_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Haswell, ELMO_KERNELS=avx2: the code paths an
# AVX2-only CPU runs), then `elmo serve` against `elmo embed` with each backend. Run alone on the machine.
# NEW: a directory with release `elmo`, `elmo-serve` and `bench`. Needs hey (apt-get install hey).
set -u
NEW=${NEW:-.build/release}
cd "$(dirname "$0")/../.."
grep -m1 "model name" /proc/cpuinfo; grep -o -w -E "avx2|avx512f|avx512_bf16|amx_tile" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
line() { grep -E "^  forward" | awk '{printf "%s ", $2=="forward+backward"?$3:$2}'; }
AVX2="ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell ELMO_KERNELS=avx2"
echo "## H. ms forward / forward+backward; embed sentences/s"
for round in 1 2; do
  for isa in native avx2; do
    e=""; [ $isa = avx2 ] && e=$AVX2
    for be in openblas onednn; do
      run() { env $e ELMO_STEP_PRODUCTS=$be "$@"; }
      [ $round = 1 ] && echo "H $isa $be: $(run $NEW/elmo --version)"
      for t in 1 2; do
        echo "H $round $isa $be lstm t$t $(run $NEW/bench lstm --threads $t --repeats 10 | line)"
        echo "H $round $isa $be bilstm t$t $(run $NEW/bench bilstm --threads $t --repeats 5 | line)"
      done
      echo "H $round $isa $be pretrain-shipped t2 $(run $NEW/bench pretrain --config configs/imdb-proj256.json --batch-size 64 --sampled 4096 --threads 2 --repeats 3 | line)"
      echo "H $round $isa $be embed t2 $(run $NEW/bench embed --config configs/imdb-proj256.json --sentences 300 --threads 2 --repeats 1 | grep -E 'sentences/s' | tr -s ' ' | tr '\n' ';')"
    done
  done
done
echo "## I. elmo embed vs elmo serve (64 clients, one 20-token sentence each, 15 s), per backend"
O=$(mktemp -d)
SENTENCE="the film 's story is told with grace and its two leads make every scene feel honest and alive ."
BODY="{\"sentences\": [\"$SENTENCE\"], \"layers\": \"top\"}"
awk -v s="$SENTENCE" 'BEGIN { for (i = 0; i < 2000; i++) print s }' > "$O/sentences.txt"
for round in 1 2; do
  for be in openblas onednn; do
    echo "I $round $be $(ELMO_STEP_PRODUCTS=$be $NEW/elmo embed --input "$O/sentences.txt" --output "$O/embed.npz" --layers top 2>&1 | grep 'sentences in')"
    ELMO_STEP_PRODUCTS=$be $NEW/elmo serve --port 18182 > "$O/server.log" 2>&1 &
    for _ in $(seq 1 100); do grep -q listening "$O/server.log" && break; sleep 0.2; done
    hey -z 3s -c 64 -m POST -T application/json -d "$BODY" http://127.0.0.1:18182/v1/embed > /dev/null
    for accept in application/json application/x-npy; do
      echo "I $round $be serve $accept $(hey -z 15s -c 64 -m POST -T application/json -H "Accept: $accept" -d "$BODY" http://127.0.0.1:18182/v1/embed | grep -E 'Requests/sec|50% in|99% in' | xargs)"
    done
    pkill -TERM -f "elmo-serve.*18182"; sleep 2
  done
done
rm -rf "$O"
