"""What the vision-only Table-5 baselines share: the SFE's input and output contract, padding masks and readouts.

Every baseline takes the single-extractor (SFE) input, zero post-padded per-frame features `x` (B, T, 1, feature_dim)
plus each clip's number of real frames `lengths` (B,), and returns a `DFEROutput` without auxiliary logits, so
`moede.training.dynamic.train_dfer` trains it exactly like the SFE baseline. Padded frames are zeroed right after
standardisation and every layer that mixes frames ignores them (key padding masks, packed LSTMs, masked pooling).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from moede.models.dfer import DFEROutput, FeatureStandardizer
from moede.models.registry import SpecIsConstructorArgs


def padding_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, frames) bool mask, True at the padded steps of each clip (the layout of `key_padding_mask`)."""
    return torch.arange(frames, device=lengths.device)[None, :] >= lengths[:, None]


def masked_mean(x: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
    """Mean of x (B, T, D) over each clip's real steps (`padded` (B, T) True where padded): (B, D)."""
    keep = (~padded).unsqueeze(-1).to(x.dtype)
    return (x * keep).sum(1) / keep.sum(1)


def last_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The step of x (B, T, D) at each clip's last real frame: (B, D)."""
    index = (lengths.to(x.device) - 1).view(-1, 1, 1).expand(-1, 1, x.shape[-1])
    return x.gather(1, index).squeeze(1)


def causal_mask(frames: int, device: torch.device) -> torch.Tensor:
    """(frames, frames) bool attention mask, True above the diagonal: step t attends to steps <= t only."""
    return torch.ones(frames, frames, dtype=torch.bool, device=device).triu(1)


def sinusoidal_positions(frames: int, dim: int, device: torch.device) -> torch.Tensor:
    """(frames, dim) sine/cosine position encoding of Vaswani et al. (2017)."""
    position = torch.arange(frames, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(frames, dim, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : dim // 2]
    return table


class FrameBaseline(SpecIsConstructorArgs, nn.Module):
    """Base of the baselines: standardise, zero the padded frames, `encode` each clip to one vector, classify.

    Subclasses set `name`, build `self.head` and `self.args` (their constructor arguments) and implement `encode`.
    """

    name: ClassVar[str]
    args: dict[str, Any]
    head: nn.Module

    def __init__(self, feature_dim: int) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.standardize = FeatureStandardizer(1, feature_dim)  # fitted by the stage like the SFE's

    def encode(self, frames: torch.Tensor, lengths: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """Map standardised frames (B, T, feature_dim), zero where padded, to clip embeddings (B, d)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> DFEROutput:
        """Classify zero post-padded clips `x` (B, T, 1, feature_dim) with `lengths` real frames each."""
        if x.dim() != 4 or x.shape[2] != 1 or x.shape[3] != self.feature_dim:
            raise ValueError(f"{self.name} expects features (B, T, 1, {self.feature_dim}), got {tuple(x.shape)}")
        if lengths.shape != (x.shape[0],) or int(lengths.min()) < 1 or int(lengths.max()) > x.shape[1]:
            raise ValueError(f"{self.name}: lengths must be (B,) in 1..T={x.shape[1]}, got {lengths.tolist()}")
        padded = padding_mask(lengths.to(x.device), x.shape[1])
        frames = self.standardize(x)[:, :, 0].masked_fill(padded.unsqueeze(-1), 0.0)
        embedding = self.encode(frames, lengths, padded)
        return DFEROutput(logits=self.head(embedding), aux_logits=None, emo_last=embedding.unsqueeze(1))

    def spec(self) -> dict[str, Any]:
        """JSON-able description, {"architecture": name, **constructor arguments}, that `build_model` rebuilds."""
        return {"architecture": self.name, **self.args}
