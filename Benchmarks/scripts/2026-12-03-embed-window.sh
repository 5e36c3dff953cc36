#!/bin/sh
# `elmo embed` after windowed inference (ELMoEmbedder.infer: the LSTMs 32 steps at a time, no training caches), the
# byte-keyed sentence_to_index and the streamed .jsonl: session 27 of 2026-12-03 (issue 28), on a quiet machine.
# NEW: release `elmo` of the commit measured; PREV: release `elmo` of 49c29d8 (before these changes);
# SENTENCES: a directory with s2k.txt, s20k.txt, s200k.txt as for 2026-12-03-embed.sh; MODEL: the shipped model.
# long2k.txt (the 2,000 longest lines of s200k, ties by position) is made here: it isolates the cost of long batches.
set -u
NEW=${NEW:-.build/release/elmo}; PREV=${PREV:?release elmo of 49c29d8}; S=${SENTENCES:?directory of s2k/s20k/s200k.txt}
MODEL=${MODEL:-models/elmo-imdb/elmo}; OUT=${OUT:-/tmp/embed-window}
mkdir -p "$OUT"
grep -m1 "model name" /proc/cpuinfo; grep -o -w -E "avx2|avx512f|avx512_bf16|amx_tile" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
awk '{ print NF "\t" NR "\t" $0 }' "$S/s200k.txt" | sort -n -s -k1,1 | tail -2000 | sort -n -k2,2 | cut -f3- > "$OUT/long2k.txt"
run() {  # label binary input output [flags]
  label=$1; bin=$2; input=$3; output=$4; shift 4
  rm -f "$output" "$output".*
  /usr/bin/time -f "$label %e s wall, max RSS %M KB" "$bin" embed --init-from-ckpt "$MODEL" --input "$input" --output "$output" --layers top "$@" 2>&1 >/dev/null \
    | grep -E "^embed: [0-9]+ sentences in|wall" | tr '\n' ' '; echo
  rm -f "$output"
}
# Throughput and memory: 20k sentences to HDF5, before and after; twice each, alternating.
for round in 1 2; do
  run "prev s20k hdf5 ($round)" "$PREV" "$S/s20k.txt" "$OUT/t.hdf5"
  run "new  s20k hdf5 ($round)" "$NEW" "$S/s20k.txt" "$OUT/t.hdf5"
done
# Memory against the number of sentences and against their length (HDF5).
for f in s2k long2k; do
  input=$S/$f.txt; [ $f = long2k ] && input=$OUT/long2k.txt
  run "prev $f hdf5" "$PREV" "$input" "$OUT/t.hdf5"
  run "new  $f hdf5" "$NEW" "$input" "$OUT/t.hdf5"
done
run "new  s200k hdf5" "$NEW" "$S/s200k.txt" "$OUT/t.hdf5"
# .jsonl, which held every line's text before.
run "prev s2k jsonl" "$PREV" "$S/s2k.txt" "$OUT/t.jsonl"
run "new  s2k jsonl" "$NEW" "$S/s2k.txt" "$OUT/t.jsonl"
