"""Parameters and FLOPs per 60-frame clip of the vision-only baselines (paper sizes) beside MoEDE's (Section IV.C),
plus CPU training throughput (clips per second) of each temporal model on random 1280-d features.

The temporal models run on cached features; the per-frame front-end is MoEDE's eight MobileNetV2 backbones or, for
every baseline and the SFE, one. Usage: python benchmarks/bench_baselines.py [--threads 2] [--batch 16] [--frames 60]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from moede.evaluation.complexity import PAPER_FRAMES, complexity_numbers, count_parameters
from moede.models.baselines import BASELINES
from moede.models.baselines.flops import clip_flops
from moede.models.dfer import dfer_loss


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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    moede = complexity_numbers(frames=args.frames)
    backbone_flops = moede["expert_flops"] // 8
    rows = [dict(model="MoEDE (fusion LSTMs)", temporal_params=moede["fusion"],
                 temporal_gflops=(moede["lstm_flops"] + moede["head_flops"]) / 1e9,
                 total_params=moede["total"], total_gflops=moede["flops"] / 1e9)]
    for name, cls in BASELINES.items():
        model = cls()
        params, flops = count_parameters(model), clip_flops(model, args.frames)
        rows.append(dict(model=name, temporal_params=params, temporal_gflops=flops / 1e9,
                         total_params=params + moede["expert_backbone"],
                         total_gflops=(flops + backbone_flops) / 1e9,
                         train_clips_per_second=_clips_per_second(model, args.batch, args.frames)))
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:,.3f}"))


if __name__ == "__main__":
    main()
