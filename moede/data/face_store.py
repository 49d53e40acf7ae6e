"""Aligned face crops streamed from their image files: each face is decoded when a batch needs it (by DataLoader
workers when there are some), so a training run's memory does not grow with the number of faces.

The store is the PNG crops the alignment writes (moede.align.batch): at 224 px 49.7 KB per real face against the
150.5 KB of a raw uint8 face, decoded in 1.8 ms per face on the (busy) 2-core VM (benchmarks/bench_scale.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image


def read_face(path: str, image_size: int) -> torch.Tensor:
    """Read one image file as RGB resized to image_size x image_size; a uint8 tensor (3,S,S)."""
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (image_size, image_size):
                image = image.resize((image_size, image_size), Image.Resampling.BILINEAR)
            return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)
    except OSError as error:
        raise FileNotFoundError(f"cannot read face image {path}: {error}; rerun the alignment stage") from error


class FaceFiles:
    """The faces at `paths`, read on access at `image_size`: `files[i]` is face i as uint8 (3,S,S); indexing with
    an index array or a slice gives the FaceFiles of those rows (nothing is read)."""

    def __init__(self, paths: Sequence[str], image_size: int) -> None:
        self.paths, self.image_size = tuple(str(path) for path in paths), image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray | torch.Tensor) -> "torch.Tensor | FaceFiles":
        if isinstance(index, slice):
            return FaceFiles(self.paths[index], self.image_size)
        if isinstance(index, (int, np.integer)) or (isinstance(index, torch.Tensor) and index.ndim == 0):
            return read_face(self.paths[int(index)], self.image_size)
        return FaceFiles([self.paths[i] for i in np.asarray(index, dtype=int).tolist()], self.image_size)
