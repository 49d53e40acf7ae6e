"""The batch-wise augmentation on the training device: the same transforms as torchvision's RandomAffine, drawn
from the same distribution, from a generator whose state can be saved and restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from moede.models.pretrained import IMAGENET_STATS
from moede.training.augment import DEGREES, PARAMETERS, SHEAR_DEGREES, TRANSLATE, BatchAffine, affine_batch

DRAWS = 3000


def _torchvision(degrees: float = DEGREES) -> v2.RandomAffine:
    """The per-sample transform the training set applied before: the paper's RandomAffine."""
    return v2.RandomAffine(degrees=degrees, translate=(TRANSLATE, TRANSLATE), shear=SHEAR_DEGREES)


def _torchvision_params(transform: v2.RandomAffine, image: torch.Tensor, n: int) -> np.ndarray:
    """n parameter draws of `transform` for `image` as (n, 4) PARAMETERS columns."""
    rows = []
    for _ in range(n):
        p = transform.make_params([image])
        rows.append([p["angle"], *p["translate"], p["shear"][0]])
        assert p["scale"] == 1.0 and p["shear"][1] == 0.0
    return np.asarray(rows, dtype=float)


def test_the_same_parameters_give_torchvisions_pixels() -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 40, 56), dtype=torch.uint8)  # not square: both axes' scaling is tested
    params = BatchAffine(IMAGENET_STATS, seed=3).draw(6, 40, 56)
    mine = affine_batch(images.float(), params, torch.zeros(3)).to(torch.uint8)
    for image, p, out in zip(images, params, mine):
        expected = TF.affine(image, angle=float(p[0]), translate=[int(p[1]), int(p[2])], scale=1.0,
                             shear=[float(p[3]), 0.0])
        assert torch.equal(out, expected)


def test_augmenting_normalised_batches_equals_normalising_augmented_faces() -> None:
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    normalise = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_STATS.mean,
                                                                                IMAGENET_STATS.std)])
    augmenter = BatchAffine(IMAGENET_STATS, seed=0)
    params = augmenter.draw(4, 32, 32)
    after = affine_batch(torch.stack([normalise(i) for i in images]), params, augmenter.fill)
    before = torch.stack([normalise(a) for a in affine_batch(images.float(), params, torch.zeros(3)).to(torch.uint8)])
    assert torch.allclose(after, before, atol=1e-6)
    assert (after == augmenter.fill.view(1, 3, 1, 1)).any()  # some corners fall outside the photo: black there


def test_parameters_lie_in_the_papers_ranges() -> None:
    params = BatchAffine(IMAGENET_STATS, seed=0).draw(DRAWS, 224, 224).numpy()
    angle, tx, ty, shear = params.T
    assert np.abs(angle).max() <= DEGREES and np.abs(angle).max() > 0.99 * DEGREES
    for shift in (tx, ty):
        assert np.array_equal(shift, np.round(shift)) and np.abs(shift).max() == round(TRANSLATE * 224)
    assert np.abs(shear).max() <= SHEAR_DEGREES and np.abs(shear).max() > 0.99 * SHEAR_DEGREES
    assert np.tan(np.radians(SHEAR_DEGREES)) == pytest.approx(0.04)
    assert len(PARAMETERS) == params.shape[1]


def test_parameters_follow_torchvisions_distribution() -> None:
    torch.manual_seed(0)
    image = torch.zeros(3, 224, 224, dtype=torch.uint8)
    mine = BatchAffine(IMAGENET_STATS, seed=1).draw(DRAWS, 224, 224).numpy()
    theirs = _torchvision_params(_torchvision(), image, DRAWS)
    for column, name in enumerate(PARAMETERS):
        assert ks_2samp(mine[:, column], theirs[:, column]).pvalue > 1e-3, name
    wrong = _torchvision_params(_torchvision(degrees=12), image, DRAWS)  # the test notices a wrong rotation range
    assert ks_2samp(mine[:, 0], wrong[:, 0]).pvalue < 1e-6


def _centroids(images: torch.Tensor, black: float = 0.0) -> np.ndarray:
    """(N, 2) row and column centroids of each image's pixels brighter than `black`."""
    mass = images[:, 0].float() - black
    rows, cols = torch.meshgrid(torch.arange(mass.shape[1]), torch.arange(mass.shape[2]), indexing="ij")
    total = mass.sum(dim=(1, 2))
    return torch.stack([(mass * rows).sum(dim=(1, 2)) / total, (mass * cols).sum(dim=(1, 2)) / total], 1).numpy()


def test_a_marked_point_moves_as_under_random_affine() -> None:
    torch.manual_seed(0)
    image = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)
    image[..., 10:15, 14:19] = 255  # off-centre: rotation and shear move it as much as translation
    augmenter = BatchAffine(IMAGENET_STATS, seed=2)
    mean, std = torch.tensor(IMAGENET_STATS.mean).view(3, 1, 1), torch.tensor(IMAGENET_STATS.std).view(3, 1, 1)
    normalised = ((image[0] / 255 - mean) / std).expand(1000, -1, -1, -1)
    mine = _centroids(augmenter(normalised), float(augmenter.fill[0]))
    theirs = _centroids(torch.stack([_torchvision()(image[0]) for _ in range(1000)]))
    for axis in range(2):
        assert ks_2samp(mine[:, axis], theirs[:, axis]).pvalue > 1e-3


def test_the_generator_state_resumes_the_stream() -> None:
    augmenter = BatchAffine(IMAGENET_STATS, seed=5)
    augmenter.draw(8, 32, 32)
    state = augmenter.state_dict()
    following = augmenter.draw(8, 32, 32)
    resumed = BatchAffine(IMAGENET_STATS, seed=99)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.draw(8, 32, 32), following)
    assert torch.equal(BatchAffine(IMAGENET_STATS, seed=5).draw(4, 32, 32),
                       BatchAffine(IMAGENET_STATS, seed=5).draw(4, 32, 32))
    assert not torch.equal(BatchAffine(IMAGENET_STATS, seed=5).draw(4, 32, 32),
                           BatchAffine(IMAGENET_STATS, seed=6).draw(4, 32, 32))
