"""Benchmark the run's cache of the frozen blocks' activations: computing them vs reading them back, per face.

    python benchmarks/bench_activation_cache.py [--faces 512] [--size 160]

Random face crops (the time does not depend on the pixels) through the shipped ImageNet MobileNetV2's blocks 0-13,
as the demo profile freezes them (trainable_from=14). Every notebook runs in its own kernel; before the cache each of
chapters 3, 4 and 5 computed these activations again for its 2,755 faces (with ../shared), now they read them.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from moede.config import RunConfig
from moede.models.backbone import build_backbone
from moede.training import activation_cache
from moede.training.images import FaceImageDataset, load_face_images
from timing import best_seconds

TRAINABLE_FROM = 14


def _faces(folder: Path, n: int, size: int) -> list[str]:
    """Write n random RGB crops as PNG files; return their paths."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def main() -> None:
    """Print seconds and faces/s of computing and of reusing the activations."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=512)
    parser.add_argument("--size", type=int, default=160)
    args = parser.parse_args()
    init = RunConfig.for_profile("demo").initialisation()
    blocks = build_backbone("mobilenet_v2", 2, init).module.features[:TRAINABLE_FROM]
    with tempfile.TemporaryDirectory() as tmp:
        paths = _faces(Path(tmp), args.faces, args.size)
        images = FaceImageDataset(load_face_images(paths, args.size), [0] * len(paths), init.normalisation)
        target = Path(tmp) / "frozen" / "train.pt"

        def run(keep_file: bool) -> None:
            activation_cache._in_memory.clear()  # as a new notebook kernel
            if not keep_file:
                target.unlink(missing_ok=True)
            activation_cache.cached_block_activations(blocks, images, paths, target, init.normalisation, args.size)

        rows = [{"what": what, "seconds": seconds, "faces/s": args.faces / seconds}
                for what, seconds in (("compute and store", best_seconds(lambda: run(False), warm_up=True)),
                                      ("reuse from disk", best_seconds(lambda: run(True), repeats=3)))]
        size_mb = target.stat().st_size / 2 ** 20
    print(f"{args.faces} faces at {args.size} px, blocks 0-{TRAINABLE_FROM - 1}, {torch.get_num_threads()} threads; "
          f"cache file {size_mb:.0f} MiB")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
