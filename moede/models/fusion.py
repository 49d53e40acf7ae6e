"""Fusion of the emotion experts for 8-class static recognition (paper Table 3): FFE (frozen) and FTFE (fine-tuned).

Per expert a fully connected layer from its pooled features (1280 for MobileNetV2) -> 256, the eight 256-d vectors
concatenated to 2048, then a linear 8-class layer (softmax in the loss). The paper names no non-linearity between the
two layers (`relu=False`, the full profile); the demo puts a ReLU there (`relu=True`): without it the two layers
collapse into one rank-limited linear map.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from moede.models.experts import ExpertBank
from moede.models.registry import register_model


class FusionHead(nn.Module):
    """The fusion's trainable layers: expert features (B, E, feature_dim) -> per-expert feature_dim -> hidden (+ ReLU
    when `relu`) -> concat -> logits."""

    def __init__(self, n_experts: int, n_classes: int, hidden: int, relu: bool = True, feature_dim: int = 1280) -> None:
        super().__init__()
        self.relu = relu
        self.project = nn.ModuleList(nn.Linear(feature_dim, hidden) for _ in range(n_experts))
        self.classifier = nn.Linear(hidden * n_experts, n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return class logits (B, n_classes) for expert features (B, n_experts, feature_dim)."""
        parts = [layer(features[:, i]) for i, layer in enumerate(self.project)]
        if self.relu:
            parts = [torch.relu(part) for part in parts]
        return self.classifier(torch.cat(parts, dim=1))


@register_model("expert_fusion")
class ExpertFusion(nn.Module):
    """Expert bank + FusionHead; `fine_tune` False keeps the bank frozen (FFE), so the head can be trained on
    features computed once (moede.stages.static.train_fusion_stage does)."""

    def __init__(self, bank: ExpertBank, n_classes: int = 8, hidden: int = 256, fine_tune: bool = False,
                 relu: bool = True) -> None:
        super().__init__()
        self.bank = bank
        self.fine_tune = fine_tune
        self.hidden = hidden
        self.head = FusionHead(bank.n_experts, n_classes, hidden, relu, bank.num_features)
        if not fine_tune:
            bank.freeze()

    def train(self, mode: bool = True) -> "ExpertFusion":
        """Set training mode; a frozen bank (FFE) always stays in eval mode (batch norm running statistics)."""
        super().train(mode)
        if not self.fine_tune:
            self.bank.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits (B, n_classes) for images x (B,3,H,W)."""
        return self.head(self.bank(x))

    def spec(self) -> dict[str, Any]:
        """Return the constructor arguments needed to rebuild this model before loading its state dict."""
        return {"architecture": "expert_fusion", "n_experts": self.bank.n_experts,
                "n_classes": self.head.classifier.out_features, "hidden": self.hidden, "fine_tune": self.fine_tune,
                "padding": self.bank.padding, "relu": self.head.relu, "backbone": self.bank.backbone}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "ExpertFusion":
        """Build an untrained model with the shape described by `spec` (see `spec`)."""
        return cls(ExpertBank.from_spec(spec), n_classes=spec["n_classes"], hidden=spec["hidden"],
                   fine_tune=spec["fine_tune"], relu=spec.get("relu", True))
