"""Parameters and FLOPs per 60-frame clip of the vision-only baselines (paper or small sizes) beside MoEDE's (IV.C),
plus CPU training throughput (clips per second) of each temporal model on random 1280-d features.

The temporal models run on cached features; the per-frame front-end is MoEDE's eight MobileNetV2 backbones or, for
every baseline and the SFE, one. Usage:
    python benchmarks/bench_baselines.py [--threads 2] [--batch 16] [--frames 60] [--sizes paper|small]
"""

from __future__ import annotations

import argparse
import time

import torch

from moede.evaluation.complexity import PAPER_FRAMES
from moede.models.baselines import BASELINES, SMALL_SIZES
from moede.models.dfer import dfer_loss
from moede.tables.baselines import baseline_complexity


def _clips_per_second(model: torch.nn.Module, batch: int, frames: int, steps: int = 3) -> float:
    """Training clips per second (forward, backward, Adam step) on random full-length clips."""
    x, lengths = torch.randn(batch, frames, 1, model.feature_dim), torch.full((batch,), frames)
    y = torch.randint(0, 6, (batch,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        loss = dfer_loss(model(x, lengths), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=PAPER_FRAMES)
    parser.add_argument("--sizes", choices=("paper", "small"), default="paper")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = baseline_complexity(args.frames, args.sizes)
    table["train clips/s"] = float("nan")
    for name, cls in BASELINES.items():
        model = cls(**(SMALL_SIZES[name] if args.sizes == "small" else {}))
        table.loc[name, "train clips/s"] = _clips_per_second(model, args.batch, args.frames)
    print(table.to_string(float_format=lambda v: f"{v:,.3f}"))


if __name__ == "__main__":
    main()
