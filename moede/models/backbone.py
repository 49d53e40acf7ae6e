"""The backbone factory: a torchvision classification network by name, with its feature size and its CAM layer.

What is pluggable: a network registered in `BACKBONES` (a torchvision factory called with `weights=None`) whose
`features` is a Sequential of blocks from images to a feature map (B, C, h, w), C being its last convolution's output
channels, and whose `classifier` is a Sequential ending in a Linear that reads the pooled C-vector; `BackboneClassifier`
uses nothing else. Every image model of a run (the SFER, each expert, LoRA experts, the expert bank, the fusion, the
per-frame features DFER reads, the gated pipeline) is built from `RunConfig.backbone`, and the stages pass it on; the
static stages run end to end on mobilenet_v3_small (tests/test_static_stages_demo.py) and every model is tested on
every registered backbone (tests/test_backbones.py). What does not carry over to another backbone:

- ImageNet weights exist only for `IMAGENET_BACKBONES` (mobilenet_v2: the shipped TFLite file or a torchvision state
  dict, moede.models.pretrained); any other backbone needs init=random, `build_backbone` and RunConfig refuse the rest.
- The ExpertBank stacks the experts into grouped convolutions only when every layer keeps each expert's channels apart
  (moede.models.experts.STACKABLE; both registered backbones do); any other backbone's experts run sequential, one after
  another, and the bank says why (`ExpertBank.mode`, `ExpertBank.why`).
- The paper's numbers are MobileNetV2's: the complexity table counts the run's backbone beside them, not in their place.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torchvision
from torch import nn

from moede.models.mobilenet import padding_of, replace_head, use_padding
from moede.models.recompute import run_blocks
from moede.models.registry import register_model

if TYPE_CHECKING:
    from moede.models.pretrained import Initialisation

log = logging.getLogger(__name__)

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "mobilenet_v3_small": torchvision.models.mobilenet_v3_small,
}
IMAGENET_BACKBONES = ("mobilenet_v2",)  # those moede ships ImageNet weights for


@functools.cache
def feature_blocks(name: str) -> int:
    """How many blocks the `features` sequence of backbone `name` has (what RunConfig.trainable_from counts)."""
    return len(BACKBONES[name](weights=None).features)


def output_channels(features: nn.Module) -> int:
    """The number of channels a torchvision `features` block outputs (its last convolution's)."""
    return [m for m in features.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


@register_model(*BACKBONES)
class BackboneClassifier(nn.Module):
    """A torchvision backbone's `features`, global average pooling and `classifier` with `num_classes` outputs.

    The parameter names stay torchvision's (`features.*`, `classifier.*`), so its state dict is a plain torchvision
    one. `moede_init` records where the weights started (`Initialisation.describe()`; "sfer:..." for an expert)."""

    def __init__(self, architecture: str = "mobilenet_v2", num_classes: int = 8, padding: str = "symmetric") -> None:
        super().__init__()
        if architecture not in BACKBONES:
            raise ValueError(f"unknown backbone {architecture!r}; choose one of {tuple(BACKBONES)}")
        network = BACKBONES[architecture](weights=None)
        self.architecture = architecture
        self.features, self.classifier = network.features, network.classifier
        self.moede_init: str | None = None
        self.recompute_activations = False  # set by moede.models.recompute.recomputing while a training runs
        replace_head(use_padding(self, padding), num_classes)  # padding first: the order of the published runs

    @property
    def num_features(self) -> int:
        """Size of the pooled feature vector the classifier reads (1280 for MobileNetV2)."""
        return output_channels(self.features)

    @property
    def cam_layer(self) -> nn.Module:
        """The layer Grad-CAM explains: the last block of `features`."""
        return self.features[-1]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The unpooled feature map (B, num_features, h, w) of images x (B, 3, H, W), as timm's `forward_features`."""
        return run_blocks(self.features, x, self.recompute_activations)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pooling of a feature map x (B, num_features, h, w), then the classifier: logits
        (B, num_classes), or with `pre_logits` the pooled vector (B, num_features) it reads, as timm's `forward_head`.

        The pooling is the mean over (2, 3), what the feature caches store; torch computes adaptive_avg_pool2d to 1x1
        as that same mean, so the logits are those of torchvision's network bit for bit."""
        pooled = x.mean(dim=(2, 3))
        return pooled if pre_logits else self.classifier(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes) of images x (B, 3, H, W)."""
        return self.forward_head(self.forward_features(x))

    def spec(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model (see moede.models.registry)."""
        return {"architecture": self.architecture, "num_classes": self.classifier[-1].out_features,
                "padding": padding_of(self)}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "BackboneClassifier":
        """An untrained model of the shape `spec` describes."""
        return cls(spec["architecture"], spec["num_classes"], spec.get("padding", "symmetric"))


@dataclass(frozen=True)
class Backbone:
    """What `build_backbone` returns: the network, the size of its pooled features and its CAM target layer."""

    module: BackboneClassifier
    num_features: int
    cam_layer: nn.Module


def build_backbone(name: str = "mobilenet_v2", num_classes: int = 1000,
                   init: Initialisation | None = None) -> Backbone:
    """Build backbone `name` with a fresh `num_classes` head from `init`'s weights (None: random), never downloading."""
    from moede.models.pretrained import RANDOM

    init = init or RANDOM
    if init is not RANDOM and name not in IMAGENET_BACKBONES:
        raise ValueError(f"backbone {name!r} has no ImageNet weights in moede (only {IMAGENET_BACKBONES}); "
                         "set init=random (--set init=random)")
    if init is RANDOM:
        log.warning("%s is starting from random initialisation (no ImageNet weights)", name)
    model = BackboneClassifier(name, num_classes, init.padding)
    state = init.state_dict()
    if state is not None:
        missing = model.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")},
                                        strict=False).missing_keys
        if any(not key.startswith("classifier.") for key in missing):
            raise ValueError(f"{init.describe()} lacks weights of {name}: {missing[:3]}...")
    model.moede_init = init.describe()
    return Backbone(model, model.num_features, model.cam_layer)

