"""TensorFlow "SAME" padding for torchvision networks, and swapping a classifier's head.

Weights converted from TensorFlow expect TF's "SAME" padding in the stride-2 convolutions (one extra row and column
at the bottom/right instead of one on every side); `padding="tf_same"` swaps those layers for `SamePadConv2d`, which
keeps torchvision's parameter names, so every state dict and checkpoint stays a plain torchvision one.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

PADDINGS = ("symmetric", "tf_same")


class SamePadConv2d(nn.Conv2d):
    """A Conv2d that pads its input as TensorFlow's "SAME" (the odd pixel of padding goes bottom/right)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad x (B,C,H,W) so that the output has ceil(H/stride) x ceil(W/stride) positions, then convolve."""
        pads = []
        for size, kernel, stride in ((x.shape[3], self.kernel_size[1], self.stride[1]),
                                     (x.shape[2], self.kernel_size[0], self.stride[0])):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return self._conv_forward(F.pad(x, pads), self.weight, self.bias)


def _same_pad(conv: nn.Conv2d) -> SamePadConv2d:
    """A SamePadConv2d with `conv`'s shape and (shared) parameters."""
    layer = SamePadConv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, padding=0,
                          dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None)
    layer.weight = conv.weight
    if conv.bias is not None:
        layer.bias = conv.bias
    return layer


def use_padding(model: nn.Module, padding: str) -> nn.Module:
    """Make `model`'s stride-2 convolutions pad `padding` ("symmetric": torchvision's; "tf_same"); return it."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if padding == "tf_same":
        for name, module in list(model.named_modules()):
            if type(module) is nn.Conv2d and module.stride[0] == 2:
                model.set_submodule(name, _same_pad(module))
    return model


def padding_of(model: nn.Module) -> str:
    """Which padding `model`'s stride-2 convolutions use ("tf_same" when any is a SamePadConv2d)."""
    return "tf_same" if any(isinstance(m, SamePadConv2d) for m in model.modules()) else "symmetric"


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace the last linear layer of a torchvision classifier (`model.classifier[-1]`) by a fresh one with
    `num_classes` outputs; return the model."""
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    return model
