"""torchvision MobileNetV2 with a swapped classification head, optionally initialised from a local ImageNet file."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torchvision
from torch import nn

log = logging.getLogger(__name__)

FEATURE_DIM = 1280


def _load_imagenet_state(model: nn.Module, path: Path) -> None:
    """Load torchvision's `mobilenet_v2` ImageNet state dict from `path` into `model`, checking every key."""
    if not path.is_file():
        raise FileNotFoundError(
            f"ImageNet weights file {path} does not exist; pass the path of torchvision's mobilenet_v2 state dict "
            "(e.g. mobilenet_v2-b0353104.pth) or leave it out to start from random initialisation")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        raise ValueError(
            f"{path} is not a torchvision mobilenet_v2 (1000-class) state dict: missing keys {missing[:5]}, "
            f"unexpected keys {unexpected[:5]}, wrong shapes {wrong[:5]}; export it with "
            "torch.save(torchvision.models.mobilenet_v2(weights=...).state_dict(), path)")
    model.load_state_dict(state)


def replace_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace the last linear layer of a MobileNetV2 classifier by a fresh one with `num_classes` outputs."""
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    return model


def build_mobilenet_v2(num_classes: int, imagenet_weights: str | Path | None = None) -> nn.Module:
    """Build torchvision's MobileNetV2 (never downloading), load local ImageNet weights if given, set `num_classes`.

    `model.moede_init` records the initialisation: "imagenet:<path>" or "random".
    """
    model = torchvision.models.mobilenet_v2(weights=None)
    if imagenet_weights is not None:
        path = Path(imagenet_weights).expanduser()
        _load_imagenet_state(model, path)
        init = f"imagenet:{path}"
    else:
        log.warning("no ImageNet weights file given: MobileNetV2 is starting from random initialisation")
        init = "random"
    replace_head(model, num_classes)
    model.moede_init = init
    return model


def extract_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Return the 1280-d globally average-pooled output of a MobileNetV2's `features` for images `x` (B,3,H,W)."""
    return model.features(x).mean(dim=(2, 3))
