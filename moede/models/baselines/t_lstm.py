"""T-LSTM, vision only (Huang et al., ICASSP 2020, [21]): a transformer encoder over the frames, then an LSTM, then
a classifier on the LSTM's last valid step."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from moede.models.baselines.base import FrameBaseline, sinusoidal_positions
from moede.models.dfer import FEATURE_DIM, HIDDEN

DEPARTURE = (
    "T-LSTM [21] encodes audio and video with transformer encoders, fuses them with multi-head attention and puts an "
    "LSTM before the final linear layer; it was built for continuous (per-frame) emotion on AVEC 2017. This version "
    "keeps the visual branch only and classifies each clip from the LSTM's last real step. Neither our paper nor we "
    "have the original sizes, so they are chosen: a linear projection of the 1280-d MobileNetV2 features to 256, "
    "sinusoidal positions, 2 post-norm encoder layers (4 heads, FFN 1024, dropout 0.1) and an LSTM of 256 units "
    "(MoEDE's width). Front-end: our AffectNet MobileNetV2 features instead of the original per-frame visual "
    "features; no audio-visual pre-training; trained from scratch with MoEDE's partitions, loss, Adam (lr 1e-3) "
    "and best-development-accuracy selection.")


class TLSTM(FrameBaseline):
    """Linear(feature_dim -> d_model) + sinusoidal positions -> `layers` transformer encoder layers (key padding
    mask) -> LSTM(d_model -> hidden) on the packed sequence -> Linear(hidden -> n_classes) on its last valid step.

    Sizes are chosen (neither our paper nor the part of [21] it quotes states them): d_model 256, 4 heads,
    2 layers, FFN 1024, dropout 0.1, LSTM 256 like MoEDE's. `emo_last` is the LSTM's last valid state (B, 1, hidden).
    """

    name = "T-LSTM"

    def __init__(self, feature_dim: int = FEATURE_DIM, d_model: int = 256, heads: int = 4, layers: int = 2,
                 ffn_dim: int = 1024, hidden: int = HIDDEN, dropout: float = 0.1, n_classes: int = 6) -> None:
        super().__init__(feature_dim)
        self.args = dict(feature_dim=feature_dim, d_model=d_model, heads=heads, layers=layers, ffn_dim=ffn_dim,
                         hidden=hidden, dropout=dropout, n_classes=n_classes)
        self.project = nn.Linear(feature_dim, d_model)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model, heads, ffn_dim, dropout, batch_first=True), layers,
            enable_nested_tensor=False)
        self.lstm = nn.LSTM(d_model, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def encode(self, frames: torch.Tensor, lengths: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, feature_dim) -> the LSTM state after each clip's last real frame (B, hidden)."""
        h = self.project(frames) + sinusoidal_positions(frames.shape[1], self.args["d_model"], frames.device)
        h = self.encoder(h, src_key_padding_mask=padded)
        packed = pack_padded_sequence(h, lengths.detach().cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return h_n[-1]
