"""Independent float64 numpy reference of the ELMo bidirectional LM described in docs/checkpoint-format.md,
for the Swift BiLM golden test. Writes

  Tests/Golden/Resources/bilm-tiny-weights.safetensors   model parameters (float32) + format/options/vocab metadata
  Tests/Golden/Resources/bilm-tiny-golden.safetensors    inputs, activations, losses, gradients, sampled softmax,
                                                          stateless ELMo embeddings

Run from the repo root: python3 Tests/Golden/generate/bilm_reference.py   (needs: numpy, safetensors; torch is
optional and only used for the self-check). Deterministic (np.random.default_rng(2026)).

The forward and backward passes below are hand-written numpy (float64). The script checks them once against an
independently written torch float64 autograd implementation (when torch is importable) and against central
differences on a few elements of every parameter, and prints the largest discrepancies.

Conventions (docs/checkpoint-format.md): y = x·W + b; char ids = [bow, bytes[:48], eow, pad...] + 1;
conv weight row k·E + e = embedding dim e of the char at window offset k; LSTM kernel rows [input; h_prev], gate
column blocks i, j, f, o, forget bias +1 added at run time; c clipped to ±cell_clip, h = clip(σ(o)·tanh(c)·proj);
highway out = g·t + (1−g)·x with g = σ(x·Wc + bc), t = relu(x·Wt + bt); layer ≥ 1 adds its input (skip).
"""
import json
import os
import struct

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "..", "Resources")
WEIGHTS_OUT = os.path.join(RES, "bilm-tiny-weights.safetensors")
GOLDEN_OUT = os.path.join(RES, "bilm-tiny-golden.safetensors")

# ----------------------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------------------
VOCAB = ["<S>", "</S>", "<UNK>",
         "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "in", "park", "café", "is", "was", "and", "to",
         "of", "big", "small", "red", "blue", "house", "tree", "bird", "sings", "eats", "fish", "it", "he", "sleeps"]
V = len(VOCAB)
assert V == 32 and len(set(VOCAB)) == V
TOKEN_ID = {w: i for i, w in enumerate(VOCAB)}

FILTERS = [[1, 32], [2, 32], [3, 64], [4, 128]]
E = 16
D = sum(n for _, n in FILTERS)
C = 512
P = 64
L = 2
N_HIGHWAY = 1
CELL_CLIP = 3.0
PROJ_CLIP = 3.0
MAX_CHARS = 50
N_CHARS = 262
OPTIONS = {
    "lstm": {"dim": C, "projection_dim": P, "n_layers": L, "cell_clip": 3, "proj_clip": 3,
             "use_skip_connections": True},
    "char_cnn": {"activation": "relu", "filters": FILTERS, "n_highway": N_HIGHWAY, "embedding": {"dim": E},
                 "n_characters": N_CHARS, "max_characters_per_token": MAX_CHARS},
    "n_tokens_vocab": V,
}

B, T = 2, 6
# 47 ASCII bytes then "é" (2 bytes): the 48-byte truncation keeps only the first byte of "é" (0xC3), so byte-wise
# (not character-wise) truncation is exercised. 63 UTF-8 bytes in total.
LONG = "pneumonoultramicroscopicsilicovolcanoconiosisXY" + "é" + "tailtailtailtail"
assert len(LONG[:47].encode()) == 47 and len(LONG.encode()) > 48
ROWS = [
    [["the", "zebra", "sat"], ["café", "is", "big"]],            # zebra: OOV; café: non-ASCII, in the vocab
    [["naïve", LONG], ["it", "eats", "fish"]],                   # naïve: OOV + non-ASCII; LONG: OOV, > 48 bytes
]
EMBED_SENTENCES = [
    ["he", "ran"],
    ["the", "dog", "ran", "in", "the", "big", "park"],
    ["naïve", "zebra", "eats", "fish"],
]
SAMPLED_CANDIDATES = [2, 3, 9, 13, 18, 22, 27, 31]  # 2 <UNK>, 3 "the", 13 "café", 27 "eats" are forward targets
# (accidental hits, removed per token: 6 of the 12 tokens have one)
NUM_TRIES = 20


