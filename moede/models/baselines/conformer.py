"""A compact conformer encoder (Gulati et al., 2020) whose every step ignores padded frames.

torchaudio's `Conformer` was the maintained candidate: its newest release (2.11.1) requires torch>=2.11 so it would
install beside our torch 2.14.1, but it ships compiled libraries built for torch 2.11 and, more to the point, its
convolution module runs the depthwise convolution and BatchNorm over padded frames, so a clip's output depends on the
padding next to it. This block masks both: padded steps are zeroed before the depthwise convolution (which then sees
exactly the zero "same" padding of an unpadded clip) and BatchNorm's statistics come from real frames only.
Block: x + FFN/2 -> x + MHSA -> x + Conv -> x + FFN/2 -> LayerNorm, with Swish FFNs, a GLU pointwise convolution,
a depthwise convolution, BatchNorm, Swish and a pointwise convolution. The attention adds no positional encoding
(Gulati et al. use Transformer-XL relative positions); the depthwise convolution carries the local order.
"""

from __future__ import annotations

import torch
from torch import nn


class FeedForward(nn.Module):
    """LayerNorm -> Linear(d, expansion*d) -> Swish -> Dropout -> Linear(expansion*d, d) -> Dropout."""

    def __init__(self, dim: int, expansion: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, expansion * dim), nn.SiLU(), nn.Dropout(dropout),
                                 nn.Linear(expansion * dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, d)."""
        return self.net(x)


class ConvolutionModule(nn.Module):
    """LayerNorm -> pointwise conv (d -> 2d) -> GLU -> depthwise conv (kernel k) -> BatchNorm -> Swish -> pointwise
    conv -> Dropout, with padded steps zeroed before the depthwise convolution and left out of BatchNorm."""

    def __init__(self, dim: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"conformer kernel_size must be odd (same-length output), got {kernel_size}")
        self.norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.batch_norm = nn.BatchNorm1d(dim)
        self.pointwise_out = nn.Conv1d(dim, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, d) with `padded` (B, T) True at padded steps -> (B, T, d), zero at padded steps."""
        keep = ~padded
        h = nn.functional.glu(self.pointwise_in(self.norm(x).transpose(1, 2)), dim=1)
        h = self.depthwise(h.masked_fill(padded.unsqueeze(1), 0.0)).transpose(1, 2)
        normed = torch.zeros_like(h)
        normed[keep] = self.batch_norm(h[keep])  # statistics over the real frames of the batch only
        h = self.pointwise_out(nn.functional.silu(normed).transpose(1, 2)).transpose(1, 2)
        return self.dropout(h).masked_fill(padded.unsqueeze(-1), 0.0)


class ConformerBlock(nn.Module):
    """One conformer block: half-step FFN, MHSA with a key padding mask, masked convolution module, half-step FFN,
    final LayerNorm. Fields: (B, T, dim) in and out."""

    def __init__(self, dim: int, heads: int, ffn_expansion: int = 4, kernel_size: int = 31,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.ffn_first = FeedForward(dim, ffn_expansion, dropout)
        self.attention_norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.attention_dropout = nn.Dropout(dropout)
        self.convolution = ConvolutionModule(dim, kernel_size, dropout)
        self.ffn_last = FeedForward(dim, ffn_expansion, dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, dim) with `padded` (B, T) True at padded steps -> (B, T, dim)."""
        x = x + 0.5 * self.ffn_first(x)
        h = self.attention_norm(x)
        h, _ = self.attention(h, h, h, key_padding_mask=padded, need_weights=False)
        x = x + self.attention_dropout(h)
        x = x + self.convolution(x, padded)
        return self.norm(x + 0.5 * self.ffn_last(x))


class ConformerEncoder(nn.Module):
    """A stack of `layers` conformer blocks of width `dim` on (B, T, dim) sequences with a (B, T) padding mask."""

    def __init__(self, dim: int, layers: int, heads: int, ffn_expansion: int = 4, kernel_size: int = 31,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ConformerBlock(dim, heads, ffn_expansion, kernel_size, dropout)
                                    for _ in range(layers))

    def forward(self, x: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
        """(B, T, dim) -> (B, T, dim); padded steps never reach real ones."""
        for block in self.blocks:
            x = block(x, padded)
        return x
