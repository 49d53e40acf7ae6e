"""What the ImageNet start costs and what fine-tuning only the last blocks saves, on CPU.

Rows: converting the shipped TFLite file (cold, then from the cache); one SFER training epoch over N faces at the
demo's 160x160 with every layer trained (the full profile's way) vs blocks 14-18 trained on cached activations of
blocks 0-13 (the demo's way), and the one-off cost of computing those activations.
Usage: python benchmarks/bench_imagenet_init.py [--threads 2] [--images 512] [--size 160] [--start 14]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from moede.models.backbone import build_backbone
from moede.models.pretrained import SHIPPED_TFLITE, Initialisation
from moede.training.frozen import FromBlock, block_activations
from moede.training.images import FaceImageDataset, FeatureDataset
from moede.training.static import train_classifier


def _seconds(work) -> float:
    tick = time.perf_counter()
    work()
    return time.perf_counter() - tick


def main() -> None:
    """Print the timing table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--start", type=int, default=14)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        cold = _seconds(lambda: Initialisation("imagenet", SHIPPED_TFLITE, Path(cache)).state_dict())
        warm = _seconds(lambda: Initialisation("imagenet", SHIPPED_TFLITE, Path(cache)).state_dict())
        init = Initialisation("imagenet", SHIPPED_TFLITE, Path(cache))
        rows += [{"what": "convert the shipped TFLite file (cold)", "seconds": cold},
                 {"what": "load the converted weights (cached)", "seconds": warm}]
        images = torch.randint(0, 256, (args.images, 3, args.size, args.size), dtype=torch.uint8)
        targets = torch.arange(args.images) % 8
        faces = FaceImageDataset(images, targets, init.normalisation)
        full = build_backbone("mobilenet_v2", 8, init).module
        rows.append({"what": f"SFER epoch, every layer trained ({args.images} faces, {args.size}px)",
                     "seconds": _seconds(lambda: train_classifier(full, faces, faces.subset(range(8)), n_classes=8,
                                                                  epochs=1, batch_size=32))})
        partial = build_backbone("mobilenet_v2", 8, init).module
        holder: dict[str, FeatureDataset] = {}
        rows.append({"what": f"activations of blocks 0-{args.start - 1}, once",
                     "seconds": _seconds(lambda: holder.update(
                         data=block_activations(partial.features[:args.start], faces)))})
        data = holder["data"]
        rows.append({"what": f"SFER epoch, blocks {args.start}-18 trained on them",
                     "seconds": _seconds(lambda: train_classifier(FromBlock(partial, args.start), data,
                                                                  FeatureDataset(data.features[:8], targets[:8]),
                                                                  n_classes=8, epochs=1, batch_size=32))})
    table = pd.DataFrame(rows)
    table["images/s"] = [None, None] + [round(args.images / s, 1) for s in table["seconds"][2:]]
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
