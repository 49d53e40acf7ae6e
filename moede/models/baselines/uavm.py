"""UAVM, vision only (Gong et al., IEEE SPL 2022, [15]): the visual path of the unified audio-visual model, as released
in github.com/YuanGongND/uavm (src/models/mm_trans.py, UnifiedTrans with the VGGSound recipe's sizes)."""

from __future__ import annotations

import torch
from torch import nn

from moede.models.baselines.base import FrameBaseline, masked_mean
from moede.models.dfer import FEATURE_DIM

DEPARTURE = (
    "UAVM [15] feeds audio and video features (each from its own ConvNeXt, pre-trained on AudioSet / ImageNet) into "
    "modality-specific transformer layers, then into transformer layers and a classifier shared by both modalities, "
    "trained on alternating audio and video batches. This version runs the visual path only with the released "
    "VGGSound recipe's sizes: LayerNorm + Linear to width 1024, learned positions, 3 modality-specific and 3 shared "
    "pre-norm ViT blocks (4 heads, GELU MLP 4x, no dropout), mean pooling and a LayerNorm + linear classifier. "
    "Departures: the front-end is our AffectNet MobileNetV2 (1280-d) instead of ImageNet ConvNeXt features; the "
    "shared layers never see audio, so 'shared' only names their place; the original's fixed 30-step input "
    "becomes a learned position table of max_frames (default 512) with masked mean pooling over each clip's real "
    "frames; the query/key/value projections keep torch's biases (the original has none); no AudioSet/VGGSound "
    "training; MoEDE's partitions, loss, Adam (lr 1e-3) and model selection.")


def _vit_blocks(d_model: int, heads: int, layers: int) -> nn.TransformerEncoder:
    return nn.TransformerEncoder(
        nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, activation="gelu", batch_first=True,
                                   norm_first=True), layers, enable_nested_tensor=False)


def _positions(max_frames: int, d_model: int) -> nn.Parameter:
    return nn.Parameter(nn.init.trunc_normal_(torch.zeros(max_frames, d_model), std=0.02))


class UAVMVisual(FrameBaseline):
    """LayerNorm(feature_dim) -> Linear(feature_dim -> d_model) + learned positions -> `specific_layers` pre-norm ViT
    blocks -> LayerNorm + learned positions -> `shared_layers` ViT blocks -> masked mean over real frames (B, d_model)
    -> LayerNorm -> Linear(d_model -> n_classes).

    Sizes are the released VGGSound recipe's (d_model 1024, 4 heads, 3 + 3 layers); `max_frames` (the length of the
    learned position tables) is ours: set it to the longest clip after frame sampling. `emo_last` is the pooled
    embedding (B, 1, d_model).
    """

    name = "UAVM"

    def __init__(self, feature_dim: int = FEATURE_DIM, d_model: int = 1024, heads: int = 4, specific_layers: int = 3,
                 shared_layers: int = 3, max_frames: int = 512, n_classes: int = 6) -> None:
        super().__init__(feature_dim)
        self.args = dict(feature_dim=feature_dim, d_model=d_model, heads=heads, specific_layers=specific_layers,
                         shared_layers=shared_layers, max_frames=max_frames, n_classes=n_classes)
        self.input_norm = nn.LayerNorm(feature_dim, eps=1e-6)
        self.project = nn.Linear(feature_dim, d_model)
        self.specific_positions = _positions(max_frames, d_model)
        self.specific = _vit_blocks(d_model, heads, specific_layers)
        self.shared_norm = nn.LayerNorm(d_model, eps=1e-6)
        self.shared_positions = _positions(max_frames, d_model)
        self.shared = _vit_blocks(d_model, heads, shared_layers)
        self.head = nn.Sequential(nn.LayerNorm(d_model, eps=1e-6), nn.Linear(d_model, n_classes))

    def encode(self, frames: torch.Tensor, lengths: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, feature_dim) -> the mean of the shared layers' outputs over each clip's real frames (B, d_model)."""
        steps = frames.shape[1]
        if steps > self.args["max_frames"]:
            raise ValueError(f"UAVM got clips of {steps} frames but was built with max_frames="
                             f"{self.args['max_frames']}; build it with max_frames >= the longest clip")
        h = self.project(self.input_norm(frames)) + self.specific_positions[:steps]
        h = self.specific(h, src_key_padding_mask=padded)
        h = self.shared(self.shared_norm(h) + self.shared_positions[:steps], src_key_padding_mask=padded)
        return masked_mean(h, padded)
