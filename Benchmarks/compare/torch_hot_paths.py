"""PyTorch (CPU) versions of the `bench` workloads, same shapes and thread count, same report format.

Usage: python3 Benchmarks/compare/torch_hot_paths.py lstm|bilstm|softmax|charcnn|pretrain|embed [--threads N] [flags as bench]
`--precision bf16` times every workload under CPU autocast to bfloat16 (torch.autocast("cpu", torch.bfloat16)).
Prints forward and forward+backward tokens/s and a last JSON line, like `bench … --json`.
(needs: pip install torch)
"""
import argparse
import contextlib
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


PRECISION = "fp32"   # set by --precision


def autocast():
    """bf16: PyTorch's mixed precision on the CPU, its products in bfloat16 where the op allows it."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if PRECISION == "bf16" else contextlib.nullcontext()


def median_seconds(repeats, body):
    def run():
        with autocast():
            body()
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def backend():
    """PyTorch's BLAS and the widest CPU path its kernels dispatch to (e.g. "mkl", "AVX512")."""
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for line in config.splitlines() for part in line.replace(",", " ").split()
                 if part.startswith("BLAS_INFO=")), "unknown")
    capability = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "unknown"
    return blas, capability


def report(name, shape, tokens, forward, train):
    blas, capability = backend()
    print(f"{name} (torch {torch.__version__}, {torch.get_num_threads()} thread(s), {PRECISION}, BLAS {blas}, CPU path {capability}): "
          + ", ".join(f"{k} {v}" for k, v in shape.items()))
    print(f"  forward           {forward * 1e3:8.2f} ms  {tokens / forward:9.0f} tokens/s")
    print(f"  forward+backward  {train * 1e3:8.2f} ms  {tokens / train:9.0f} tokens/s")
    print(json.dumps({"benchmark": name, **shape, "precision": PRECISION, "threads": torch.get_num_threads(), "implementation": "torch",
                      "torch": torch.__version__, "blas": blas, "cpu_capability": capability,
                      "forward_tokens_per_s": round(tokens / forward), "train_tokens_per_s": round(tokens / train)}))


def lstm(args):
    # nn.LSTM with proj_size is the LSTM-with-projection cell (no clipping in PyTorch).
    layer = nn.LSTM(args.input_dim, args.hidden, proj_size=args.proj)
    x = torch.randn(args.unroll_steps, args.batch_size, args.input_dim, requires_grad=True)
    d_out = torch.randn(args.unroll_steps, args.batch_size, args.proj) * 0.01

    def forward():
        with torch.no_grad():
            layer(x)

    def train():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        out, _ = layer(x)
        out.backward(d_out)

    shape = {"batch_size": args.batch_size, "unroll_steps": args.unroll_steps, "input_dim": args.input_dim,
             "hidden": args.hidden, "proj": args.proj}
    report("lstm", shape, args.batch_size * args.unroll_steps, median_seconds(args.repeats, forward),
           median_seconds(args.repeats, train))


def bilstm(args):
    # The ELMo stack: a forward and a backward 2-layer LSTM (the second on the reversed input), with the
    # skip connection on layer 2 as in bilm-tf.
    stacks = [[nn.LSTM(args.proj, args.hidden, proj_size=args.proj) for _ in range(2)] for _ in range(2)]
    x = torch.randn(args.unroll_steps, args.batch_size, args.proj, requires_grad=True)
    d_top = torch.randn(args.unroll_steps, args.batch_size, args.proj) * 0.01

    def run():
        outs = []
        for direction, (l0, l1) in enumerate(stacks):
            inp = x if direction == 0 else torch.flip(x, [0])
            h0, _ = l0(inp)
            h1, _ = l1(h0)
            outs.append(h1 + h0)
        return outs

    def forward():
        with torch.no_grad():
            run()

    def train():
        for s in stacks:
            for l in s:
                l.zero_grad(set_to_none=True)
        x.grad = None
        outs = run()
        torch.autograd.backward(outs, [d_top, d_top])

    shape = {"batch_size": args.batch_size, "unroll_steps": args.unroll_steps, "input_dim": args.proj,
             "hidden": args.hidden, "proj": args.proj}
    report("bilstm", shape, args.batch_size * args.unroll_steps, median_seconds(args.repeats, forward),
           median_seconds(args.repeats, train))


def softmax(args):
    classes = args.sampled or args.vocab
    weight = nn.Parameter(torch.randn(args.vocab, args.dim) * args.dim ** -0.5)
    bias = nn.Parameter(torch.zeros(args.vocab))
    h = torch.randn(args.tokens, args.dim, requires_grad=True)
    targets = torch.randint(0, classes, (args.tokens,))
    candidates = torch.randperm(args.vocab)[:classes] if args.sampled else None

    def loss():
        if candidates is None:
            return F.cross_entropy(F.linear(h, weight, bias), targets)
        return F.cross_entropy(F.linear(h, weight[candidates], bias[candidates]), targets)

    def forward():
        with torch.no_grad():
            loss()

    def train():
        weight.grad = None
        bias.grad = None
        h.grad = None
        loss().backward()

    shape = {"tokens": args.tokens, "dim": args.dim, "vocab": args.vocab, "sampled": args.sampled or "full"}
    report("softmax", shape, args.tokens, median_seconds(args.repeats, forward), median_seconds(args.repeats, train))


