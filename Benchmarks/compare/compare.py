"""Runs `bench` (ours) and the PyTorch scripts alternately on the same workloads and threads, and prints ratios.

Usage: python3 Benchmarks/compare/compare.py [--threads 1 2] [--rounds 2] [--only lstm softmax] [--repeats N]
Build first: swift build -c release --product bench. Nothing else should run meanwhile.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.environ.get("BENCH", os.path.join(ROOT, ".build", "release", "bench"))   # BENCH=path/to/bench: another build

# name: (flags for both sides, flags for ours only, flags for the PyTorch side only)
WORKLOADS = {
    "lstm": ([], [], []),
    "bilstm": ([], [], []),
    "softmax": ([], [], []),
    "softmax-sampled": (["--sampled", "8192"], [], []),
    "charcnn": (["--config", "small"], [], []),
    "pretrain": (["--config", "small"], [], []),
    # The shipped models/elmo-imdb as it was trained: batch 64, 4,096 sampled candidates.
    "pretrain-shipped": (["--batch-size", "64", "--sampled", "4096"], ["--config", "configs/imdb-proj256.json"],
                         ["--config", "imdb-proj256"]),
    # PyTorch with the algorithm `elmo embed` uses (batches by length, char-CNN once per distinct token) ...
    "embed": (["--config", "small", "--batch-size", "64"], [], []),
    # ... and as AllenNLP does it (input order, char-CNN over every slot), for reference.
    "embed-naive": (["--config", "small", "--batch-size", "64"], [], ["--naive"]),
    # bfloat16: ours `--precision bf16`, PyTorch under CPU autocast. Only where the CPU has AVX512-BF16 or AMX.
    "lstm-bf16": (["--precision", "bf16"], [], []),
    "embed-bf16": (["--config", "small", "--batch-size", "64", "--precision", "bf16"], [], []),
}
BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_flags():
    info = open("/proc/cpuinfo").read()
    return set(next((line.split(":", 1)[1] for line in info.splitlines() if line.startswith("flags")), "").split())


def machine():
    """The CPU model and the vector extensions that decide both sides' kernels."""
    info = open("/proc/cpuinfo").read()
    field = lambda key: next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith(key)), "?")
    flags = cpu_flags()
    wanted = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16"]
    present = [f for f in wanted if f in flags]
    return f"{field('model name')} (family {field('cpu family')} model {field('model')}), {os.cpu_count()} cores; " \
           f"flags: {' '.join(present) or 'none of ' + ' '.join(wanted)}; no {' '.join(f for f in wanted if f not in flags) or '-'}"


def last_json(output):
    return json.loads(output.strip().splitlines()[-1])


def run(command):
    return last_json(subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    bf16 = bool(cpu_flags() & BF16_FLAGS)
    parser.add_argument("--only", nargs="+", default=[name for name in WORKLOADS
                                                      if name != "embed-naive" and (bf16 or not name.endswith("-bf16"))])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repetitions on both sides (default: each tool's own; embed is slow, try 1)")
    args = parser.parse_args()
    repeats = [] if args.repeats is None else ["--repeats", str(args.repeats)]
    print(f"CPU: {machine()}")
    described = False
    print(f"{'workload':18} {'threads':>7} {'ours fwd+bwd':>14} {'torch fwd+bwd':>14} {'ratio':>6} {'ours fwd':>10} {'torch fwd':>10} {'ratio':>6}")
    for name in args.only:
        extra, ours_only, torch_only = WORKLOADS[name]
        kind = name.split("-")[0]
        for threads in args.threads:
            ours, theirs = [], []
            for _ in range(args.rounds):   # alternate so that drifting machine speed hits both
                ours.append(run([BENCH, kind, "--threads", str(threads), "--json"] + extra + ours_only + repeats))
                env_cmd = [sys.executable, os.path.join(HERE, "torch_hot_paths.py"), kind, "--threads", str(threads)] + extra + torch_only + repeats
                theirs.append(run(env_cmd))
            if not described:
                o, t = ours[0], theirs[0]
                print(f"ours: OpenBLAS kernel {o.get('kernel', '?')}, elementwise {o.get('elementwise', '?')}; "
                      f"torch {t.get('torch', '?')}: BLAS {t.get('blas', '?')}, CPU path {t.get('cpu_capability', '?')}", flush=True)
                described = True
            # Inference-only workloads (embed) have no training figure.
            o_train = max(r.get("train_tokens_per_s", float("nan")) for r in ours)
            t_train = max(r.get("train_tokens_per_s", float("nan")) for r in theirs)
            o_fwd = max(r["forward_tokens_per_s"] for r in ours)
            t_fwd = max(r["forward_tokens_per_s"] for r in theirs)
            print(f"{name:18} {threads:>7} {o_train:>14,.0f} {t_train:>14,.0f} {o_train / t_train:>6.2f} "
                  f"{o_fwd:>10,.0f} {t_fwd:>10,.0f} {o_fwd / t_fwd:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