# ----------------------------------------------------------------------------------------------------------------
# Characters / streams
# ----------------------------------------------------------------------------------------------------------------
def char_ids(token):
    BOW, EOW, PAD, BOS, EOS = 258, 259, 260, 256, 257
    if token == "<S>":
        core = [BOS]
    elif token == "</S>":
        core = [EOS]
    else:
        core = list(token.encode("utf-8")[:MAX_CHARS - 2])
    ids = [BOW] + core + [EOW]
    ids += [PAD] * (MAX_CHARS - len(ids))
    return [i + 1 for i in ids]


def target_id(token):
    return TOKEN_ID.get(token, TOKEN_ID["<UNK>"])


def streams(rows, direction):
    # bilm-tf packing: a sentence [<S> w1 .. wn </S>] contributes n+1 (input, next-token) pairs;
    # the last token of one sentence is never an input predicting the next sentence's first token.
    chars, targets, tokens = [], [], []
    for sentences in rows:
        inputs, nexts = [], []
        for s in sentences:
            seq = ["<S>"] + list(s) + ["</S>"]
            if direction == "backward":
                seq = list(reversed(seq))
            inputs += seq[:-1]
            nexts += seq[1:]
        assert len(inputs) >= T
        chars.append([char_ids(w) for w in inputs[:T]])
        targets.append([target_id(w) for w in nexts[:T]])
        tokens.append(inputs[:T] + [nexts[T - 1]])
    return np.array(chars, dtype=np.int64), np.array(targets, dtype=np.int64), tokens


# ----------------------------------------------------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------------------------------------------------
def make_params():
    rng = np.random.default_rng(2026)
    u = lambda shape, a: rng.uniform(-a, a, size=shape)
    p = {}
    emb = u((N_CHARS, E), 1.0)
    emb[0] = 0.0
    p["char_cnn.char_embed"] = emb
    for k, (w, n) in enumerate(FILTERS):
        p[f"char_cnn.conv_{k}.weight"] = u((w * E, n), 0.2)
        p[f"char_cnn.conv_{k}.bias"] = u((n,), 0.1)
    for h in range(N_HIGHWAY):
        p[f"char_cnn.highway_{h}.carry.weight"] = rng.normal(0.0, 1.0 / np.sqrt(D), size=(D, D))
        p[f"char_cnn.highway_{h}.carry.bias"] = -2.0 + u((D,), 0.1)
        p[f"char_cnn.highway_{h}.transform.weight"] = rng.normal(0.0, 1.0 / np.sqrt(D), size=(D, D))
        p[f"char_cnn.highway_{h}.transform.bias"] = u((D,), 0.1)
    p["char_cnn.projection.weight"] = rng.normal(0.0, 1.0 / np.sqrt(D), size=(D, P))
    p["char_cnn.projection.bias"] = u((P,), 0.1)
    for d in ("forward", "backward"):
        for l in range(L):
            I = P  # layer 0 input = token representation (width P, projection exists); layer >= 1 input = P
            p[f"lstm.{d}.layer_{l}.kernel"] = u((I + P, 4 * C), 0.08)
            p[f"lstm.{d}.layer_{l}.bias"] = u((4 * C,), 0.1)
            p[f"lstm.{d}.layer_{l}.projection"] = u((C, P), 0.1)
    p["softmax.weight"] = rng.normal(0.0, 0.3, size=(V, P))
    p["softmax.bias"] = u((V,), 0.1)
    f32 = {k: v.astype(np.float32) for k, v in p.items()}
    f64 = {k: v.astype(np.float64) for k, v in f32.items()}  # compute from the float32-rounded values
    return f32, f64


