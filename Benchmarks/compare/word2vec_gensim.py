"""gensim's skip-gram on the same corpus and settings as `elmo word2vec`, for speed and quality side by side.

Usage: python3 Benchmarks/compare/word2vec_gensim.py CORPUS [CORPUS …] --workers 2 [--dim 300 --epochs 2 --min-count 10]
       [--output vectors.bin]
CORPUS: files of one tokenized sentence per line (the shards `elmo data prepare` writes). Prints words/s over the
training passes alone (vocabulary building excluded, as `elmo word2vec` reports it) and a last JSON line; --output
writes the word2vec binary format, which `elmo train --encoder word2vec --pretrained-word2vec-file` reads.
(needs: pip install gensim)
"""
import argparse
import json
import time

import gensim
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence


class Files:
    """Sentences of several files, in the order given (gensim's LineSentence reads one)."""

    def __init__(self, paths):
        self.paths = paths

    def __iter__(self):
        for path in self.paths:
            yield from LineSentence(path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="+")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.025)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    sentences = Files(args.corpus)
    # word2vec.c's settings, as `elmo word2vec` has them: skip-gram, negative sampling, subsampling 1e-3.
    model = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negative, hs=0, sg=1,
                     min_count=args.min_count, sample=1e-3, alpha=args.lr, min_alpha=args.lr * 1e-4,
                     workers=args.workers, seed=args.seed)
    model.build_vocab(sentences)
    words = int(sum(model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key))   # in-vocabulary tokens per pass
    start = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=args.epochs)
    seconds = time.perf_counter() - start
    rate = words * args.epochs / seconds
    print(f"gensim {gensim.__version__} (FAST_VERSION {gensim.models.word2vec.FAST_VERSION}), {args.workers} worker(s): "
          f"{len(model.wv)} words × {args.dim}, {args.epochs} epoch(s) of {words:,} words in {seconds:.1f} s, {rate:,.0f} words/s")
    if args.output:
        model.wv.save_word2vec_format(args.output, binary=True)
    print(json.dumps({"implementation": "gensim", "gensim": gensim.__version__, "workers": args.workers, "words": words,
                      "epochs": args.epochs, "seconds": round(seconds, 2), "words_per_s": round(rate)}))


if __name__ == "__main__":
    main()
