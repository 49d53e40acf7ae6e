"""Faces streamed from their files: the same pixels as loading them into memory, the same training whether read in
the training process or by loader workers, mixed precision refused where it cannot run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from moede.config import RunConfig
from moede.data.face_store import FaceFiles
from moede.errors import SettingError
from moede.models import build_backbone
from moede.models.pretrained import IMAGENET_STATS
from moede.training.images import FaceImageDataset, load_face_images
from moede.training.static import train_classifier

SIZE = 32


@pytest.fixture
def face_files(tmp_path: Path) -> list[str]:
    """Twelve random PNG faces, two of them at another size (resized when read)."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(12):
        side = SIZE if i < 10 else 40
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_faces_read_on_access_are_the_loaded_faces(face_files: list[str]) -> None:
    files, loaded = FaceFiles(face_files, SIZE), load_face_images(face_files, SIZE)
    assert len(files) == 12 and all(torch.equal(files[i], loaded[i]) for i in range(12))
    rows = files[torch.tensor([3, 11])]
    assert isinstance(rows, FaceFiles) and torch.equal(rows[1], loaded[11]) and len(files[2:5]) == 3
    streamed = FaceImageDataset(files, [0, 1] * 6, IMAGENET_STATS).subset([5, 11])
    in_memory = FaceImageDataset(loaded, [0, 1] * 6, IMAGENET_STATS).subset([5, 11])
    assert torch.equal(streamed[1][0], in_memory[1][0]) and streamed.targets.tolist() == [1, 1]


def test_an_unreadable_face_names_its_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(FileNotFoundError, match="broken.png.*rerun the alignment stage"):
        FaceFiles([str(broken)], SIZE)[0]


def _trained(train: FaceImageDataset, **options: object) -> tuple[list[float], torch.Tensor]:
    """Train losses and the first conv weights after one augmented epoch of a MobileNetV2 at SIZE px."""
    torch.manual_seed(0)
    model = build_backbone("mobilenet_v2", 2).module
    result = train_classifier(model, train.relabel(train.targets, augment=True), train.subset(range(4)), n_classes=2,
                              epochs=1, batch_size=4, seed=1, **options)
    return result.history["train_loss"].tolist(), result.model.features[0][0].weight.detach().clone()


def test_training_does_not_depend_on_where_or_by_whom_faces_are_read(face_files: list[str]) -> None:
    targets = [0, 1] * 6
    in_memory = _trained(FaceImageDataset(load_face_images(face_files, SIZE), targets, IMAGENET_STATS))
    streamed = _trained(FaceImageDataset(FaceFiles(face_files, SIZE), targets, IMAGENET_STATS), loader_workers=2)
    assert in_memory[0] == streamed[0] and torch.equal(in_memory[1], streamed[1])
    assert in_memory[1].is_contiguous()  # trained channels-last, returned in the checkpoints' format
    bf16 = _trained(FaceImageDataset(FaceFiles(face_files, SIZE), targets, IMAGENET_STATS), precision="bf16")
    assert np.isfinite(bf16[0]).all() and not torch.equal(bf16[1], in_memory[1])


def test_fp16_is_refused_on_the_cpu(face_files: list[str]) -> None:
    data = FaceImageDataset(FaceFiles(face_files, SIZE), [0, 1] * 6, IMAGENET_STATS)
    with pytest.raises(SettingError, match="fp16 needs a CUDA GPU"):
        train_classifier(build_backbone("mobilenet_v2", 2).module, data, data, n_classes=2, epochs=1,
                         precision="fp16")
    with pytest.raises(SettingError, match="fp16 needs a CUDA GPU"):
        RunConfig.for_profile("full", precision="fp16", device="cpu")
    assert RunConfig.for_profile("full", precision="bf16", device="cpu").precision == "bf16"
    assert RunConfig.for_profile("full").precision == "fp32" and RunConfig.for_profile("demo").loader_workers == 0


def test_the_banner_shows_the_precision(capsys: pytest.CaptureFixture[str]) -> None:
    from moede.book.display import banner

    banner(RunConfig.for_profile("full", precision="bf16", init="random", allow_random_init=True))
    assert "precision: bf16" in capsys.readouterr().out