CLIP_HITS = {"cell": 0, "proj": 0}  # clipped elements seen by lstm_forward (reported, not used)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ----------------------------------------------------------------------------------------------------------------
# numpy forward / backward
# ----------------------------------------------------------------------------------------------------------------
def charcnn_forward(p, ids):
    """ids [N, 50] -> (cnn [N, D], highway [N, D], token embedding [N, P], cache)."""
    N = ids.shape[0]
    e = p["char_cnn.char_embed"][ids]  # [N, 50, E]
    pooled, banks = [], []
    for k, (w, n) in enumerate(FILTERS):
        npos = MAX_CHARS - w + 1
        X = np.concatenate([e[:, o:o + npos, :] for o in range(w)], axis=2)  # [N, npos, w*E], row o*E + e
        z = X @ p[f"char_cnn.conv_{k}.weight"] + p[f"char_cnn.conv_{k}.bias"]  # [N, npos, n]
        arg = z.argmax(axis=1)  # [N, n]
        mx = np.take_along_axis(z, arg[:, None, :], axis=1)[:, 0, :]
        pooled.append(np.maximum(mx, 0.0))
        banks.append((X, arg, mx))
    cnn = np.concatenate(pooled, axis=1)
    x = cnn
    hw_cache = []
    for h in range(N_HIGHWAY):
        ac = x @ p[f"char_cnn.highway_{h}.carry.weight"] + p[f"char_cnn.highway_{h}.carry.bias"]
        at = x @ p[f"char_cnn.highway_{h}.transform.weight"] + p[f"char_cnn.highway_{h}.transform.bias"]
        g = sigmoid(ac)
        t = np.maximum(at, 0.0)
        hw_cache.append((x, g, t, at))
        x = g * t + (1.0 - g) * x
    hw = x
    tok = hw @ p["char_cnn.projection.weight"] + p["char_cnn.projection.bias"]
    return cnn, hw, tok, (ids, banks, hw_cache, hw)


def charcnn_backward(p, cache, dtok, grads):
    ids, banks, hw_cache, hw = cache
    N = ids.shape[0]
    grads["char_cnn.projection.weight"] += hw.T @ dtok
    grads["char_cnn.projection.bias"] += dtok.sum(0)
    dx = dtok @ p["char_cnn.projection.weight"].T
    for h in reversed(range(N_HIGHWAY)):
        x, g, t, at = hw_cache[h]
        dg = dx * (t - x)
        dt = dx * g
        dxin = dx * (1.0 - g)
        dac = dg * g * (1.0 - g)
        dat = dt * (at > 0)
        grads[f"char_cnn.highway_{h}.carry.weight"] += x.T @ dac
        grads[f"char_cnn.highway_{h}.carry.bias"] += dac.sum(0)
        grads[f"char_cnn.highway_{h}.transform.weight"] += x.T @ dat
        grads[f"char_cnn.highway_{h}.transform.bias"] += dat.sum(0)
        dxin += dac @ p[f"char_cnn.highway_{h}.carry.weight"].T + dat @ p[f"char_cnn.highway_{h}.transform.weight"].T
        dx = dxin
    de = np.zeros((N, MAX_CHARS, E))
    off = 0
    rowsN = np.arange(N)[:, None]
    for k, (w, n) in enumerate(FILTERS):
        X, arg, mx = banks[k]
        dpool = dx[:, off:off + n] * (mx > 0)  # [N, n]
        off += n
        Xsel = np.take_along_axis(X, arg[:, :, None], axis=1)  # [N, n, w*E]: window at the argmax of each filter
        grads[f"char_cnn.conv_{k}.weight"] += np.einsum("nfi,nf->if", Xsel, dpool)
        grads[f"char_cnn.conv_{k}.bias"] += dpool.sum(0)
        W = p[f"char_cnn.conv_{k}.weight"]  # [w*E, n]
        dXsel = dpool[:, :, None] * W.T[None, :, :]  # [N, n, w*E]
        for o in range(w):
            np.add.at(de, (np.repeat(rowsN, n, axis=1), arg + o), dXsel[:, :, o * E:(o + 1) * E])
    np.add.at(grads["char_cnn.char_embed"], ids, de)


def lstm_forward(p, prefix, x):
    """x [B, T, I] from zero state -> (h [B, T, P], final c [B, C], final h [B, P], cache)."""
    K, b, Pj = p[prefix + ".kernel"], p[prefix + ".bias"], p[prefix + ".projection"]
    Bn, Tn, _ = x.shape
    c = np.zeros((Bn, C))
    h = np.zeros((Bn, P))
    outs, cache = [], []
    for t in range(Tn):
        xh = np.concatenate([x[:, t], h], axis=1)
        z = xh @ K + b
        i, j, f, o = sigmoid(z[:, :C]), np.tanh(z[:, C:2 * C]), sigmoid(z[:, 2 * C:3 * C] + 1.0), \
            sigmoid(z[:, 3 * C:])
        c_raw = f * c + i * j
        c_new = np.clip(c_raw, -CELL_CLIP, CELL_CLIP)
        tc = np.tanh(c_new)
        m = o * tc
        h_raw = m @ Pj
        h_new = np.clip(h_raw, -PROJ_CLIP, PROJ_CLIP)
        CLIP_HITS["cell"] += int((np.abs(c_raw) > CELL_CLIP).sum())
        CLIP_HITS["proj"] += int((np.abs(h_raw) > PROJ_CLIP).sum())
        cache.append((xh, c, i, j, f, o, c_raw, tc, m, h_raw))
        c, h = c_new, h_new
        outs.append(h)
    return np.stack(outs, axis=1), c, h, cache


