#!/usr/bin/env python3
"""How much polarity signal do frozen ELMo features carry, whatever the head? Embeds every rt-polarity sentence with
`elmo embed --layers all` (stateless), mean-pools each layer over the tokens, and fits a ridge classifier on standardised
features (closed form, so no optimiser settings are involved); prints test and train accuracy per layer on a seeded
90/10 split. Low train accuracy means the features, not the BoW head, are the limit.

Usage: python3 scripts/probe_polarity_features.py runs/wt2-tiny-reset/final   (needs numpy and a release build of elmo)
"""
import sys

import numpy as np

from rt_polarity import load, mean_pooled_layers, ridge

sentences, y = load()
E = mean_pooled_layers(sys.argv[1], sentences)
pooled = [E[:, layer] for layer in range(E.shape[1])]

order = np.random.default_rng(0).permutation(len(y))
train, test = order[: int(0.9 * len(y))], order[int(0.9 * len(y)):]
for layer in range(3):
    print("layer %d: test %.4f, train %.4f" % ((layer,) + ridge(pooled[layer], y, train, test, 1.0)))
print("all layers: test %.4f, train %.4f" % ridge(np.hstack(pooled), y, train, test, 1.0))
