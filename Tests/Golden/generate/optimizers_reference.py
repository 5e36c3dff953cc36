"""Reference trajectories of torch.optim SGD / Adagrad / Adam for the Swift optimizer golden test
(Tests/Golden/OptimizerGoldenTests.swift). Writes Tests/Golden/Resources/optimizers.json.

Run: python3 Tests/Golden/generate/optimizers_reference.py   (needs: pip install torch)
Parameters and gradients are closed-form functions of (index, step) so Swift recomputes them:
  p0[i] = 0.5 - 0.1 * i              (6 elements, shape [2, 3])
  g_t[i] = sin(1.0 + 0.7 * i + 1.3 * t)   for steps t = 1..5
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float32)

configs = [
    ("sgd", {"lr": 0.1}, lambda p, o: torch.optim.SGD(p, lr=o["lr"])),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "weight-decay": 0.01},
     lambda p, o: torch.optim.SGD(p, lr=o["lr"], momentum=o["momentum"], weight_decay=o["weight-decay"])),
    ("sgd", {"lr": 0.05, "momentum": 0.5, "nesterov": "true"},
     lambda p, o: torch.optim.SGD(p, lr=o["lr"], momentum=o["momentum"], nesterov=True)),
    ("adagrad", {"lr": 0.2, "initial-accumulator": 1.0},
     lambda p, o: torch.optim.Adagrad(p, lr=o["lr"], initial_accumulator_value=o["initial-accumulator"])),
    ("adagrad", {"lr": 0.1, "initial-accumulator": 0.1, "weight-decay": 0.001},
     lambda p, o: torch.optim.Adagrad(p, lr=o["lr"], initial_accumulator_value=o["initial-accumulator"],
                                      weight_decay=o["weight-decay"])),
    ("adam", {"lr": 0.01}, lambda p, o: torch.optim.Adam(p, lr=o["lr"])),
    ("adam", {"lr": 0.001, "weight-decay": 0.0001, "beta1": 0.8, "beta2": 0.99},
     lambda p, o: torch.optim.Adam(p, lr=o["lr"], betas=(o["beta1"], o["beta2"]), weight_decay=o["weight-decay"])),
]

cases = []
for name, options, make in configs:
    p = torch.nn.Parameter(torch.tensor([0.5 - 0.1 * i for i in range(6)]).reshape(2, 3))
    opt = make([p], options)
    trajectory = []
    for t in range(1, 6):
        p.grad = torch.tensor([math.sin(1.0 + 0.7 * i + 1.3 * t) for i in range(6)]).reshape(2, 3)
        opt.step()
        trajectory.append([float(x) for x in p.detach().reshape(-1)])
    cases.append({"optimizer": name, "options": {k: str(v) for k, v in options.items()}, "trajectory": trajectory})

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "Resources", "optimizers.json")
with open(out, "w") as f:
    json.dump({"generator": "optimizers_reference.py", "torch": torch.__version__, "cases": cases}, f, indent=1)
print("wrote", os.path.relpath(out), "with torch", torch.__version__)