def lstm_backward(p, prefix, cache, dout, grads):
    K, Pj = p[prefix + ".kernel"], p[prefix + ".projection"]
    Bn, Tn, _ = dout.shape
    I = K.shape[0] - P
    dx = np.zeros((Bn, Tn, I))
    dh_next = np.zeros((Bn, P))
    dc_next = np.zeros((Bn, C))
    for t in reversed(range(Tn)):
        xh, c_prev, i, j, f, o, c_raw, tc, m, h_raw = cache[t]
        dh = (dout[:, t] + dh_next) * (np.abs(h_raw) <= PROJ_CLIP)
        grads[prefix + ".projection"] += m.T @ dh
        dm = dh @ Pj.T
        do = dm * tc
        dc = (dc_next + dm * o * (1.0 - tc * tc)) * (np.abs(c_raw) <= CELL_CLIP)
        dz = np.concatenate([dc * j * i * (1.0 - i),
                             dc * i * (1.0 - j * j),
                             dc * c_prev * f * (1.0 - f),
                             do * o * (1.0 - o)], axis=1)
        dc_next = dc * f
        grads[prefix + ".kernel"] += xh.T @ dz
        grads[prefix + ".bias"] += dz.sum(0)
        dxh = dz @ K.T
        dx[:, t] = dxh[:, :I]
        dh_next = dxh[:, I:]
    return dx


def direction_forward(p, direction, chars):
    Bn, Tn, _ = chars.shape
    cnn, hw, tok, ccache = charcnn_forward(p, chars.reshape(-1, MAX_CHARS))
    x = tok.reshape(Bn, Tn, P)
    acts = {"cnn": cnn.reshape(Bn, Tn, D), "highway": hw.reshape(Bn, Tn, D), "token_embedding": x}
    lcaches = []
    for l in range(L):
        h, cf, hf, lc = lstm_forward(p, f"lstm.{direction}.layer_{l}", x)
        acts[f"layer_{l}.final_c"], acts[f"layer_{l}.final_h"] = cf, hf
        out = h + x if l >= 1 else h  # skip connection on layers >= 1
        acts[f"layer_{l}.output"] = out
        lcaches.append(lc)
        x = out
    return acts, (ccache, lcaches)


def direction_backward(p, direction, caches, dtop, grads):
    ccache, lcaches = caches
    dout = dtop
    for l in reversed(range(L)):
        dx = lstm_backward(p, f"lstm.{direction}.layer_{l}", lcaches[l], dout, grads)
        if l >= 1:
            dx = dx + dout  # skip connection
        dout = dx
    charcnn_backward(p, ccache, dout.reshape(-1, P), grads)


def softmax_ce(p, top, targets, scale, grads):
    """Mean full-softmax cross entropy; accumulates scale * d(mean)/d(softmax.*) and returns (loss, dtop·scale)."""
    h = top.reshape(-1, P)
    y = targets.reshape(-1)
    N = h.shape[0]
    logits = h @ p["softmax.weight"].T + p["softmax.bias"]
    mx = logits.max(1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(logits - mx).sum(1))
    loss = float(np.mean(lse - logits[np.arange(N), y]))
    prob = np.exp(logits - lse[:, None])
    dlog = prob
    dlog[np.arange(N), y] -= 1.0
    dlog *= scale / N
    grads["softmax.weight"] += dlog.T @ h
    grads["softmax.bias"] += dlog.sum(0)
    return loss, (dlog @ p["softmax.weight"]).reshape(top.shape)


