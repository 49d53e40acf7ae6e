"""LoRA experts (the paper's Section IV.C proposal): each expert is the SFER's weights plus low-rank updates.

What is adapted: every 1x1 convolution (groups 1) of the trained blocks (`features[start:]`, `RunConfig.trainable_from`
on) is a linear map W (out x in) and gets the update `up @ down` (out x r, r x in), `up` zero-initialised, so an
untrained expert equals the SFER. What is not: the depthwise 3x3 convolutions (one 3x3 filter per channel, nothing
low-rank about them) and the stem's 3x3 convolution keep the SFER's weights, and the batch norms keep the SFER's
statistics and affine weights (held in eval mode while the expert trains, so an expert stores no statistics of its
own). Each expert has its own 2-class head. An expert runs merged (`merged`: one plain network, W + up @ down, the
FLOPs of a full expert) or unmerged (base convolution plus the two thin adapter convolutions).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from moede.models.backbone import BackboneClassifier
from moede.models.mobilenet import padding_of, replace_head
from moede.models.registry import register_model


def adaptable(module: nn.Module) -> bool:
    """Whether LoRA adapts `module`: a 1x1 convolution with groups 1 (a linear map over channels)."""
    return isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1) and module.groups == 1


class LoRAConv2d(nn.Module):
    """A frozen 1x1 convolution `base` plus the trainable low-rank update `up @ down` (rank `rank`, `up` zero at
    start): y = base(x) + up(down(x))."""

    def __init__(self, base: nn.Conv2d, rank: int) -> None:
        super().__init__()
        if not adaptable(base):
            raise ValueError(f"LoRA adapts 1x1 convolutions with groups 1, got {base}")
        if rank < 1:
            raise ValueError(f"lora rank must be >= 1, got {rank}")
        self.base = base.requires_grad_(False)
        self.rank = rank
        self.down = nn.Parameter(torch.empty(rank, base.in_channels))
        self.up = nn.Parameter(torch.zeros(base.out_channels, rank))
        nn.init.kaiming_uniform_(self.down, a=math.sqrt(5))

    def delta(self) -> torch.Tensor:
        """The weight update (out, in, 1, 1) this adapter adds to the base convolution."""
        return (self.up @ self.down)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The base convolution's output plus the adapter's (unmerged: three convolutions)."""
        low = nn.functional.conv2d(x, self.down[:, :, None, None])
        return self.base(x) + nn.functional.conv2d(low, self.up[:, :, None, None])

    def merged(self) -> nn.Conv2d:
        """One plain convolution computing the same map (weight W + up @ down)."""
        conv = copy.deepcopy(self.base)
        conv.weight = nn.Parameter(self.base.weight.detach() + self.delta().detach())
        return conv


def add_lora(features: nn.Sequential, rank: int, start: int = 0) -> nn.Sequential:
    """Replace every adaptable convolution of `features[start:]` by a LoRAConv2d of `rank`, in place; return it."""
    for index in range(start, len(features)):
        for name, module in list(features[index].named_modules()):
            if adaptable(module):
                features[index].set_submodule(name, LoRAConv2d(module, rank))
    return features


def lora_adapters(module: nn.Module) -> list[LoRAConv2d]:
    """The LoRA adapters of `module`, in module order."""
    return [m for m in module.modules() if isinstance(m, LoRAConv2d)]


def _base_key(key: str) -> str:
    """The name a plain convolution's parameter takes inside a LoRAConv2d ('a.conv.weight' -> 'a.conv.base.weight')."""
    head, _, leaf = key.rpartition(".")
    return f"{head}.base.{leaf}"


@register_model("lora_expert")
class LoRAExpert(BackboneClassifier):
    """A binary expert as the SFER's `backbone` network with LoRA adapters of rank `rank` on the 1x1 convolutions of
    blocks `start` on and its own `num_classes` head; only the adapters and the head train (batch norms stay in
    eval mode)."""

    def __init__(self, backbone: str = "mobilenet_v2", num_classes: int = 2, padding: str = "symmetric",
                 rank: int = 4, start: int = 0) -> None:
        super().__init__(backbone, num_classes, padding)
        self.rank, self.start = rank, start
        self.requires_grad_(False)
        if not lora_adapters(add_lora(self.features, rank, start)):
            raise ValueError(f"backbone {backbone!r} has no 1x1 convolution with groups 1 in blocks {start} on (of "
                             f"{len(self.features)}) for LoRA to adapt; choose an earlier start")
        self.classifier.requires_grad_(True)

    def train(self, mode: bool = True) -> LoRAExpert:
        """Set training mode; the batch norms stay in eval mode (the SFER's statistics)."""
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    @classmethod
    def from_backbone(cls, model: BackboneClassifier, rank: int, start: int = 0) -> LoRAExpert:
        """A LoRA expert whose base weights and head are `model`'s (its adapters add nothing yet)."""
        expert = cls(model.architecture, model.classifier[-1].out_features, padding_of(model), rank, start)
        state = expert.state_dict()
        for key, value in model.state_dict().items():
            state[key if key in state else _base_key(key)] = value
        expert.load_state_dict(state)
        expert.moede_init = getattr(model, "moede_init", None)
        return expert

    def merged(self) -> BackboneClassifier:
        """The same expert as a plain backbone classifier (every adapter folded into its convolution's weight)."""
        folded = copy.deepcopy(self)
        for name, module in list(folded.named_modules()):
            if isinstance(module, LoRAConv2d):
                folded.set_submodule(name, module.merged())
        plain = BackboneClassifier(self.architecture, self.classifier[-1].out_features, padding_of(self))
        plain.load_state_dict(folded.state_dict())
        plain.moede_init = self.moede_init
        return plain.eval()

    def spec(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model (see moede.models.registry)."""
        return {"architecture": "lora_expert", "backbone": self.architecture,
                "num_classes": self.classifier[-1].out_features, "padding": padding_of(self), "rank": self.rank,
                "start": self.start}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> LoRAExpert:
        """An untrained model of the shape `spec` describes."""
        return cls(spec["backbone"], spec["num_classes"], spec.get("padding", "symmetric"), spec["rank"],
                   spec.get("start", 0))


def lora_expert_from_sfer(sfer: BackboneClassifier, rank: int, start: int = 0) -> LoRAExpert:
    """A fresh binary LoRA expert of the SFER: its weights, a new 2-class head, adapters of `rank` from block
    `start`."""
    return LoRAExpert.from_backbone(replace_head(copy.deepcopy(sfer), 2), rank, start)


def plain_expert(expert: nn.Module) -> nn.Module:
    """An expert as a plain network: a LoRA expert merged, anything else as it is."""
    return expert.merged() if isinstance(expert, LoRAExpert) else expert


def base_name(key: str) -> str:
    """The base model's name of a LoRA expert's state-dict entry ('a.conv.base.weight' -> 'a.conv.weight'; entries
    outside the adapted convolutions keep their name)."""
    head, found, leaf = key.rpartition(".base.")
    return f"{head}.{leaf}" if found else key


def own_entries(state: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The entries of a LoRA expert's state dict that its base model's state dict `base` does not hold as they are:
    the adapters, the head, and whatever training changed (what a bundle stores beside the base)."""
    return {key: value for key, value in state.items()
            if not (base_name(key) in base and base[base_name(key)].shape == value.shape
                    and torch.equal(base[base_name(key)], value))}


def with_base(keys: list[str], own: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A LoRA expert's whole state dict (entry names `keys`) from its own entries and its base model's."""
    return {key: own[key] if key in own else base[base_name(key)] for key in keys}

