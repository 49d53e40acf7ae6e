"""Every registered backbone (moede.models.backbone.BACKBONES) through every image model, on tiny inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops.misc import Conv2dNormActivation

from moede.evaluation.cams import grad_cams
from moede.models import backbone as backbone_module
from moede.models.backbone import BACKBONES, IMAGENET_BACKBONES, BackboneClassifier, build_backbone, feature_blocks
from moede.models.checkpoint import load_checkpoint, save_checkpoint
from moede.models.experts import ExpertBank, stack_features
from moede.models.fusion import ExpertFusion
from moede.models.gating import GatedMoEDE, GatedPipeline
from moede.models.lora import lora_adapters, lora_expert_from_sfer
from moede.models.pretrained import resolve_initialisation
from moede.models.registry import build_model
from moede.training.frozen import FusionFromBlock
from tiny_models import one_by_one, sharing_blocks

SIZE = 32  # the smallest face RunConfig allows: every backbone halves the side five times


def _classifier(backbone: str, num_classes: int = 3, seed: int = 0) -> BackboneClassifier:
    """A `backbone` classifier with non-trivial batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = BackboneClassifier(backbone, num_classes)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("backbone", BACKBONES)
def test_forward_features_is_the_unpooled_map_and_forward_head_pools_and_classifies(backbone: str) -> None:
    model = _classifier(backbone)
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        maps = model.forward_features(x)
        pooled = model.forward_head(maps, pre_logits=True)
        logits = model.forward_head(maps)
        torchvision_logits = model.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(model.features(x), 1), 1))
        assert maps.shape == (2, model.num_features, SIZE // 32, SIZE // 32)
        assert torch.equal(pooled, maps.mean(dim=(2, 3)))  # what the feature caches store
        assert torch.equal(logits, model(x)) and torch.equal(logits, torchvision_logits)  # no output changes
    assert logits.shape == (2, 3)


def _experts(backbone: str, n: int, seed: int = 1) -> list[BackboneClassifier]:
    """n binary `backbone` experts with distinct weights."""
    return [_classifier(backbone, 2, seed + i) for i in range(n)]


def _experts_sharing_blocks(backbone: str, n: int, start: int) -> list[BackboneClassifier]:
    """n binary experts whose blocks before `start` are identical and later blocks differ."""
    return sharing_blocks(_classifier(backbone, 2), n, start)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_build_backbone_gives_the_classifier_its_feature_size_and_cam_layer(backbone: str) -> None:
    built = build_backbone(backbone, 3)
    head = next(m for m in built.module.classifier if isinstance(m, nn.Linear))
    assert built.num_features == built.module.num_features == head.in_features
    assert built.module.classifier[-1].out_features == 3 and built.module.moede_init.startswith("random")
    assert built.cam_layer is built.module.features[-1] is built.module.cam_layer
    assert len(built.module.features) == feature_blocks(backbone)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_cam_layer_gives_one_grad_cam_map_per_image(backbone: str) -> None:
    model = _classifier(backbone, 2)
    cams = grad_cams(model, torch.randn(2, 3, SIZE, SIZE), model.cam_layer)
    assert cams.maps.shape == (2, SIZE, SIZE) and np.isfinite(cams.maps).all()
    assert cams.probabilities.shape == (2,)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_a_classifier_rebuilds_from_its_spec(backbone: str, tmp_path: Path) -> None:
    model = _classifier(backbone)
    rebuilt = build_model(model.spec())
    assert type(rebuilt) is BackboneClassifier and rebuilt.spec() == model.spec()
    rebuilt.load_state_dict(model.state_dict())
    loaded, meta = load_checkpoint(save_checkpoint(model, tmp_path / "m.pt", config={}, classes="abc", metrics={},
                                                   source=None))
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x)) and torch.equal(loaded(x), model(x))
    assert meta["spec"]["architecture"] == backbone


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_expert_bank_runs_grouped_and_equals_the_experts_run_one_by_one(backbone: str) -> None:
    experts = _experts(backbone, 3)
    bank = ExpertBank(experts).freeze()
    assert bank.mode == "grouped", bank.why  # every registered backbone stacks; one that cannot falls back (below)
    assert bank.backbone == backbone and bank.num_features == experts[0].num_features
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        expected = one_by_one(experts, x)
        torch.testing.assert_close(bank(x), expected, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(expected[:, 0], experts[0].forward_head(experts[0].forward_features(x), True))
    assert bank(x).shape == (2, 3, bank.num_features)
    assert not torch.allclose(expected[:, 0], expected[:, 1], atol=1e-3)  # the experts really differ


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_expert_bank_freezes_and_gives_subsets_and_separate_experts(backbone: str) -> None:
    experts = _experts(backbone, 3, seed=4)
    bank = ExpertBank(experts)
    assert bank.training and any(p.requires_grad for p in bank.parameters())
    assert bank.freeze() is bank and not bank.training and not any(p.requires_grad for p in bank.parameters())
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        full = bank(x)
        torch.testing.assert_close(bank.subset([2, 0]).freeze()(x), full[:, [2, 0]], atol=1e-5, rtol=1e-5)
        for index, features in enumerate(bank.unstack()):
            torch.testing.assert_close(features.eval()(x).mean(dim=(2, 3)), full[:, index], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_expert_bank_runs_from_a_shared_frozen_block(backbone: str) -> None:
    start = feature_blocks(backbone) - 2
    experts = _experts_sharing_blocks(backbone, 2, start)
    fusion = ExpertFusion(ExpertBank(experts), n_classes=3, fine_tune=True).eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        shared = experts[0].features[:start](x)
        torch.testing.assert_close(fusion.bank.forward_from(shared, start), fusion.bank(x), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(FusionFromBlock(fusion, start)(shared), fusion(x), atol=1e-4, rtol=1e-4)
    frozen = [p.requires_grad for network in fusion.bank.networks for p in network[:start].parameters()]
    assert frozen and not any(frozen)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_fusion_rebuilds_from_its_checkpoint(backbone: str, tmp_path: Path) -> None:
    fusion = ExpertFusion(ExpertBank(_experts(backbone, 2)), n_classes=3).eval()
    loaded, meta = load_checkpoint(save_checkpoint(fusion, tmp_path / "f.pt", config={}, classes="abc", metrics={},
                                                   source=None))
    assert meta["spec"]["backbone"] == backbone and loaded.bank.mode == fusion.bank.mode
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(loaded(x), fusion(x))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_a_lora_expert_of_every_backbone(backbone: str, tmp_path: Path) -> None:
    sfer = _classifier(backbone, 8)
    start = feature_blocks(backbone) - 3
    expert = lora_expert_from_sfer(sfer, rank=2, start=start).eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(expert.forward_head(expert.forward_features(x), pre_logits=True),
                                   sfer.forward_head(sfer.forward_features(x), pre_logits=True))
        for adapter in lora_adapters(expert):
            adapter.up.normal_(0, 0.05)
        torch.testing.assert_close(expert.merged()(x), expert(x), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(ExpertBank([expert]).freeze()(x)[:, 0],
                                   expert.forward_head(expert.forward_features(x), pre_logits=True),
                                   atol=1e-4, rtol=1e-4)
        loaded, _ = load_checkpoint(save_checkpoint(expert, tmp_path / "e.pt", config={}, classes="ab", metrics={},
                                                    source=None))
        assert torch.equal(loaded(x), expert(x))
    with pytest.raises(ValueError, match=f"{backbone}.*no 1x1 convolution"):
        lora_expert_from_sfer(sfer, rank=2, start=feature_blocks(backbone))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_gated_pipeline_of_every_backbone(backbone: str) -> None:
    sfer, experts = _classifier(backbone, 8), _experts(backbone, 2)
    model = GatedMoEDE(n_experts=2, feature_dim=sfer.num_features, hidden=4, n_classes=3, gate_k=1).eval()
    with torch.no_grad():
        out = GatedPipeline(sfer, experts, model).eval()(torch.randn(3, 3, SIZE, SIZE))
    assert out.logits.shape == (1, 3)


@pytest.mark.parametrize("backbone", [b for b in BACKBONES if b not in IMAGENET_BACKBONES])
def test_imagenet_weights_are_refused_for_a_backbone_without_them(backbone: str, tmp_path: Path) -> None:
    path = tmp_path / "imagenet.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), path)
    message = (f"backbone {backbone!r} has no ImageNet weights in moede (only {IMAGENET_BACKBONES}); "
               "set init=random (--set init=random)")
    with pytest.raises(ValueError) as refused:  # the message build_backbone has always given
        build_backbone(backbone, 2, resolve_initialisation("imagenet", path, None))
    assert str(refused.value) == message


def test_the_backbone_module_states_what_is_pluggable() -> None:
    doc = backbone_module.__doc__
    assert "one-argument change" not in doc
    assert all(name in doc for name in IMAGENET_BACKBONES) and "ExpertBank" in doc and "sequential" in doc


def _shuffling_network(weights: None = None) -> nn.Module:
    """A tiny torchvision-style network whose `features` mix channels across groups (a channel shuffle)."""
    network = nn.Module()
    network.features = nn.Sequential(Conv2dNormActivation(3, 8, stride=2), nn.ChannelShuffle(2),
                                     Conv2dNormActivation(8, 16, kernel_size=1))
    network.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(16, 1000))
    return network


def test_a_backbone_the_bank_cannot_stack_runs_its_experts_one_after_another(monkeypatch: pytest.MonkeyPatch,
                                                                             tmp_path: Path) -> None:
    monkeypatch.setitem(BACKBONES, "shuffling", _shuffling_network)
    experts = _experts_sharing_blocks("shuffling", 3, 1)
    fusion = ExpertFusion(ExpertBank(experts), n_classes=3, fine_tune=True).eval()
    bank = fusion.bank
    assert bank.mode == "sequential" and "'1' is a ChannelShuffle" in bank.why and not hasattr(bank, "stacked")
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        expected = one_by_one(experts, x)
        torch.testing.assert_close(bank(x), expected, atol=1e-5, rtol=1e-5)
        grouped = stack_features(experts).eval()(x.repeat(1, 3, 1, 1)).mean(dim=(2, 3)).view(2, 3, 16)
        assert not torch.allclose(grouped, expected, atol=1e-3)  # stacking this backbone would be wrong
        torch.testing.assert_close(bank.subset([2, 0]).freeze()(x), expected[:, [2, 0]])
        for index, features in enumerate(bank.unstack()):
            torch.testing.assert_close(features(x).mean(dim=(2, 3)), expected[:, index])
        shared = experts[0].features[:1](x)
        torch.testing.assert_close(FusionFromBlock(fusion, 1)(shared), fusion(x), atol=1e-5, rtol=1e-5)
        loaded, meta = load_checkpoint(save_checkpoint(fusion, tmp_path / "f.pt", config={}, classes="abc",
                                                       metrics={}, source=None))
        assert meta["spec"]["backbone"] == "shuffling" and loaded.bank.mode == "sequential"
        assert torch.equal(loaded(x), fusion(x))
