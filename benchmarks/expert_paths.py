"""The ways of computing the experts' features that the book does not use, kept to be timed against its path
(moede.features.extract.fast_extractor: SequentialExperts) and the training path (moede.models.ExpertBank):
imported as `expert_paths`, since each benchmark runs with benchmarks/ on its path."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from moede.features.extract import extract_clip_features, fast_extractor
from moede.models.pretrained import IMAGENET_STATS, Normalisation


def _features_of(module: nn.Module) -> nn.Module:
    """The `features` block of a backbone classifier, or the module itself when it already is one."""
    return module.features if hasattr(module, "features") else module


def extract_features_sequential(experts: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Run each expert's feature extractor in turn on `x` (B,3,H,W); return (B, n_experts, num_features)."""
    return torch.stack([_features_of(e)(x).mean(dim=(2, 3)) for e in experts], dim=1)


def extract_features_vmap(experts: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Run the experts' feature extractors with torch.func (stacked weights + vmap); return (B, n, num_features)."""
    features = [_features_of(e) for e in experts]
    params, buffers = torch.func.stack_module_state(features)
    base = copy.deepcopy(features[0]).to("meta")

    def one(p: dict, b: dict, images: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(base, (p, b), (images,)).mean(dim=(2, 3))

    return torch.func.vmap(one, in_dims=(0, 0, None))(params, buffers, x).transpose(0, 1)


class OnlineFeatures:
    """Features recomputed from aligned frames by the expert bank at every access (what the feature cache avoids);
    the same `clip(sample_id)` interface as moede.features.FeatureCache."""

    def __init__(self, frames: Mapping[str, np.ndarray], bank: nn.Module, batch_size: int = 64,
                 device: str | torch.device = "cpu", normalisation: Normalisation = IMAGENET_STATS) -> None:
        self.frames, self.batch_size, self.device, self.normalisation = frames, batch_size, device, normalisation
        self.bank = fast_extractor(bank).to(device)

    def clip(self, sample_id: str) -> np.ndarray:
        """Return the (T, E, D) float16 features of one clip, computed now."""
        return extract_clip_features(self.bank, self.frames[sample_id], self.batch_size, self.device,
                                     self.normalisation)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self.frames
