#!/bin/sh
# The `elmo embed` measurements of Benchmarks/RESULTS.md, 2026-12-03 session 26 (issue 28), on a quiet machine.
# NEW: release `elmo` of the commit measured; OLD: release `elmo` of eb411f8 (the .npz path before streaming);
# SENTENCES: a directory with s2k.txt, s20k.txt, s200k.txt (the first 2k/20k/200k lines of the prepared IMDB corpus's
# training shards: cat imdb-corpus/training-tokenized-shuffled/* | head -200000); MODEL: the shipped model.
set -u
NEW=${NEW:-.build/release/elmo}; OLD=${OLD:?release elmo of eb411f8}; S=${SENTENCES:?directory of s2k/s20k/s200k.txt}
MODEL=${MODEL:-models/elmo-imdb/elmo}; OUT=${OUT:-/tmp/embed-bench}
mkdir -p "$OUT"
grep -m1 "model name" /proc/cpuinfo; grep -o -w -E "avx2|avx512f|avx512_bf16|amx_tile" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
# Throughput: 20k sentences, top layer, the old .npz path against the new HDF5 and .npz paths.
for run in old-npz new-hdf5 new-npz; do
  rm -f "$OUT"/t20k.*
  case $run in
    old-npz) bin=$OLD; out=$OUT/t20k.npz ;;
    new-hdf5) bin=$NEW; out=$OUT/t20k.hdf5 ;;
    new-npz) bin=$NEW; out=$OUT/t20k.npz ;;
  esac
  /usr/bin/time -f "$run %e s wall, max RSS %M KB" "$bin" embed --init-from-ckpt "$MODEL" --input "$S/s20k.txt" --output "$out" --layers top 2>&1 >/dev/null | grep -E "^embed: [0-9]+ sentences in|wall"
done
# Memory against the number of sentences (HDF5, top layer).
for n in 2k 20k 200k; do
  rm -f "$OUT"/t$n.hdf5*
  /usr/bin/time -f "s$n %e s wall, max RSS %M KB" "$NEW" embed --init-from-ckpt "$MODEL" --input "$S/s$n.txt" --output "$OUT/t$n.hdf5" --layers top 2>&1 >/dev/null | grep -E "^embed: [0-9]+ sentences in|wall"
  rm -f "$OUT"/t$n.hdf5
done
