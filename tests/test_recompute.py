"""Activation recomputation (moede.models.recompute): the same training bit for bit, with fewer activations kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from moede.models.backbone import BackboneClassifier
from moede.models.experts import ExpertBank
from moede.models.fusion import ExpertFusion
from moede.models.pretrained import IMAGENET_STATS
from moede.models.recompute import recomputing, run_blocks
from moede.training.frozen import FromBlock
from moede.training.images import FaceImageDataset
from moede.training.static import train_classifier

SIZE = 32


def _faces(n: int, seed: int = 0) -> FaceImageDataset:
    """`n` random 32-px uint8 faces of 3 classes, augmented by the paper's affine."""
    data = np.random.default_rng(seed)
    images = torch.from_numpy(data.integers(0, 256, (n, 3, SIZE, SIZE), dtype=np.uint8))
    return FaceImageDataset(images, data.integers(0, 3, n), IMAGENET_STATS, augment=True)


Trained = tuple[dict[str, torch.Tensor], list[float]]  # a model's state and its train losses (`_trained`)


def _trained(model: nn.Module, recompute: bool) -> Trained:
    """`model`'s state (weights and batch-norm statistics) and train losses after two augmented epochs."""
    train, dev = _faces(20), _faces(6, seed=1)
    result = train_classifier(model, train, dev.relabel(dev.targets, augment=False), n_classes=3, epochs=2,
                              batch_size=8, recompute_activations=recompute)
    return result.model.state_dict(), result.history["train_loss"].tolist()


def _assert_same(a: Trained, b: Trained) -> None:
    assert a[0].keys() == b[0].keys()
    differing = [k for k in a[0] if not torch.equal(a[0][k], b[0][k])]
    assert not differing, f"recomputation changed {differing[:3]}"
    assert a[1] == b[1]


def _classifier() -> BackboneClassifier:
    torch.manual_seed(0)
    return BackboneClassifier("mobilenet_v2", 3)


def test_a_recomputed_training_ends_with_the_same_weights_and_statistics_bit_for_bit() -> None:
    plain, recomputed = _trained(_classifier(), False), _trained(_classifier(), True)
    _assert_same(plain, recomputed)  # batch-norm counters included: each batch counted once


@pytest.mark.parametrize("from_block", [0, 3])
def test_a_fine_tuned_fusion_and_a_model_from_a_frozen_block_train_the_same_recomputed(from_block: int) -> None:
    def fusion() -> nn.Module:
        torch.manual_seed(0)
        experts = [BackboneClassifier("mobilenet_v2", 2) for _ in range(2)]
        return ExpertFusion(ExpertBank(experts), n_classes=3, hidden=8, fine_tune=True)

    def partial() -> nn.Module:
        return FromBlock(_classifier(), from_block)

    build = fusion if from_block == 0 else partial
    images = torch.randn(4, 3, SIZE, SIZE) if from_block == 0 else torch.randn(4, 24, 8, 8)
    states = []
    for recompute in (False, True):
        model = build().train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        with recomputing(model, recompute):
            nn.functional.cross_entropy(model(images), torch.tensor([0, 1, 2, 0])).backward()
        optimizer.step()
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    counts = {int(v) for k, v in states[1].items() if k.endswith("num_batches_tracked")}
    assert max(counts) == 1  # one step, counted once (blocks before `from_block` never ran)


def _saved_bytes(model: nn.Module, images: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of `model(images)`."""
    total = [0]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        total[0] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(images).sum()
    return total[0]


def test_recomputation_keeps_a_fraction_of_the_activations() -> None:
    model, images = _classifier().train(), torch.randn(8, 3, 96, 96)
    plain = _saved_bytes(model, images)
    with recomputing(model):
        kept = _saved_bytes(model, images)
    assert kept < 0.35 * plain, (kept, plain)
    assert model.recompute_activations is False  # the flag lasts as long as the context


def test_evaluation_and_cams_run_the_blocks_as_they_are() -> None:
    model = _classifier().eval()
    calls = []
    model.features[-1].register_forward_hook(lambda *_: calls.append(1))
    with recomputing(model):
        model(torch.randn(2, 3, SIZE, SIZE, requires_grad=True)).sum().backward()  # eval with gradients: Grad-CAM
    assert calls == [1]  # a recomputation would have run the hooked block twice
    assert torch.equal(run_blocks(model.features, torch.ones(1, 3, SIZE, SIZE), recompute=True),
                       model.features(torch.ones(1, 3, SIZE, SIZE)))


def test_a_model_without_image_networks_is_refused_with_the_setting_to_change() -> None:
    with pytest.raises(ValueError, match="recompute_activations=false"), recomputing(nn.Linear(2, 2)):
        pass