def bilm_loss_and_grads(p, inputs):
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    acts, losses = {}, {}
    for d in ("forward", "backward"):
        chars, targets = inputs[d]
        a, caches = direction_forward(p, d, chars)
        acts[d] = a
        losses[d], dtop = softmax_ce(p, a[f"layer_{L - 1}.output"], targets, 0.5, grads)
        direction_backward(p, d, caches, dtop, grads)
    losses["total"] = 0.5 * (losses["forward"] + losses["backward"])
    return losses, grads, acts


def bilm_loss_only(p, inputs):
    total = 0.0
    for d in ("forward", "backward"):
        chars, targets = inputs[d]
        a, _ = direction_forward(p, d, chars)
        h = a[f"layer_{L - 1}.output"].reshape(-1, P)
        logits = h @ p["softmax.weight"].T + p["softmax.bias"]
        mx = logits.max(1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(logits - mx).sum(1))
        total += 0.5 * np.mean(lse - logits[np.arange(h.shape[0]), targets.reshape(-1)])
    return total


# ----------------------------------------------------------------------------------------------------------------
# Sampled softmax (forward direction)
# ----------------------------------------------------------------------------------------------------------------
def log_expected_count(ids, num_tries):
    k = np.asarray(ids, dtype=np.float64)
    prob = (np.log(k + 2.0) - np.log(k + 1.0)) / np.log(V + 1.0)
    return np.log(1.0 - (1.0 - prob) ** num_tries)


def sampled_softmax(p, top, targets, candidates, num_tries):
    h = top.reshape(-1, P)
    y = targets.reshape(-1)
    N = h.shape[0]
    cand = np.asarray(candidates)
    W, b = p["softmax.weight"], p["softmax.bias"]
    true_logit = (h * W[y]).sum(1) + b[y] - log_expected_count(y, num_tries)  # [N]
    samp_logit = h @ W[cand].T + b[cand] - log_expected_count(cand, num_tries)[None, :]  # [N, S]
    hit = cand[None, :] == y[:, None]
    samp_logit = np.where(hit, -np.inf, samp_logit)
    logits = np.concatenate([true_logit[:, None], samp_logit], axis=1)
    mx = logits.max(1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(logits - mx).sum(1))
    loss = float(np.mean(lse - logits[:, 0]))
    prob = np.exp(logits - lse[:, None])  # exp(-inf) = 0 for removed hits
    dtrue = (prob[:, 0] - 1.0) / N
    dsamp = prob[:, 1:] / N
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    np.add.at(dW, y, dtrue[:, None] * h)
    np.add.at(db, y, dtrue)
    dW[cand] += dsamp.T @ h  # candidates are unique
    db[cand] += dsamp.sum(0)
    dh = dtrue[:, None] * W[y] + dsamp @ W[cand]
    return loss, dW, db, dh.reshape(top.shape), int(hit.sum())


# ----------------------------------------------------------------------------------------------------------------
# Stateless ELMo embeddings
# ----------------------------------------------------------------------------------------------------------------
def elmo_embed(p, sentence):
    n = len(sentence)
    fwd_tokens = ["<S>"] + list(sentence) + ["</S>"]
    bwd_tokens = list(reversed(fwd_tokens))
    fa, _ = direction_forward(p, "forward", np.array([[char_ids(w) for w in fwd_tokens]], dtype=np.int64))
    ba, _ = direction_forward(p, "backward", np.array([[char_ids(w) for w in bwd_tokens]], dtype=np.int64))
    rev = lambda a: a[0, ::-1]  # backward position j <-> forward position n + 1 - j
    layers = [np.concatenate([fa["token_embedding"][0], rev(ba["token_embedding"])], axis=1)]
    for l in range(L):
        layers.append(np.concatenate([fa[f"layer_{l}.output"][0], rev(ba[f"layer_{l}.output"])], axis=1))
    return np.stack(layers)[:, 1:n + 1, :]  # drop <S> / </S>


