"""Training sets: aligned face crops (RGB, resized, normalised as the initial weights expect), held in memory or read
from their files on access (moede.data.face_store), and precomputed features."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2
from tqdm.auto import tqdm

from moede.data.emotions import class_index
from moede.data.face_store import FaceFiles, read_face
from moede.models.pretrained import Normalisation


def load_face_images(paths: Sequence[str], image_size: int) -> torch.Tensor:
    """Read image files as RGB, resize to image_size x image_size; return a uint8 tensor (N,3,S,S)."""
    out = torch.empty((len(paths), 3, image_size, image_size), dtype=torch.uint8)
    for i, path in enumerate(tqdm(paths, desc=f"loading {len(paths)} faces", leave=False, disable=len(paths) < 200)):
        out[i] = read_face(path, image_size)
    return out


def as_targets(targets: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    """Training targets as a tensor: class indices (N,) as int64, or class probabilities (N, K) as float32."""
    array = np.asarray(targets)
    return torch.as_tensor(array, dtype=torch.float32 if array.ndim == 2 else torch.long)


class FaceImageDataset(Dataset):
    """Face crops (a uint8 tensor (N,3,S,S) in memory, or FaceFiles read on access) with integer (or soft:
    as_targets) targets, normalised with `normalisation` (the initial weights'). `augment` marks a training set whose
    batches the training loop augments on its device (moede.training.augment.BatchAffine); items are never augmented
    here."""

    def __init__(self, images: torch.Tensor | FaceFiles, targets: Sequence[int], normalisation: Normalisation,
                 augment: bool = False) -> None:
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        self.images = images
        self.targets = as_targets(targets)
        self.normalisation = normalisation
        self.augment = augment
        self._normalise = v2.Compose([v2.ToDtype(torch.float32, scale=True),
                                      v2.Normalize(normalisation.mean, normalisation.std)])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, classes: Sequence[str], image_size: int, normalisation: Normalisation,
                   augment: bool = False) -> "FaceImageDataset":
        """The images of `frame` (columns path, label), read from their files on access, with targets = index of the
        label in `classes`."""
        return cls(FaceFiles(list(frame["path"]), image_size), class_index(frame["label"], classes),
                   normalisation, augment)

    def relabel(self, targets: Sequence[int], augment: bool | None = None) -> "FaceImageDataset":
        """Return a dataset sharing these images with new targets (e.g. binary 'emotion vs rest')."""
        return FaceImageDataset(self.images, targets, self.normalisation, self.augment if augment is None else augment)

    def subset(self, indices: Sequence[int] | np.ndarray, augment: bool | None = None) -> "FaceImageDataset":
        """Return a dataset of the rows at `indices`."""
        index = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return FaceImageDataset(self.images[index], self.targets[index], self.normalisation,
                                self.augment if augment is None else augment)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.normalised(index), self.targets[index]

    def normalised(self, index: int) -> torch.Tensor:
        """Return image `index` normalised (never augmented), shape (3,S,S)."""
        return self._normalise(self.images[index])


class FeatureDataset(Dataset):
    """Precomputed per-image features (N, ...) with integer (or soft) targets; the FaceImageDataset interface the
    training loop uses (`targets`, `relabel`), for heads trained on frozen features (no augmentation: features are
    fixed)."""

    def __init__(self, features: torch.Tensor, targets: Sequence[int]) -> None:
        if len(features) != len(targets):
            raise ValueError(f"{len(features)} feature rows but {len(targets)} targets")
        self.features = features
        self.targets = as_targets(targets)

    def relabel(self, targets: Sequence[int], augment: bool | None = None) -> "FeatureDataset":
        """Return a dataset sharing these features with new targets (`augment` is accepted and has no effect)."""
        return FeatureDataset(self.features, targets)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[index], self.targets[index]