PRESETS = {
    "tiny": dict(filters=[[1, 32], [2, 32], [3, 64], [4, 128]], highway=1, proj=64),
    "small": dict(filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]], highway=1, proj=128),
    "paddle": dict(filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]], highway=2, proj=512),
    # configs/imdb-proj256.json: the shipped models/elmo-imdb
    "imdb-proj256": dict(filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 256]], highway=1, proj=256),
}
CELLS = {"tiny": 512, "small": 1024, "paddle": 512, "imdb-proj256": 512}


class CharCNN(nn.Module):
    def __init__(self, filters, highway, proj):
        super().__init__()
        self.embed = nn.Embedding(262, 16, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(16, n, w) for w, n in filters])
        d = sum(n for _, n in filters)
        self.highways = nn.ModuleList([nn.Linear(d, 2 * d) for _ in range(highway)])
        self.proj = nn.Linear(d, proj)

    def forward(self, chars):
        e = self.embed(chars).transpose(1, 2)                       # [N, 16, 50]
        x = torch.cat([torch.relu(conv(e).max(dim=2).values) for conv in self.convs], dim=1)
        for layer in self.highways:
            t, g = layer(x).chunk(2, dim=1)
            g = torch.sigmoid(g)
            x = g * torch.relu(t) + (1 - g) * x
        return self.proj(x)


def charcnn(args):
    model = CharCNN(**PRESETS[args.config])
    chars = torch.randint(1, 262, (args.tokens, 50))
    d_out = torch.randn(args.tokens, PRESETS[args.config]["proj"]) * 0.01

    def forward():
        with torch.no_grad():
            model(chars)

    def train():
        model.zero_grad(set_to_none=True)
        model(chars).backward(d_out)

    report("charcnn", {"tokens": args.tokens, "config": args.config}, args.tokens,
           median_seconds(args.repeats, forward), median_seconds(args.repeats, train))


class BiLM(nn.Module):
    """The ELMo language model of a preset: char-CNN, a forward and a backward 2-layer LSTM with projection and the
    skip connection, dropout 0.1, one softmax shared by both directions."""

    def __init__(self, config, vocab):
        super().__init__()
        preset = PRESETS[config]
        proj, cell = preset["proj"], CELLS[config]
        self.cnn = CharCNN(**preset)
        projection = proj if proj < cell else 0
        self.stacks = nn.ModuleList([nn.ModuleList([nn.LSTM(proj, cell, proj_size=projection) for _ in range(2)])
                                     for _ in range(2)])
        self.softmax = nn.Linear(proj, vocab)
        self.dropout = nn.Dropout(0.1)

    def directions(self, chars, states=None):
        """chars [2, T, B, 50] (forward inputs, backward inputs) -> per direction the top layer [T, B, P]."""
        T, B = chars.shape[1], chars.shape[2]
        tokens = self.cnn(chars.reshape(-1, 50)).reshape(2, T, B, -1)
        tops, finals = [], []
        for d, layers in enumerate(self.stacks):
            x, layer_finals = tokens[d], []
            for l, lstm in enumerate(layers):
                inp = self.dropout(x)
                out, final = lstm(inp, None if states is None else states[d][l])
                layer_finals.append(tuple(s.detach() for s in final))
                x = out + inp if l >= 1 else out
            tops.append(self.dropout(x))
            finals.append(layer_finals)
        return tops, finals


def pretrain(args):
    vocab = 33279                       # the WikiText-2 vocabulary, as `bench pretrain` uses
    model = BiLM(args.config, vocab)
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.2, initial_accumulator_value=1.0)
    generator = torch.Generator().manual_seed(1)
    chars = torch.randint(1, 262, (2, args.unroll_steps, args.batch_size, 50), generator=generator)
    targets = torch.randint(0, vocab, (2, args.unroll_steps * args.batch_size), generator=generator)
    states = [None]

    # Sampled softmax as bilm-tf's (TensorFlow's sampled_softmax_loss): the true logit and those of `sampled` shared
    # log-uniform candidates, each less log Q, accidental hits removed. Drawn once, outside the timing.
    if args.sampled:
        ranks = torch.arange(vocab, dtype=torch.float64)
        log_q = torch.log((torch.log(ranks + 2) - torch.log(ranks + 1)) / torch.log(torch.tensor(vocab + 1.0))).float()
        candidates = torch.multinomial(log_q.exp(), args.sampled, replacement=False, generator=generator)

    def directional_loss(top, target):
        h = top.reshape(-1, top.shape[-1])
        if not args.sampled:
            return F.cross_entropy(model.softmax(h), target)
        weight, bias = model.softmax.weight, model.softmax.bias
        true_logit = (h * weight[target]).sum(1) + bias[target] - log_q[target]
        sampled_logits = F.linear(h, weight[candidates], bias[candidates]) - log_q[candidates]
        sampled_logits = sampled_logits.masked_fill(candidates[None, :] == target[:, None], float("-inf"))
        logits = torch.cat([true_logit[:, None], sampled_logits], dim=1)
        return F.cross_entropy(logits, torch.zeros_like(target))

    def loss():
        tops, finals = model.directions(chars, states[0])
        states[0] = finals
        return sum(directional_loss(top, targets[d]) for d, top in enumerate(tops)) / 2

    def forward():
        loss()                          # with autograd recording, as a training forward is

    def train():
        optimizer.zero_grad(set_to_none=True)
        (loss() * args.unroll_steps).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()

    shape = {"config": args.config, "batch_size": args.batch_size, "unroll_steps": args.unroll_steps, "vocab": vocab,
             "sampled": args.sampled or "full"}
    report("pretrain", shape, args.batch_size * args.unroll_steps, median_seconds(args.repeats, forward),
           median_seconds(args.repeats, train))


