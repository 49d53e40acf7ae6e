"""Frames per second of eight LoRA experts on the book's path (SequentialExperts, shared frozen prefix): merged (each
adapter folded into its convolution: one weight set per expert) vs unmerged (base convolution + two thin adapter
convolutions), and one expert's training step (FromBlock on the frozen blocks' activations) full vs LoRA.

Usage: python benchmarks/bench_lora.py [--threads 2] [--batch 32] [--size 160] [--start 14] [--rank 4] [--repeats 3]
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch
from timing import best_seconds

from moede.features.extract import SequentialExperts
from moede.models.backbone import BackboneClassifier
from moede.models.lora import lora_adapters, lora_expert_from_sfer
from moede.models.mobilenet import replace_head
from moede.training.frozen import FromBlock


def _experts(rank: int, start: int) -> list:
    """Eight rank-`rank` LoRA experts of one random SFER (adapters non-zero)."""
    torch.manual_seed(0)
    sfer = BackboneClassifier("mobilenet_v2", 8).eval()
    experts = []
    for _ in range(8):
        expert = lora_expert_from_sfer(sfer, rank, start).eval()
        with torch.no_grad():
            for adapter in lora_adapters(expert):
                adapter.up.normal_(0, 0.01)
        experts.append(expert)
    return experts


def _step(model: torch.nn.Module, start: int, activations: torch.Tensor) -> None:
    """One Adam training step of `model` from block `start` on cached activations."""
    trained = FromBlock(model, start).train()
    optimizer = torch.optim.Adam([p for p in trained.parameters() if p.requires_grad], lr=1e-4)
    loss = torch.nn.functional.cross_entropy(trained(activations), torch.zeros(len(activations), dtype=torch.long))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def main() -> None:
    """Print frames/s of merged and unmerged LoRA banks and training steps/s of a full and a LoRA expert."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("threads", 2), ("batch", 32), ("size", 160), ("start", 14), ("rank", 4), ("repeats", 3)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    experts = _experts(args.rank, args.start)
    x = torch.randn(args.batch, 3, args.size, args.size)
    rows = []
    with torch.no_grad():
        for name, blocks in (("merged", [e.merged().features for e in experts]),
                             ("unmerged", [e.features for e in experts])):
            bank = SequentialExperts(blocks).eval()
            rows.append({"what": f"8 experts' features, {name}",
                         "per second": args.batch / best_seconds(lambda b=bank: b(x), args.repeats)})
        activations = experts[0].features[:args.start](x)
    full = replace_head(BackboneClassifier("mobilenet_v2", 8), 2)
    for name, model in (("full expert", full), ("LoRA expert", experts[0])):
        rows.append({"what": f"training step, {name}",
                     "per second": 1 / best_seconds(lambda m=model: _step(m, args.start, activations), args.repeats)})
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