# ----------------------------------------------------------------------------------------------------------------
# Self-checks: independent torch float64 autograd implementation, central differences
# ----------------------------------------------------------------------------------------------------------------
def torch_check(p, inputs, acts, losses, grads, sampled):
    import torch
    import torch.nn.functional as F
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}

    def charcnn(ids):
        e = F.embedding(ids, tp["char_cnn.char_embed"])  # [N, 50, E]
        ein = e.transpose(1, 2)  # [N, E, 50]
        outs = []
        for k, (w, n) in enumerate(FILTERS):
            Wk = tp[f"char_cnn.conv_{k}.weight"].reshape(w, E, n).permute(2, 1, 0)  # [n, E, w]: W[o*E+e, f]
            z = F.conv1d(ein, Wk, tp[f"char_cnn.conv_{k}.bias"])  # [N, n, 50-w+1]
            outs.append(torch.relu(z.max(dim=2).values))
        cnn = torch.cat(outs, 1)
        x = cnn
        for h in range(N_HIGHWAY):
            g = torch.sigmoid(F.linear(x, tp[f"char_cnn.highway_{h}.carry.weight"].T,
                                       tp[f"char_cnn.highway_{h}.carry.bias"]))
            t = torch.relu(F.linear(x, tp[f"char_cnn.highway_{h}.transform.weight"].T,
                                    tp[f"char_cnn.highway_{h}.transform.bias"]))
            x = g * t + (1 - g) * x
        return cnn, x, F.linear(x, tp["char_cnn.projection.weight"].T, tp["char_cnn.projection.bias"])

    def lstm(prefix, x):
        K, b, Pj = tp[prefix + ".kernel"], tp[prefix + ".bias"], tp[prefix + ".projection"]
        I = x.shape[2]
        c = torch.zeros(x.shape[0], C, dtype=torch.float64)
        h = torch.zeros(x.shape[0], P, dtype=torch.float64)
        outs = []
        for t in range(x.shape[1]):
            z = x[:, t] @ K[:I] + h @ K[I:] + b
            i, j, f, o = z.chunk(4, dim=1)
            c = torch.clamp(torch.sigmoid(f + 1) * c + torch.sigmoid(i) * torch.tanh(j), -CELL_CLIP, CELL_CLIP)
            h = torch.clamp((torch.sigmoid(o) * torch.tanh(c)) @ Pj, -PROJ_CLIP, PROJ_CLIP)
            outs.append(h)
        return torch.stack(outs, 1), c, h

    diffs = {}
    total = 0
    tacts = {}
    for d in ("forward", "backward"):
        chars, targets = inputs[d]
        cnn, hw, tok = charcnn(torch.tensor(chars.reshape(-1, MAX_CHARS)))
        x = tok.reshape(B, T, P)
        a = {"cnn": cnn.reshape(B, T, D), "highway": hw.reshape(B, T, D), "token_embedding": x}
        for l in range(L):
            h, cf, hf = lstm(f"lstm.{d}.layer_{l}", x)
            a[f"layer_{l}.final_c"], a[f"layer_{l}.final_h"] = cf, hf
            x = h + x if l >= 1 else h
            a[f"layer_{l}.output"] = x
        tacts[d] = a
        logits = F.linear(x.reshape(-1, P), tp["softmax.weight"], tp["softmax.bias"])
        ld = F.cross_entropy(logits, torch.tensor(targets.reshape(-1)))
        diffs[f"loss.{d}"] = abs(ld.item() - losses[d])
        total = total + 0.5 * ld
    total.backward()
    diffs["loss"] = abs(total.item() - losses["total"])
    act_diff = max(float(np.abs(tacts[d][k].detach().numpy() - acts[d][k]).max())
                   for d in acts for k in acts[d])
    grad_rel = max(float(np.abs(tp[k].grad.numpy() - grads[k]).max() / (np.abs(grads[k]).max() + 1e-300))
                   for k in p if np.abs(grads[k]).max() > 0)
    grad_abs = max(float(np.abs(tp[k].grad.numpy() - grads[k]).max()) for k in p)

    # sampled softmax
    loss_s, dW_s, db_s, dh_s, _ = sampled
    htop = torch.tensor(acts["forward"][f"layer_{L - 1}.output"].reshape(-1, P), requires_grad=True)
    W = torch.tensor(p["softmax.weight"], requires_grad=True)
    bb = torch.tensor(p["softmax.bias"], requires_grad=True)
    y = torch.tensor(inputs["forward"][1].reshape(-1))
    cand = torch.tensor(SAMPLED_CANDIDATES)
    lq = lambda ids: torch.log(-torch.expm1(NUM_TRIES * torch.log1p(
        -(torch.log(ids.double() + 2) - torch.log(ids.double() + 1)) / np.log(V + 1.0))))
    tl = (htop * W[y]).sum(1) + bb[y] - lq(y)
    sl = (htop @ W[cand].T + bb[cand] - lq(cand)).masked_fill(cand[None, :] == y[:, None], float("-inf"))
    ls = -torch.log_softmax(torch.cat([tl[:, None], sl], 1), dim=1)[:, 0].mean()
    ls.backward()
    s_diff = max(abs(ls.item() - loss_s), float(np.abs(W.grad.numpy() - dW_s).max()),
                 float(np.abs(bb.grad.numpy() - db_s).max()),
                 float(np.abs(htop.grad.numpy().reshape(dh_s.shape) - dh_s).max()))
    return {"loss": max(diffs.values()), "activations": act_diff, "grad_max_abs": grad_abs,
            "grad_max_rel_to_tensor_max": grad_rel, "sampled": s_diff, "torch": torch.__version__}


