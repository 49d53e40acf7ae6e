"""AuxFormer, vision only (Goncalves and Busso, ICASSP 2022 / TAC 2022, [12], [13]): its unimodal visual auxiliary
network f_v, as released in github.com/ilucasgoncalves/AuxFormer (net/avmodel_AF.py)."""

from __future__ import annotations

import math

import torch
from torch import nn

from moede.models.baselines.base import FrameBaseline, causal_mask, last_valid
from moede.models.dfer import FEATURE_DIM

DEPARTURE = (
    "AuxFormer [12], [13] fuses audio (wav2vec2) and video with cross-modal transformers and adds one auxiliary "
    "network per modality, all trained together (0.33 weight each, random modality drop-out). This version is the "
    "visual auxiliary network alone with the released code's sizes: width 50, 5 pre-norm self-attention layers of "
    "10 heads with a causal mask and no positional embedding, the whole stack applied three times with shared "
    "weights, inputs scaled by sqrt(50), dropouts 0.25 (embedding) / 0.1 (attention, FFN, residual) / 0.2 (head), "
    "the last step read out, and a residual 50-512-256-50 MLP before the linear classifier. Departures: the "
    "original visual input was already 50-d, ours is the 1280-d MobileNetV2 feature mapped to 50 by a bias-free "
    "linear layer (as its audio branch does with a 1x1 convolution); the readout takes each clip's last REAL frame "
    "instead of the last padded step; no audio, no audio-visual training, no cross-modal networks; Adam at lr 1e-3 "
    "with MoEDE's partitions and model selection instead of lr 7.25e-4, 30 epochs and development-loss selection.")


class AuxFormerVisual(FrameBaseline):
    """Linear(feature_dim -> d_model, no bias) -> [x * sqrt(d_model) -> embedding dropout -> `layers` pre-norm causal
    transformer layers (ReLU FFN 4*d_model) -> LayerNorm] applied `passes` times with the same weights -> last valid
    step r (B, d_model) -> r + MLP(d_model -> 512 -> 256 -> d_model) -> Linear(d_model -> n_classes).

    Sizes are those of the released AuxFormer code (d_model 50, 10 heads, 5 layers, 3 passes, MLP 512/256, dropouts
    0.25/0.1/0.2); the bias-free input projection is ours (see DEPARTURES). `emo_last` is r + MLP(r) (B, 1, d_model).
    """

    name = "AuxFormer"

    def __init__(self, feature_dim: int = FEATURE_DIM, d_model: int = 50, heads: int = 10, layers: int = 5,
                 passes: int = 3, mlp_dims: tuple[int, int] | list[int] = (512, 256), dropout: float = 0.1,
                 embed_dropout: float = 0.25, out_dropout: float = 0.2, n_classes: int = 6) -> None:
        super().__init__(feature_dim)
        wide, narrow = (int(d) for d in mlp_dims)
        self.args = dict(feature_dim=feature_dim, d_model=d_model, heads=heads, layers=layers, passes=passes,
                         mlp_dims=[wide, narrow], dropout=dropout, embed_dropout=embed_dropout,
                         out_dropout=out_dropout, n_classes=n_classes)
        self.project = nn.Linear(feature_dim, d_model, bias=False)
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout, batch_first=True, norm_first=True),
            layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.mlp = nn.Sequential(nn.Linear(d_model, wide), nn.ReLU(), nn.Dropout(out_dropout),
                                 nn.Linear(wide, narrow), nn.ReLU(), nn.Dropout(out_dropout),
                                 nn.Linear(narrow, d_model))
        self.head = nn.Linear(d_model, n_classes)

    def encode(self, frames: torch.Tensor, lengths: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, feature_dim) -> the residual MLP output at each clip's last real frame (B, d_model)."""
        h = self.project(frames)
        future = causal_mask(frames.shape[1], frames.device)
        scale = math.sqrt(self.args["d_model"])
        for _ in range(self.args["passes"]):
            h = self.encoder(self.embed_dropout(h * scale), mask=future, src_key_padding_mask=padded, is_causal=True)
        last = last_valid(h, lengths)
        return last + self.mlp(last)
