"""AllenNLP / bilm-tf ELMo weight files and their embeddings, for the `elmo import-allennlp` golden test.

Writes Tests/Golden/Resources/allennlp/:
  options.json              AllenNLP options of a small model (clips small enough to be exercised)
  weights.hdf5              random float32 weights in bilm-tf's dump_weights layout (h5py), char_embed with 261 rows
  weights-missing.hdf5      the same without CNN_proj/b_proj              (error: names the dataset)
  weights-badshape.hdf5     CNN/W_cnn_1 with a wrong filter count        (error: names the dataset and shapes)
  sentences.txt             one whitespace-tokenized sentence per line
  reference.safetensors     stateless_K and stateful_K: float32 [3, n_K, 2P] ELMo layers of sentence K

Run from the repo root: python3 Tests/Golden/generate/allennlp_reference.py   (needs numpy, h5py, safetensors).

The reference is float64 numpy written from AllenNLP's and bilm-tf's published conventions, reading the weights in
their TensorFlow layout straight from the arrays it writes (it shares no code with the Swift importer):
  chars: AllenNLP's ELMoCharacterMapper (bytes[:48] between bow 258 / eow 259, padding 260, <S> = [258, 256, 259],
         </S> = [258, 257, 259], every id + 1, and a zero row inserted at 0 of bilm-tf's 261-row char_embed);
  CNN:   conv1d over char positions with W_cnn [1, w, E, n], max over positions, relu;
  highway (bilm-tf): g = sigmoid(x W_carry + b_carry), out = g * relu(x W_transform + b_transform) + (1 - g) * x;
  LSTM (TF LSTMCell with projection): [x, h] W_0 + B split i, j, f, o; c = sig(f + 1) c + sig(i) tanh(j),
         clipped; h = clip((sig(o) tanh(c)) W_P_0); layer 1 adds its input (use_skip_connections);
  ELMo: layer 0 = token vector twice, layers 1-2 = [forward; backward], <S> and </S> removed.
  Stateless: zero state per sentence. Stateful (AllenNLP ElmoEmbedder): batches of BATCH sentences in order, row r
  of each batch starts from the state row r ended with in the previous batch (forward: after </S>; backward: after
  <S>); rows a short last batch does not use keep their state.
"""
import json
import os

import h5py
import numpy as np
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Resources", "allennlp")
BATCH = 3
OPTIONS = {
    "lstm": {"use_skip_connections": True, "projection_dim": 8, "cell_clip": 1.5, "proj_clip": 0.5, "dim": 16, "n_layers": 2},
    "char_cnn": {"activation": "relu", "filters": [[1, 4], [2, 4], [3, 8]], "n_highway": 1,
                 "embedding": {"dim": 4}, "n_characters": 262, "max_characters_per_token": 50},
}
SENTENCES = [
    "The cat sat on the mat .",
    "über naïve café résumé",
    "a",
    "Supercalifragilisticexpialidocious" * 2,
    "Long sentence with several words to run the LSTM into its clip range , hopefully .",
    "x y",
    "Another one .",
]


def weights(rng):
    o = OPTIONS
    E, P, C = o["char_cnn"]["embedding"]["dim"], o["lstm"]["projection_dim"], o["lstm"]["dim"]
    D = sum(n for _, n in o["char_cnn"]["filters"])
    u = lambda shape, s: rng.uniform(-s, s, size=shape).astype(np.float32)
    w = {"char_embed": u((261, E), 1.0)}
    for k, (width, n) in enumerate(o["char_cnn"]["filters"]):
        w[f"CNN/W_cnn_{k}"] = u((1, width, E, n), 0.5)
        w[f"CNN/b_cnn_{k}"] = u((n,), 0.1)
    for h in range(o["char_cnn"]["n_highway"]):
        w[f"CNN_high_{h}/W_carry"] = u((D, D), 0.3)
        w[f"CNN_high_{h}/b_carry"] = u((D,), 0.5) - 1.0
        w[f"CNN_high_{h}/W_transform"] = u((D, D), 0.3)
        w[f"CNN_high_{h}/b_transform"] = u((D,), 0.1)
    w["CNN_proj/W_proj"] = u((D, P), 0.4)
    w["CNN_proj/b_proj"] = u((P,), 0.1)
    for d in range(2):
        for l in range(o["lstm"]["n_layers"]):
            cell = f"RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell"
            w[f"{cell}/W_0"] = u((P + P, 4 * C), 0.8)
            w[f"{cell}/B"] = u((4 * C,), 0.5)
            w[f"{cell}/W_P_0"] = u((C, P), 0.5)
    return w


def write_hdf5(path, w, drop=None, replace=None):
    with h5py.File(path, "w") as f:
        for name, value in w.items():
            if name == drop:
                continue
            f.create_dataset(name, data=(replace[1] if replace and replace[0] == name else value))


def char_ids(token):
    if token in ("<S>", "</S>"):
        ids = [260] * 50
        ids[0], ids[1], ids[2] = 258, 256 if token == "<S>" else 257, 259
    else:
        raw = token.encode("utf-8", "ignore")[:48]
        ids = [260] * 50
        ids[0] = 258
        ids[1:1 + len(raw)] = list(raw)
        ids[len(raw) + 1] = 259
    return [i + 1 for i in ids]


