"""The on-disk cache of the frozen blocks' activations: reused only for the same weights, images and settings."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from moede.models.backbone import BackboneClassifier
from moede.models.pretrained import MINUS_ONE_TO_ONE
from moede.training import activation_cache
from moede.training.activation_cache import cached_block_activations
from moede.training.images import FaceImageDataset, load_face_images

START, SIZE = 6, 32


@pytest.fixture
def faces(tmp_path: Path) -> list[str]:
    """Five small random face crops written as PNG files."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(5):
        path = tmp_path / "faces" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _blocks(seed: int, start: int = START) -> torch.nn.Module:
    torch.manual_seed(seed)
    return BackboneClassifier("mobilenet_v2", 2, "tf_same").features[:start]


def _activations(blocks: torch.nn.Module, paths: list[str], target: Path) -> torch.Tensor:
    activation_cache._in_memory.clear()  # read the file, as a new notebook kernel would
    images = FaceImageDataset(load_face_images(paths, SIZE), [0] * len(paths), MINUS_ONE_TO_ONE)
    return cached_block_activations(blocks, images, paths, target, MINUS_ONE_TO_ONE, SIZE)


def test_activations_are_reused_from_disk_only_for_the_same_blocks_and_images(
        faces: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "frozen" / "train.pt"
    blocks = _blocks(0)
    first = _activations(blocks, faces, target)
    with torch.no_grad():
        images = FaceImageDataset(load_face_images(faces, SIZE), [0] * 5, MINUS_ONE_TO_ONE)
        expected = blocks.eval()(torch.stack([images[i][0] for i in range(5)]))
    assert first.shape == expected.shape and torch.allclose(first, expected, atol=1e-5)
    written = target.stat().st_mtime_ns

    calls = []
    original = activation_cache.block_activations
    monkeypatch.setattr(activation_cache, "block_activations", lambda *a, **k: calls.append(1) or original(*a, **k))
    assert torch.equal(_activations(blocks, faces, target), first) and not calls
    assert target.stat().st_mtime_ns == written

    other = _activations(_blocks(1), faces, target)  # other weights (another random initialisation)
    assert len(calls) == 1 and not torch.equal(other, first)

    os.utime(faces[2], ns=(1, 1))  # a re-aligned crop
    _activations(_blocks(1), faces, target)
    assert len(calls) == 2


def test_an_unreadable_cache_file_is_recomputed(faces: list[str], tmp_path: Path) -> None:
    target = tmp_path / "frozen" / "dev.pt"
    target.parent.mkdir()
    target.write_bytes(b"not a torch file")
    blocks = _blocks(0)
    activations = _activations(blocks, faces, target)
    assert activations.shape[0] == len(faces)
    assert torch.equal(_activations(blocks, faces, target), activations)  # the file was replaced


def test_computing_them_leaves_the_callers_blocks_in_their_mode(faces: list[str], tmp_path: Path) -> None:
    blocks = _blocks(0).train()
    _activations(blocks, faces, tmp_path / "train.pt")
    assert all(module.training for module in blocks.modules())


def test_the_activations_do_not_depend_on_the_memory_format_of_the_blocks_that_computed_them(
        faces: list[str], tmp_path: Path) -> None:
    blocks = _blocks(0, start=14)  # deep enough for the two memory formats to round differently
    held_channels_last = copy.deepcopy(blocks).to(memory_format=torch.channels_last)  # as sliced out of an ExpertBank
    assert torch.equal(_activations(held_channels_last, faces, tmp_path / "a.pt"),
                       _activations(blocks, faces, tmp_path / "b.pt"))
