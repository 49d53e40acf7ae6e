"""The bank of emotion experts: all experts' backbone feature extractors run on a batch in one pass.

The experts share one architecture, so their convolutions are stacked into grouped convolutions: expert `e`
owns channels `[e*C, (e+1)*C)` of every layer, every 1x1/3x3 convolution gets `groups *= n_experts`, and the
input image is repeated once per expert along the channel axis. One forward pass then computes all experts'
pooled features (1280-d for MobileNetV2); the result equals running the experts one after another up to float
rounding. That holds only when every layer keeps each expert's channels apart (`STACKABLE`: convolutions,
batch norms, per-channel activations and pooling, and the blocks of MobileNetV2 and MobileNetV3, whose residual sums
and squeeze-excitation gates are per channel); a backbone with any other layer (a channel shuffle, a concatenation, a
layer norm, stochastic depth dropping whole samples) runs its experts one after another instead, and the bank says so
(`ExpertBank.mode`, `ExpertBank.why`).
The bank is the path of training through the experts (the FTFE fine-tunes it, fusions run it on augmented images);
on a CPU the FTFE trains a copy running its experts in turn (`rebuilt(grouped=False)`: 0.76 s against 1.42 s per
step of 32 faces at 160 px on the 2-core machine, `benchmarks/bench_experts.py --train`) and stores the grouped form
(`rebuilt()`).
Every frozen feature the book computes goes through moede.features.extract.fast_extractor (SequentialExperts)
instead. `benchmarks/bench_experts.py --threads 1 --sizes 64 --repeats 5` (8 experts, batch 16, torch 2.14, on the
shared 2-core machine at load ~5): SequentialExperts 25.2 frames/s, the experts in turn 21.5, this bank in
channels-last memory format (the default, `channels_last=True`) 19.7, in the default format 10.6, torch.func vmap
6.2 (benchmarks/expert_paths.py holds vmap and the experts in turn; an older torch on a quiet machine had measured the
channels-last bank 6.7x the experts in turn at 64 px and 3.5x at 224 px).
The stacked network is an ordinary `nn.Module`: it can be frozen (FFE) or fine-tuned end to end (FTFE); in
training mode its batch norm statistics are per channel, hence per expert, exactly as for separate models.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torchvision.models import mobilenetv2, mobilenetv3
from torchvision.ops.misc import Conv2dNormActivation, SqueezeExcitation

from moede.models.backbone import BackboneClassifier, output_channels
from moede.models.lora import plain_expert
from moede.models.mobilenet import SamePadConv2d, padding_of
from moede.models.recompute import run_blocks
from moede.models.registry import register_model

log = logging.getLogger(__name__)

# The layer types whose grouped copies compute each expert's channels from that expert's channels alone: the leaves
# `_stack_leaf` stacks, per-channel activations and pooling, and containers whose forward chains their children, adds
# a residual or scales by a per-channel gate. Exact types: a subclass may compute anything.
STACKABLE = frozenset({
    nn.Conv2d, SamePadConv2d, nn.BatchNorm2d,
    nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.Sigmoid, nn.Identity,
    nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.MaxPool2d,
    nn.Sequential, Conv2dNormActivation, mobilenetv2.InvertedResidual, mobilenetv3.InvertedResidual,
    SqueezeExcitation,
})


def _features_of(module: nn.Module) -> nn.Module:
    """Return the `features` block of a backbone classifier, or the module itself when it already is one."""
    return module.features if hasattr(module, "features") else module


def why_not_stackable(features: nn.Module) -> str | None:
    """Why a `features` block cannot be stacked into grouped convolutions (its first layer outside `STACKABLE`, or a
    batch norm without affine weights or running statistics); None when it can."""
    for name, module in features.named_modules():
        where = f"layer {name!r}" if name else "the block"
        if type(module) not in STACKABLE:
            return f"{where} is a {type(module).__name__}, not known to keep each expert's channels apart"
        if isinstance(module, nn.BatchNorm2d) and not (module.affine and module.track_running_stats):
            return f"{where} is a batch norm without affine weights or running statistics"
    return None


def _stack_leaf(parts: Sequence[nn.Module]) -> nn.Module:
    """Stack equal Conv2d (of any padding subclass) or BatchNorm2d layers of several networks into one grouped layer."""
    n, first = len(parts), parts[0]
    if isinstance(first, nn.Conv2d):
        layer = type(first)(first.in_channels * n, first.out_channels * n, first.kernel_size, first.stride,
                            first.padding, first.dilation, groups=first.groups * n, bias=first.bias is not None,
                            padding_mode=first.padding_mode)
        layer.weight = nn.Parameter(torch.cat([p.weight.detach() for p in parts]).clone())
        if first.bias is not None:
            layer.bias = nn.Parameter(torch.cat([p.bias.detach() for p in parts]).clone())
        return layer
    layer = nn.BatchNorm2d(first.num_features * n, eps=first.eps, momentum=first.momentum)
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(layer, name).copy_(torch.cat([getattr(p, name) for p in parts]))
        layer.num_batches_tracked.copy_(first.num_batches_tracked)
    return layer


def _slice_leaf(layer: nn.Module, index: int, n: int) -> nn.Module:
    """Cut expert `index` of `n` out of a stacked Conv2d or BatchNorm2d layer."""
    if isinstance(layer, nn.Conv2d):
        out = layer.out_channels // n
        part = type(layer)(layer.in_channels // n, out, layer.kernel_size, layer.stride, layer.padding,
                           layer.dilation, groups=layer.groups // n, bias=layer.bias is not None,
                           padding_mode=layer.padding_mode)
        part.weight = nn.Parameter(layer.weight.detach()[index * out:(index + 1) * out].clone())
        if layer.bias is not None:
            part.bias = nn.Parameter(layer.bias.detach()[index * out:(index + 1) * out].clone())
        return part
    size = layer.num_features // n
    part = nn.BatchNorm2d(size, eps=layer.eps, momentum=layer.momentum)
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(part, name).copy_(getattr(layer, name)[index * size:(index + 1) * size])
        part.num_batches_tracked.copy_(layer.num_batches_tracked)
    return part


def _map_leaves(template: nn.Module, make) -> nn.Module:
    """Deep-copy `template` and replace each Conv2d/BatchNorm2d (by name) with `make(name)`."""
    out = copy.deepcopy(template)
    for name, module in list(out.named_modules()):
        if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)):
            out.set_submodule(name, make(name))
    return out


def stack_features(features: Sequence[nn.Module]) -> nn.Module:
    """Stack several backbones' `features` blocks (one architecture) into one network of grouped convolutions."""
    features = [_features_of(f) for f in features]
    return _map_leaves(features[0], lambda name: _stack_leaf([f.get_submodule(name) for f in features]))


