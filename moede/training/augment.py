"""The paper's augmentation (up to 15 degrees rotation, 10% translation, 4% shear per face) applied to whole batches
on the training device: per-sample affine matrices with affine_grid/grid_sample, drawn as torchvision's
v2.RandomAffine(degrees=15, translate=(0.1, 0.1), shear=SHEAR_DEGREES) draws them (integer-pixel translations,
shear along x only, nearest-neighbour sampling, black outside the photo), from a generator of the training run's own.

The batch is already normalised: black is the normalised value of a zero pixel, and nearest-neighbour sampling copies
pixels, so augmenting after normalising gives exactly the pixels of normalising after augmenting.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from moede.models.pretrained import Normalisation

DEGREES = 15.0  # rotation drawn uniformly in [-15, 15] degrees
TRANSLATE = 0.1  # translation drawn uniformly within 10% of the side, rounded to whole pixels (as torchvision)
# The paper's "4% random shear" read as a shear factor of 0.04, i.e. a shear angle of atan(0.04) = 2.29 degrees
# (torchvision's RandomAffine takes the shear as an angle in degrees).
SHEAR_DEGREES = math.degrees(math.atan(0.04))
PARAMETERS = ("angle", "tx", "ty", "shear")  # the columns of BatchAffine.draw: degrees, pixels, pixels, degrees


def affine_matrices(params: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The (B,2,3) affine_grid matrices (output -> input, normalised coordinates) of params (B,4) (PARAMETERS), the
    inverse matrices torchvision's affine builds about the image centre."""
    p = params.double()
    rot, shear = torch.deg2rad(p[:, 0]), torch.deg2rad(p[:, 3])
    tx, ty = p[:, 1], p[:, 2]
    cos, sin, tan = torch.cos(rot), torch.sin(rot), torch.tan(shear)
    a, b, c, d = cos, -cos * tan - sin, sin, -sin * tan + cos  # rotation @ shear; its inverse is [[d, -b], [-c, a]]
    theta = torch.stack([torch.stack([d, -b * height / width, (b * ty - d * tx) / (width / 2)], dim=1),
                         torch.stack([-c * width / height, a, (c * tx - a * ty) / (height / 2)], dim=1)], dim=1)
    return theta


def affine_batch(images: torch.Tensor, params: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Apply sample i's affine params[i] (PARAMETERS) to images (B,C,H,W), nearest-neighbour, `fill` (C,) outside."""
    height, width = images.shape[-2:]
    theta = affine_matrices(params, height, width).to(images.device, images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    background = fill.to(images.device, images.dtype).view(1, -1, 1, 1)
    shifted = F.grid_sample(images - background, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return shifted + background


class BatchAffine:
    """The paper's random affine of normalised batches on their device, its parameters drawn on the CPU from a seeded
    torch.Generator (the same transforms on every device; state_dict/load_state_dict resume the stream)."""

    def __init__(self, normalisation: Normalisation, seed: int) -> None:
        mean, std = torch.tensor(normalisation.mean), torch.tensor(normalisation.std)
        self.fill = -mean / std  # a black pixel, normalised
        self.generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 0xAF]).generate_state(1)[0]))

    def draw(self, batch: int, height: int, width: int) -> torch.Tensor:
        """Parameters (batch, 4) (PARAMETERS) as v2.RandomAffine draws them for an image of height x width."""
        uniform = torch.rand(batch, 4, generator=self.generator, dtype=torch.float64) * 2 - 1  # in [-1, 1)
        return torch.stack([uniform[:, 0] * DEGREES, torch.round(uniform[:, 1] * TRANSLATE * width),
                            torch.round(uniform[:, 2] * TRANSLATE * height), uniform[:, 3] * SHEAR_DEGREES], dim=1)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Each image of the batch (B,C,H,W) under its own random affine."""
        return affine_batch(images, self.draw(len(images), *images.shape[-2:]), self.fill)

    def state_dict(self) -> dict[str, Any]:
        """The generator's state (for an epoch checkpoint)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the stream from a state_dict()."""
        self.generator.set_state(state["generator"])
