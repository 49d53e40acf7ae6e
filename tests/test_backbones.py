"""Every registered backbone (moede.models.backbone.BACKBONES) through every image model, on tiny inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from moede.models.backbone import BACKBONES, BackboneClassifier

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
