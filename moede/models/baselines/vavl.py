"""VAVL, vision only (Goncalves et al., IEEE TAC, [14]): its visual path, as released in
github.com/ilucasgoncalves/VAVL (VAVL/net/avmodel.py: Visual -> Shared -> MLP_v)."""

from __future__ import annotations

import torch
from torch import nn

from moede.models.baselines.base import FrameBaseline, masked_mean
from moede.models.baselines.conformer import ConformerEncoder
from moede.models.dfer import FEATURE_DIM

DEPARTURE = (
    "VAVL [14] takes EfficientNet-B2 face features (1408-d, pre-trained for facial expressions by Savchenko et al. "
    "[35]) and wav2vec2 audio, each through its own conformer encoder, then conformer layers shared by the "
    "modalities, per-modality heads, an audio-visual fusion head, and an auxiliary task that reconstructs the mean "
    "input feature (MSE, weight 2). This version runs the visual path with the released code's sizes: a bias-free "
    "projection to 50, a 3-layer conformer of width 512, a 2-layer shared conformer with a residual connection and "
    "LayerNorm, mean pooling over real frames and a 512-512-256-classes MLP (dropout 0.2). Departures: our "
    "AffectNet MobileNetV2 (1280-d) front-end instead of EfficientNet-B2; our compact conformer (8 heads, FFN 4x, "
    "kernel 31, dropout 0.1: the defaults of sooftware's conformer package, which we take the code's unshipped "
    "`conformer.model` import to be) whose attention has no positional encoding "
    "(Gulati et al. use relative positions; the depthwise convolution carries the local order) and no time "
    "subsampling; padding masked everywhere; the reconstruction task and "
    "the audio and fusion branches dropped (the loss is MoEDE's cross-entropy); MoEDE's partitions, Adam (lr 1e-3) "
    "and model selection instead of lr 5e-5 and development-loss selection.")


class VAVLVisual(FrameBaseline):
    """Linear(feature_dim -> projected_dim, no bias) -> Linear(projected_dim -> d_model) + dropout -> conformer
    (`specific_layers`) -> h; shared conformer (`shared_layers`) -> LayerNorm(shared(h) + h) -> masked mean over real
    frames (B, d_model) -> Linear(d_model, d_model) -> ReLU -> dropout -> Linear(d_model, head_hidden) ->
    Linear(head_hidden, n_classes).

    Sizes are the released VAVL code's (projection 50, width 512, 3 + 2 conformer layers, head 512/256, out dropout
    0.2, its train.py default); heads, FFN expansion, kernel and dropout are sooftware's conformer defaults
    (assumed: the code imports a `conformer.model` it does not ship).
    `emo_last` is the pooled embedding (B, 1, d_model).
    """

    name = "VAVL"

    def __init__(self, feature_dim: int = FEATURE_DIM, projected_dim: int = 50, d_model: int = 512,
                 specific_layers: int = 3, shared_layers: int = 2, heads: int = 8, ffn_expansion: int = 4,
                 kernel_size: int = 31, dropout: float = 0.1, head_hidden: int = 256, out_dropout: float = 0.2,
                 n_classes: int = 6) -> None:
        super().__init__(feature_dim)
        self.args = dict(feature_dim=feature_dim, projected_dim=projected_dim, d_model=d_model,
                         specific_layers=specific_layers, shared_layers=shared_layers, heads=heads,
                         ffn_expansion=ffn_expansion, kernel_size=kernel_size, dropout=dropout,
                         head_hidden=head_hidden, out_dropout=out_dropout, n_classes=n_classes)
        self.project = nn.Linear(feature_dim, projected_dim, bias=False)
        self.input_layer = nn.Sequential(nn.Linear(projected_dim, d_model), nn.Dropout(dropout))
        self.specific = ConformerEncoder(d_model, specific_layers, heads, ffn_expansion, kernel_size, dropout)
        self.shared = ConformerEncoder(d_model, shared_layers, heads, ffn_expansion, kernel_size, dropout)
        self.shared_norm = nn.LayerNorm(d_model)
        self.head = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Dropout(out_dropout),
                                  nn.Linear(d_model, head_hidden), nn.Linear(head_hidden, n_classes))

    def encode(self, frames: torch.Tensor, lengths: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, feature_dim) -> the mean shared-conformer output over each clip's real frames (B, d_model)."""
        h = self.specific(self.input_layer(self.project(frames)), padded)
        return masked_mean(self.shared_norm(self.shared(h, padded) + h), padded)
