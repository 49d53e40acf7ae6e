"""Trains a tiny static classifier and a tiny MoEDE under the current process group (torchrun) or alone, and saves
the final weights and histories: tests/test_distributed.py compares a 2-process run with a 1-process run."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from moede.io import write_json
from moede.models.dfer import MoEDE
from moede.models.pretrained import IMAGENET_STATS
from moede.training.distributed import current, init_from_environment, run_on_main, shutdown
from moede.training.dynamic import train_dfer
from moede.training.images import FaceImageDataset
from moede.training.sampling import BalancedEpochSampler
from moede.training.static import class_weights, train_classifier


class ArrayClips:
    """Per-clip (T, E, D) features held in memory."""

    def __init__(self, clips: dict[str, np.ndarray]) -> None:
        self.clips = clips

    def clip(self, sample_id: str) -> np.ndarray:
        return self.clips[sample_id]


def train_both(seed: int) -> dict[str, object]:
    """Train the two tiny models with fixed data and seeds; return their final states and histories."""
    data = np.random.default_rng(0)
    images = torch.from_numpy(data.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8))
    targets = (data.random(40) < 0.3).astype(int)
    train, dev = (FaceImageDataset(images[s], targets[s], IMAGENET_STATS) for s in (slice(0, 30), slice(30, 40)))
    torch.manual_seed(seed)
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    static = train_classifier(classifier, train, dev, n_classes=2, epochs=2, learning_rate=1e-2, batch_size=8,
                              loss_weights=class_weights(train.targets, 2),
                              sampler=BalancedEpochSampler(train.targets, seed=seed), seed=seed)
    clips = {f"c{i}": data.normal(size=(int(data.integers(2, 7)), 8, 4)).astype(np.float32) for i in range(24)}
    labels = data.integers(0, 3, 24).tolist()
    ids = list(clips)
    torch.manual_seed(seed)
    dynamic = train_dfer(MoEDE(feature_dim=4, hidden=3, n_classes=3), ArrayClips(clips), ids[:18], labels[:18],
                         ids[18:], labels[18:], epochs=2, lr=1e-2, batch_size=6, seed=seed)
    return {"static": static.model.state_dict(), "static_history": static.history.drop(columns="seconds"),
            "dynamic": dynamic.model.state_dict(),
            "dynamic_history": dynamic.history.drop(columns=["seconds", "clips_per_second"])}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--crash-rank", type=int, default=-1)
    args = parser.parse_args()
    ctx = init_from_environment(timeout_s=60)
    if ctx.rank == args.crash_rank:
        print(f"rank {ctx.rank}: crashing on purpose", file=sys.stderr)
        os._exit(3)
    result = train_both(seed=0)

    def write() -> Path:
        torch.save(result, args.out / "result.pt")
        return write_json({"world_size": ctx.world_size, "writer": ctx.rank}, args.out / f"written_by_{ctx.rank}.json")

    written = run_on_main(write)
    assert Path(written).is_file(), "every rank continues only once rank 0's files exist"
    shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