class Reference:
    def __init__(self, w, options=OPTIONS):
        self.options = options
        self.w = {k: v.astype(np.float64) for k, v in w.items()}
        self.table = np.vstack([np.zeros((1, w["char_embed"].shape[1])), self.w["char_embed"]])
        self.clips = {"cell": 0, "proj": 0, "total": 0}

    def token(self, token):
        e = self.table[char_ids(token)]                    # [50, E]
        pooled = []
        for k, (width, n) in enumerate(self.options["char_cnn"]["filters"]):
            W = self.w[f"CNN/W_cnn_{k}"][0]                 # [w, E, n]
            z = np.stack([np.einsum("ke,ken->n", e[p:p + width], W) for p in range(50 - width + 1)])
            pooled.append(np.maximum(z.max(0) + self.w[f"CNN/b_cnn_{k}"], 0))
        x = np.concatenate(pooled)
        for h in range(self.options["char_cnn"]["n_highway"]):
            g = 1 / (1 + np.exp(-(x @ self.w[f"CNN_high_{h}/W_carry"] + self.w[f"CNN_high_{h}/b_carry"])))
            t = np.maximum(x @ self.w[f"CNN_high_{h}/W_transform"] + self.w[f"CNN_high_{h}/b_transform"], 0)
            x = g * t + (1 - g) * x
        return x @ self.w["CNN_proj/W_proj"] + self.w["CNN_proj/b_proj"]

    def lstm(self, d, l, xs, state):
        cell = f"RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell"
        W, B, PW = self.w[f"{cell}/W_0"], self.w[f"{cell}/B"], self.w[f"{cell}/W_P_0"]
        C = PW.shape[0]
        c, h = state
        sig = lambda v: 1 / (1 + np.exp(-v))
        out = []
        for x in xs:
            z = np.concatenate([x, h]) @ W + B
            i, j, f, o = z[:C], z[C:2 * C], z[2 * C:3 * C], z[3 * C:]
            c = sig(f + 1) * c + sig(i) * np.tanh(j)
            self.clips["cell"] += int(np.sum(np.abs(c) > self.options["lstm"]["cell_clip"]))
            c = np.clip(c, -self.options["lstm"]["cell_clip"], self.options["lstm"]["cell_clip"])
            h = (sig(o) * np.tanh(c)) @ PW
            self.clips["proj"] += int(np.sum(np.abs(h) > self.options["lstm"]["proj_clip"]))
            self.clips["total"] += C
            h = np.clip(h, -self.options["lstm"]["proj_clip"], self.options["lstm"]["proj_clip"])
            out.append(h)
        return out, (c, h)

    def sentence(self, words, states):
        """ELMo layers [3, n, 2P] and the new states {(direction, layer): (c, h)}."""
        tokens = [self.token(t) for t in ["<S>"] + words + ["</S>"]]
        layers = {}
        new_states = {}
        for d in range(2):
            xs = tokens if d == 0 else tokens[::-1]
            for l in range(self.options["lstm"]["n_layers"]):
                out, new_states[(d, l)] = self.lstm(d, l, xs, states[(d, l)])
                if l >= 1:
                    out = [o + x for o, x in zip(out, xs)]
                layers[(d, l)] = out if d == 0 else out[::-1]
                xs = out
        n = len(words)
        rep = [np.concatenate([tokens[k], tokens[k]]) for k in range(1, n + 1)]
        result = [rep]
        for l in range(self.options["lstm"]["n_layers"]):
            result.append([np.concatenate([layers[(0, l)][k], layers[(1, l)][k]]) for k in range(1, n + 1)])
        return np.array(result), new_states


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2027)
    w = weights(rng)
    with open(os.path.join(OUT, "options.json"), "w") as f:
        json.dump(OPTIONS, f, indent=2)
    write_hdf5(os.path.join(OUT, "weights.hdf5"), w)
    write_hdf5(os.path.join(OUT, "weights-missing.hdf5"), w, drop="CNN_proj/b_proj")
    write_hdf5(os.path.join(OUT, "weights-badshape.hdf5"), w, replace=("CNN/W_cnn_1", np.zeros((1, 2, 4, 5), np.float32)))
    with open(os.path.join(OUT, "sentences.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(SENTENCES) + "\n")

    ref = Reference(w)
    C, P = OPTIONS["lstm"]["dim"], OPTIONS["lstm"]["projection_dim"]
    zero = lambda: {(d, l): (np.zeros(C), np.zeros(P)) for d in range(2) for l in range(OPTIONS["lstm"]["n_layers"])}
    tensors = {}
    for k, line in enumerate(SENTENCES):
        tensors[f"stateless_{k}"] = ref.sentence(line.split(), zero())[0].astype(np.float32)
    rows = [zero() for _ in range(BATCH)]
    for start in range(0, len(SENTENCES), BATCH):
        for r, line in enumerate(SENTENCES[start:start + BATCH]):
            rep, rows[r] = ref.sentence(line.split(), rows[r])
            tensors[f"stateful_{start + r}"] = rep.astype(np.float32)
    save_file(tensors, os.path.join(OUT, "reference.safetensors"), metadata={"batch_size": str(BATCH)})
    gap = max(float(np.abs(tensors[f"stateless_{k}"] - tensors[f"stateful_{k}"]).max()) for k in range(BATCH, len(SENTENCES)))
    print(f"wrote {OUT}: {len(SENTENCES)} sentences; cells clipped {ref.clips['cell']} / projections clipped {ref.clips['proj']} "
          f"of {ref.clips['total']} cell-steps; stateful vs stateless (batches after the first) differ by up to {gap:.3f}")
    assert ref.clips["cell"] > 0 and ref.clips["proj"] > 0, "the clips must be exercised"


if __name__ == "__main__":
    main()
