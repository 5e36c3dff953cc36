#!/bin/sh
# The `elmo embed` measurements of Benchmarks/RESULTS.md, 2026-12-03 session 26 (issue 28), on a quiet machine.
# NEW: release `elmo` of the commit measured; OLD: release `elmo` of eb411f8 (the .npz path before streaming);
# SENTENCES: a directory with s2k.txt, s20k.txt, s200k.txt (the first 2k/20k/200k lines of the prepared IMDB corpus's
# training shards: cat imdb-corpus/training-tokenized-shuffled/* | head -200000); MODEL: the shipped model.
# BEFORE_MODE: release `elmo` of caa9a26 (before batch-invariant products) for section C.
# SECTIONS: which of A (throughput), B (memory), C (alone vs in a batch), D (kill and resume) to run; default all.
set -u
SECTIONS=${SECTIONS:-ABCD}
NEW=${NEW:-.build/release/elmo}; OLD=${OLD:?release elmo of eb411f8}; S=${SENTENCES:?directory of s2k/s20k/s200k.txt}
MODEL=${MODEL:-models/elmo-imdb/elmo}; OUT=${OUT:-/tmp/embed-bench}
mkdir -p "$OUT"
grep -m1 "model name" /proc/cpuinfo; grep -o -w -E "avx2|avx512f|avx512_bf16|amx_tile" /proc/cpuinfo | sort -u | tr '\n' ' '; echo
case $SECTIONS in *A*)
# A. Throughput: 20k sentences, top layer, the old .npz path against the new HDF5 and .npz paths.
for run in old-npz new-hdf5 new-npz; do
  rm -f "$OUT"/t20k.*
  case $run in
    old-npz) bin=$OLD; out=$OUT/t20k.npz ;;
    new-hdf5) bin=$NEW; out=$OUT/t20k.hdf5 ;;
    new-npz) bin=$NEW; out=$OUT/t20k.npz ;;
  esac
  /usr/bin/time -f "$run %e s wall, max RSS %M KB" "$bin" embed --init-from-ckpt "$MODEL" --input "$S/s20k.txt" --output "$out" --layers top 2>&1 >/dev/null | grep -E "^embed: [0-9]+ sentences in|wall"
done
esac
case $SECTIONS in *B*)
# B. Memory against the number of sentences (HDF5, top layer).
for n in 2k 20k 200k; do
  rm -f "$OUT"/t$n.hdf5*
  /usr/bin/time -f "s$n %e s wall, max RSS %M KB" "$NEW" embed --init-from-ckpt "$MODEL" --input "$S/s$n.txt" --output "$OUT/t$n.hdf5" --layers top 2>&1 >/dev/null | grep -E "^embed: [0-9]+ sentences in|wall"
  rm -f "$OUT"/t$n.hdf5
done
esac
case $SECTIONS in *C*)
# C. A sentence alone and in a batch: the first 200 sentences of s2k plus four of 1-4 tokens, embedded together and
# then ten of them alone, before the batch-invariant mode and with it; max |difference| and differing values.
printf 'a\ngood\nnot bad\nthe movie was\n' | cat "$S/s2k.txt" - | sed -n '1,200p;2001,2004p' > "$OUT/mix.txt"
for side in before with; do
  bin=$NEW; [ $side = before ] && bin=${BEFORE_MODE:?release elmo of caa9a26}
  "$bin" embed --init-from-ckpt "$MODEL" --input "$OUT/mix.txt" --output "$OUT/mix-$side.npz" >/dev/null 2>&1
  for i in 1 2 3 50 100 150 201 202 203 204; do
    sed -n "${i}p" "$OUT/mix.txt" > "$OUT/alone.txt"
    "$bin" embed --init-from-ckpt "$MODEL" --input "$OUT/alone.txt" --output "$OUT/alone-$side-$i.npz" >/dev/null 2>&1
  done
  python3 - "$OUT" "$side" <<'PY'
import sys, numpy as np
out, side = sys.argv[1], sys.argv[2]
batch = np.load(f"{out}/mix-{side}.npz")
worst, differing, total = 0.0, 0, 0
for i in [1, 2, 3, 50, 100, 150, 201, 202, 203, 204]:
    a, b = np.load(f"{out}/alone-{side}-{i}.npz")["0"], batch[str(i - 1)]
    worst, differing, total = max(worst, float(np.abs(a - b).max())), differing + int((a != b).sum()), total + a.size
print(f"C {side} batch-invariant mode: {differing} of {total} values differ alone vs in the batch, max |difference| {worst:.2e}")
PY
done
esac
case $SECTIONS in *D*)
# D. Killed with SIGKILL five times at random points (3-22 s) and resumed: the file equals an uninterrupted run's.
rm -f "$OUT"/whole.hdf5* "$OUT"/killed.hdf5*
"$NEW" embed --init-from-ckpt "$MODEL" --input "$S/s20k.txt" --output "$OUT/whole.hdf5" --layers top >/dev/null 2>&1
for round in 1 2 3 4 5; do
  "$NEW" embed --init-from-ckpt "$MODEL" --input "$S/s20k.txt" --output "$OUT/killed.hdf5" --layers top >/dev/null 2>&1 &
  pid=$!; t=$(awk -v r="$round$$" 'BEGIN { srand(r); print 3 + int(rand() * 20) }'); sleep "$t"
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  echo "D round $round: killed after $t s; $(cat "$OUT/killed.hdf5.progress" 2>/dev/null)"
done
"$NEW" embed --init-from-ckpt "$MODEL" --input "$S/s20k.txt" --output "$OUT/killed.hdf5" --layers top 2>&1 >/dev/null | grep resuming
cmp "$OUT/whole.hdf5" "$OUT/killed.hdf5" && echo "D identical: $(stat -c %s "$OUT/whole.hdf5") bytes, sha256 $(sha256sum "$OUT/whole.hdf5" | cut -c1-16)"
rm -f "$OUT"/whole.hdf5 "$OUT"/killed.hdf5
esac