def finite_difference_check(p, inputs, grads, per_param=3, eps=1e-5):
    """Central differences of the loss on the largest-|grad| element and random nonzero elements of every
    parameter. Returns (max abs error, max relative error among elements with |grad| >= 1e-4, where)."""
    rng = np.random.default_rng(7)
    worst_abs, worst_rel, where = 0.0, 0.0, None
    for name, v in p.items():
        g = grads[name]
        flat = np.flatnonzero(g)
        if flat.size == 0:
            continue
        picks = [int(np.abs(g).argmax())] + [int(x) for x in rng.choice(flat, size=per_param - 1, replace=False)]
        for idx in picks:
            q = {k: (a.copy() if k == name else a) for k, a in p.items()}
            q[name].flat[idx] = v.flat[idx] + eps
            lp = bilm_loss_only(q, inputs)
            q[name].flat[idx] = v.flat[idx] - eps
            lm = bilm_loss_only(q, inputs)
            num = (lp - lm) / (2 * eps)
            err = abs(num - g.flat[idx])
            worst_abs = max(worst_abs, err)
            if abs(g.flat[idx]) >= 1e-4 and err / abs(g.flat[idx]) > worst_rel:
                worst_rel, where = err / abs(g.flat[idx]), f"{name}[{idx}]"
    return worst_abs, worst_rel, where


def save_deterministic(tensors, path, metadata):
    """safetensors.numpy.save_file, then the header re-serialised with the metadata keys sorted: the Rust writer
    emits `__metadata__` in hash-map order, which changes between runs. Tensor entries, offsets and data are
    kept as written; the file is read back with the reference reader and compared."""
    from safetensors import safe_open
    save_file(tensors, path, metadata=metadata)
    with open(path, "rb") as fh:
        raw = fh.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    header["__metadata__"] = {k: header["__metadata__"][k] for k in sorted(header["__metadata__"])}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    with safe_open(path, framework="numpy") as fh:
        assert fh.metadata() == metadata
        assert sorted(fh.keys()) == sorted(tensors)
        for k in tensors:
            back = fh.get_tensor(k)
            assert back.dtype == tensors[k].dtype and np.array_equal(back, tensors[k]), k


