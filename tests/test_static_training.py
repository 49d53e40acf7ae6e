"""Balanced expert sampling, class-weighted loss, and a few optimisation steps on real faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from moede.data.emotions import AFFECTNET, SYNONYMS
from moede.models import build_backbone
from moede.models.pretrained import IMAGENET_STATS, MINUS_ONE_TO_ONE
from moede.training.augment import SHEAR_DEGREES
from moede.training.images import FaceImageDataset
from moede.training.sampling import BalancedEpochSampler
from moede.training.static import class_weights, train_classifier


def _real_faces(root: Path, per_class: int) -> pd.DataFrame:
    """The first `per_class` facial_expressions images of every emotion (path, label)."""
    labels = pd.read_csv(root / "facial_expressions" / "labels.csv")
    labels["label"] = labels["emotion"].str.lower().map(SYNONYMS)
    rows = labels.groupby("label", sort=False).head(per_class)
    return pd.DataFrame({"path": [str(root / "facial_expressions" / "images" / n) for n in rows["image"]],
                         "label": rows["label"].to_numpy()})


def test_balanced_sampler_draws_equal_negatives_afresh() -> None:
    targets = np.array([1] * 5 + [0] * 40)
    sampler = BalancedEpochSampler(targets, positive=1, seed=0)
    first = list(sampler)
    first_negatives = set(sampler.last_negatives.tolist())
    second = list(sampler)
    assert len(first) == len(sampler) == 10
    assert sorted(i for i in first if targets[i] == 1) == list(range(5))  # every positive, once
    assert sum(targets[i] == 0 for i in first) == 5
    assert len(set(first)) == 10  # negatives drawn without replacement
    assert set(i for i in second if targets[i] == 0) == set(sampler.last_negatives.tolist())
    assert first_negatives != set(sampler.last_negatives.tolist())  # re-drawn each epoch


def test_balanced_sampler_few_negatives_and_no_positives() -> None:
    sampler = BalancedEpochSampler(np.array([1, 1, 1, 1, 0, 0]), seed=1)
    assert sorted(sampler) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="no positive"):
        BalancedEpochSampler(np.zeros(4, dtype=int))


def test_class_weights_follow_counts() -> None:
    targets = [0] * 6 + [1] * 3 + [2] * 1  # class 3 absent
    weights = class_weights(targets, 4)
    assert weights[3] == 0
    counts = np.array([6, 3, 1])
    assert np.allclose(weights[:3].numpy() * counts, counts.sum() / 3)  # equal total weight per class
    assert weights[2] > weights[1] > weights[0]
    assert torch.allclose(class_weights([0, 1, 0, 1], 2), torch.ones(2))


def test_augmentation_shear_is_four_percent() -> None:
    assert np.tan(np.radians(SHEAR_DEGREES)) == pytest.approx(0.04)


def test_dataset_reads_grey_faces_as_rgb(shared_data: Path) -> None:
    frame = _real_faces(shared_data, 1)
    data = FaceImageDataset.from_frame(frame, AFFECTNET, 48, MINUS_ONE_TO_ONE, augment=True)
    image, target = data[0]
    assert image.shape == (3, 48, 48) and image.dtype == torch.float32
    face = data.images[0]  # read from its file
    assert face.dtype == torch.uint8 and torch.equal(face[0], face[2])  # grey replicated to three channels
    assert int(target) == AFFECTNET.index(frame["label"].iloc[0])
    assert torch.equal(data[0][0], data.normalised(0))  # items are plain: the training loop augments whole batches


def test_few_steps_reduce_loss_on_real_faces(shared_data: Path) -> None:
    torch.manual_seed(0)
    frame = _real_faces(shared_data, 2)
    data = FaceImageDataset.from_frame(frame, AFFECTNET, 32, IMAGENET_STATS)
    images = torch.stack([data[i][0] for i in range(len(data))])
    model = build_backbone("mobilenet_v2", len(AFFECTNET)).module
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights(data.targets, len(AFFECTNET)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(6):
        loss = loss_fn(model(images), data.targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_train_classifier_keeps_best_epoch(shared_data: Path) -> None:
    frame = _real_faces(shared_data, 2)
    data = FaceImageDataset.from_frame(frame, AFFECTNET, 32, IMAGENET_STATS)
    result = train_classifier(build_backbone("mobilenet_v2", len(AFFECTNET)).module,
                              data.relabel(data.targets, augment=True), data,
                              n_classes=len(AFFECTNET), epochs=2, batch_size=8,
                              loss_weights=class_weights(data.targets, len(AFFECTNET)))
    history = result.history
    assert list(history.columns) == ["epoch", "train_loss", "dev_loss", "dev_accuracy", "dev_f1_macro", "seconds"]
    assert len(history) == 2
    assert result.best_epoch == int(history["epoch"][history["dev_f1_macro"].idxmax()])
    assert result.dev_logits.shape == (len(data), len(AFFECTNET))
    best = history.loc[history["epoch"] == result.best_epoch, "dev_accuracy"].item()
    assert 100 * np.mean(result.dev_predictions == result.dev_targets) == pytest.approx(best)