@register_model("expert_bank")
class ExpertBank(nn.Module):
    """All experts' feature extractors (one backbone) as one network: forward (B,3,H,W) -> (B, n, num_features).

    `mode` says how they run: "grouped" (stacked into grouped convolutions, `stacked`) when every layer of the backbone
    is `STACKABLE` and `grouped` is True, else "sequential" (one copy per expert in `separate`, run in turn); `why`
    gives the reason.
    `backbone` names their architecture (moede.models.backbone.BACKBONES); by default the experts' own. LoRA experts
    (moede.models.lora) join merged: one weight set per expert, the FLOPs of full experts."""

    def __init__(self, experts: Sequence[nn.Module], channels_last: bool = True, backbone: str | None = None,
                 grouped: bool = True) -> None:
        super().__init__()
        if not experts:
            raise ValueError("ExpertBank needs at least one expert")
        experts = [plain_expert(e) for e in experts]
        self.n_experts = len(experts)
        self.backbone = backbone or getattr(experts[0], "architecture", "mobilenet_v2")
        self.num_features = output_channels(_features_of(experts[0]))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.recompute_activations = False  # set by moede.models.recompute.recomputing while a training runs
        reason = why_not_stackable(_features_of(experts[0]))
        if reason is None and grouped:
            self.mode = "grouped"
            self.why = f"every layer of {self.backbone} keeps each expert's channels apart"
            self.stacked = stack_features(experts).to(memory_format=self.memory_format)
        else:
            self.mode = "sequential"
            self.why = (f"{self.backbone} cannot run as grouped convolutions: {reason}" if reason else
                        "asked to run the experts in turn (grouped=False)")
            if reason:
                log.info("the %s experts run one after another: %s", self.backbone, self.why)
            self.separate = nn.ModuleList(copy.deepcopy(_features_of(e)).to(memory_format=self.memory_format)
                                          for e in experts)

    @property
    def networks(self) -> list[nn.Sequential]:
        """The networks holding the experts' blocks: the one grouped network, or one network per expert."""
        return [self.stacked] if self.mode == "grouped" else list(self.separate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the experts' globally average-pooled features, shape (B, n_experts, num_features)."""
        if self.mode == "sequential":
            return self.forward_from(x, 0)
        images = x.repeat(1, self.n_experts, 1, 1).contiguous(memory_format=self.memory_format)
        out = run_blocks(self.stacked, images, self.recompute_activations).mean(dim=(2, 3))
        return out.view(x.shape[0], self.n_experts, self.num_features)

    def forward_from(self, activations: torch.Tensor, start: int) -> torch.Tensor:
        """Features (B, n_experts, num_features) from block `start` on, given the output (B, C, h, w) of blocks
        `[:start]`, which every expert must share (the same frozen weights): it is fed to each expert's block
        `start`."""
        if self.mode == "sequential":
            x = activations.contiguous(memory_format=self.memory_format)
            return torch.stack([run_blocks(network[start:], x, self.recompute_activations).mean(dim=(2, 3))
                                for network in self.separate], dim=1)
        x = activations.repeat(1, self.n_experts, 1, 1).contiguous(memory_format=self.memory_format)
        out = run_blocks(self.stacked[start:], x, self.recompute_activations)
        return out.mean(dim=(2, 3)).view(activations.shape[0], self.n_experts, self.num_features)

    def rebuilt(self, grouped: bool = True) -> "ExpertBank":
        """A bank of copies of these experts, grouped when `grouped` and the backbone allows it (the form a checkpoint
        stores), else run one after another: the faster way to train them on a CPU (benchmarks/bench_experts.py
        --train)."""
        return ExpertBank(self.unstack(), channels_last=self.memory_format == torch.channels_last,
                          backbone=self.backbone, grouped=grouped)

    def unstack(self) -> list[nn.Module]:
        """Return one separate `features` block per expert (copies of the current weights)."""
        if self.mode == "sequential":
            return [copy.deepcopy(network) for network in self.separate]
        return [_map_leaves(self.stacked, lambda name, i=i: _slice_leaf(self.stacked.get_submodule(name), i,
                                                                         self.n_experts))
                for i in range(self.n_experts)]

    def subset(self, indices: Sequence[int]) -> "ExpertBank":
        """Return a new bank holding only the experts at `indices` (in that order)."""
        parts = self.unstack()
        return ExpertBank([parts[i] for i in indices], channels_last=self.memory_format == torch.channels_last,
                          backbone=self.backbone)

    def freeze(self) -> "ExpertBank":
        """Switch to eval mode and stop gradients (frozen feature extractors); return self."""
        self.eval()
        self.requires_grad_(False)
        return self

    @classmethod
    def blank(cls, n_experts: int, padding: str = "symmetric", backbone: str = "mobilenet_v2") -> "ExpertBank":
        """Return a bank of `n_experts` randomly initialised `backbone` extractors (to load a state dict into)."""
        return cls([BackboneClassifier(backbone, 2, padding).features for _ in range(n_experts)], backbone=backbone)

    @property
    def padding(self) -> str:
        """The stride-2 padding of the experts ("symmetric" or "tf_same")."""
        return padding_of(self)

    def spec(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this bank (see moede.models.registry)."""
        return {"architecture": "expert_bank", "n_experts": self.n_experts, "padding": self.padding,
                "backbone": self.backbone}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "ExpertBank":
        """An untrained bank of the shape `spec` describes."""
        return cls.blank(spec["n_experts"], spec.get("padding", "symmetric"), spec.get("backbone", "mobilenet_v2"))