# ----------------------------------------------------------------------------------------------------------------
def main():
    p32, p = make_params()
    fc, ft, ftok = streams(ROWS, "forward")
    bc, bt, btok = streams(ROWS, "backward")
    inputs = {"forward": (fc, ft), "backward": (bc, bt)}

    losses, grads, acts = bilm_loss_and_grads(p, inputs)
    top_f = acts["forward"][f"layer_{L - 1}.output"]
    sampled = sampled_softmax(p, top_f, ft, SAMPLED_CANDIDATES, NUM_TRIES)
    embeds = [elmo_embed(p, s) for s in EMBED_SENTENCES]

    clip_hits = dict(CLIP_HITS)
    assert all(e.shape == (L + 1, len(s), 2 * P) for e, s in zip(embeds, EMBED_SENTENCES))

    # ---------------- self-checks
    fd_abs, fd_rel, fd_where = finite_difference_check(p, inputs, grads)
    print(f"central differences (eps 1e-5, 3 elements per parameter, loss in float64): max abs error {fd_abs:.3e}, "
          f"max relative error (|grad| >= 1e-4) {fd_rel:.3e} at {fd_where}")
    try:
        tc = torch_check(p, inputs, acts, losses, grads, sampled)
        print(f"torch {tc['torch']} float64 autograd vs numpy: loss {tc['loss']:.3e}, activations "
              f"{tc['activations']:.3e}, grads max abs {tc['grad_max_abs']:.3e} "
              f"(max rel to tensor max {tc['grad_max_rel_to_tensor_max']:.3e}), sampled softmax {tc['sampled']:.3e}")
        assert max(tc["loss"], tc["activations"], tc["grad_max_rel_to_tensor_max"], tc["sampled"]) < 1e-10
    except ImportError:
        print("torch not importable: skipped the autograd cross-check")
    assert fd_abs < 1e-8 and fd_rel < 1e-5, (fd_abs, fd_rel)

    # ---------------- weights file
    weights_meta = {"format": "swift-elmo-bilm-1", "options": json.dumps(OPTIONS), "vocab": "\n".join(VOCAB)}
    save_deterministic(p32, WEIGHTS_OUT, weights_meta)

    # ---------------- golden file
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)
    g = {}
    for d, (chars, targets) in inputs.items():
        g[f"input.{d}.chars"] = np.ascontiguousarray(chars, dtype=np.int64)
        g[f"input.{d}.targets"] = np.ascontiguousarray(targets, dtype=np.int64)
        a = acts[d]
        g[f"cnn.{d}"] = f32(a["cnn"])
        g[f"highway.{d}"] = f32(a["highway"])
        g[f"token_embedding.{d}"] = f32(a["token_embedding"])
        for l in range(L):
            g[f"lstm.{d}.layer_{l}.output"] = f32(a[f"layer_{l}.output"])
            g[f"lstm.{d}.layer_{l}.final_c"] = f32(a[f"layer_{l}.final_c"])
            g[f"lstm.{d}.layer_{l}.final_h"] = f32(a[f"layer_{l}.final_h"])
    g["loss.forward"] = np.array([losses["forward"]], dtype=np.float64)
    g["loss.backward"] = np.array([losses["backward"]], dtype=np.float64)
    g["loss"] = np.array([losses["total"]], dtype=np.float64)
    for k in p:
        g[f"grad.{k}"] = f32(grads[k])
    loss_s, dW_s, db_s, dh_s, n_hits = sampled
    g["sampled.candidates"] = np.array(SAMPLED_CANDIDATES, dtype=np.int64)
    g["sampled.num_tries"] = np.array([NUM_TRIES], dtype=np.int64)
    g["sampled.loss.forward"] = np.array([loss_s], dtype=np.float64)
    g["sampled.grad.softmax.weight"] = f32(dW_s)
    g["sampled.grad.softmax.bias"] = f32(db_s)
    g["sampled.grad.top"] = f32(dh_s)
    for i, e in enumerate(embeds):
        g[f"embed.{i}"] = f32(e)
    golden_meta = {
        "format": "swift-elmo-bilm-golden-1",
        "generator": "Tests/Golden/generate/bilm_reference.py",
        "rows": json.dumps(ROWS, ensure_ascii=False),
        "embed_sentences": json.dumps(EMBED_SENTENCES, ensure_ascii=False),
    }
    save_deterministic(g, GOLDEN_OUT, golden_meta)

    # ---------------- report
    print(f"clipped elements in the batch + embedding runs: cell {clip_hits['cell']}, proj {clip_hits['proj']}")
    print(f"V={V} D={D} P={P} C={C}; forward tokens {ftok}; backward tokens {btok}")
    print(f"loss.forward {losses['forward']:.12f}  loss.backward {losses['backward']:.12f}  loss {losses['total']:.12f}")
    print(f"sampled.loss.forward {loss_s:.12f} (accidental hits removed: {n_hits})")
    for d in acts:
        a = acts[d]
        print(f"  {d}: |cnn| max {np.abs(a['cnn']).max():.3f}, cnn>0 frac {(a['cnn'] > 0).mean():.2f}, "
              f"|tok| max {np.abs(a['token_embedding']).max():.3f}, "
              + ", ".join(f"|c{l}| max {np.abs(a[f'layer_{l}.final_c']).max():.3f}" for l in range(L)) + ", "
              + ", ".join(f"|out{l}| max {np.abs(a[f'layer_{l}.output']).max():.3f}" for l in range(L)))
    for path, tensors in ((WEIGHTS_OUT, p32), (GOLDEN_OUT, g)):
        print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