def char_ids(token):
    special = {"<S>": [256], "</S>": [257]}
    body = special.get(token) or list(token.encode("utf-8")[:48])
    ids = [258] + body + [259]
    return [i + 1 for i in ids + [260] * (50 - len(ids))]


def embed(args):
    """`elmo embed` in PyTorch: stateless, batches of sentences padded at the end, the backward LM on each
    sentence reversed within its length, all layers kept; no gradients.

    By default the same algorithm as `elmo embed`: sentences batched by length, and the char-CNN run once per
    distinct character row of a batch, its outputs gathered into both directions' slots. `--naive`: AllenNLP's
    way, batches in input order and the char-CNN over every slot of both directions, padding included."""
    model = BiLM(args.config, 33279).eval()
    sentences = []
    with open(args.input, encoding="utf-8") as f:
        for line in f:
            words = line.split()[:256]
            if words:
                sentences.append(["<S>"] + words + ["</S>"])
            if len(sentences) == args.sentences:
                break
    ordered = sentences if args.naive else sorted(sentences, key=len)
    batches = []
    for start in range(0, len(ordered), args.batch_size):
        group = ordered[start:start + args.batch_size]
        T = max(len(s) for s in group)
        chars = torch.zeros(2, T, len(group), 50, dtype=torch.long)
        for b, s in enumerate(group):
            chars[0, :len(s), b] = torch.tensor([char_ids(w) for w in s])
            chars[1, :len(s), b] = torch.tensor([char_ids(w) for w in reversed(s)])
        batches.append(chars)
    tokens = sum(len(s) for s in sentences)

    def distinct_directions(chars):
        # The distinct rows (torch.unique over dim 0, inside the timed region as ours is), the char-CNN once
        # each, gathered back; then the two LSTM stacks as `directions` runs them.
        distinct, slot = torch.unique(chars.reshape(-1, 50), dim=0, return_inverse=True)
        tokens = model.cnn(distinct)[slot].reshape(*chars.shape[:3], -1)
        for d, layers in enumerate(model.stacks):
            x = tokens[d]
            for l, lstm in enumerate(layers):
                out, _ = lstm(x)
                x = out + x if l >= 1 else out

    def encode():
        with torch.no_grad():
            for chars in batches:
                if args.naive:
                    model.directions(chars)
                else:
                    distinct_directions(chars)

    seconds = median_seconds(args.repeats, encode)
    print(f"embed (torch {torch.__version__}, {torch.get_num_threads()} thread(s), {PRECISION}): config {args.config}, "
          f"{'naive, ' if args.naive else ''}{len(sentences)} sentences, {tokens} tokens: {seconds * 1e3:.1f} ms, {tokens / seconds:.0f} tokens/s")
    blas, capability = backend()
    print(json.dumps({"benchmark": "embed", "config": args.config, "precision": PRECISION, "sentences": len(sentences), "batch_size": args.batch_size,
                      "threads": torch.get_num_threads(), "implementation": "torch", "torch": torch.__version__, "blas": blas,
                      "cpu_capability": capability,
                      "forward_tokens_per_s": round(tokens / seconds), "sentences_per_s": round(len(sentences) / seconds, 1)}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", choices=["lstm", "bilstm", "softmax", "charcnn", "pretrain", "embed"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--unroll-steps", type=int, default=20)
    parser.add_argument("--input-dim", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--proj", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=640)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--sampled", type=int, default=None)
    parser.add_argument("--config", default="small")
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--input", default="data/1b-word-sample/1b_benchmark.test.tokens")
    parser.add_argument("--naive", action="store_true", help="embed: AllenNLP's algorithm (see embed)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: under CPU autocast")
    args = parser.parse_args()
    global PRECISION
    PRECISION = args.precision
    if PRECISION == "bf16" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        raise SystemExit("--precision bf16: this CPU has no bfloat16 path in PyTorch (oneDNN)")
    if args.threads:
        torch.set_num_threads(args.threads)
    globals()[args.benchmark](args)


if __name__ == "__main__":
    main()
