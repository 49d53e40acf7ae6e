"""Where a MobileNetV2's first weights come from: the shipped ImageNet TFLite file, a torchvision state dict, or none.

Like torchvision's weights enums, an `Initialisation` carries what goes with the weights: the input normalisation
they expect, the padding of their stride-2 convolutions, a one-line description recorded in every checkpoint and
printed on every page, and a key for caches.

| init      | weights file                                   | normalisation          | stride-2 padding |
|-----------|------------------------------------------------|------------------------|------------------|
| imagenet  | shipped `moede/weights/*.tflite` (default)     | [-1, 1]: mean/std 0.5  | TF "SAME"        |
| imagenet  | a `.tflite` MobileNetV2 1.0 of the user's      | [-1, 1]                | TF "SAME"        |
| imagenet  | torchvision's `mobilenet_v2` state dict (.pth) | ImageNet mean/std      | symmetric        |
| random    | none                                           | ImageNet mean/std      | symmetric        |

A TFLite file is converted once (moede.models.tflite_convert) and the state dict cached as
`<cache_dir>/mobilenet_v2_imagenet_<sha256[:16]>_v<CONVERTER_VERSION>.pt`: a change of the file or of the converter
makes a new cache file; the conversion is deterministic (fixed calibration crops of scikit-image's bundled photos).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from moede.io import atomic_path, file_sha256

log = logging.getLogger(__name__)

SHIPPED_TFLITE = Path(__file__).resolve().parents[1] / "weights" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
CONVERTER_VERSION = 1
INITS = ("imagenet", "random")
CALIBRATION_IMAGES = 64
CALIBRATION_SIZE = 224


@dataclass(frozen=True)
class Normalisation:
    """Per-channel mean and std applied to RGB pixels scaled to [0, 1]."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """Normalise float images (..., 3, H, W) in [0, 1]."""
        mean = torch.tensor(self.mean, dtype=images.dtype).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=images.dtype).view(3, 1, 1)
        return (images - mean) / std


IMAGENET_STATS = Normalisation((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # torchvision's ImageNet models
MINUS_ONE_TO_ONE = Normalisation((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # TF MobileNets: x / 127.5 - 1


@dataclass(frozen=True)
class Initialisation:
    """The starting weights of every MobileNetV2 of a run, with the normalisation and padding they need."""

    kind: str  # "imagenet" or "random"
    path: Path | None = None  # weights file (imagenet only)
    cache_dir: Path | None = field(default=None, compare=False)  # where converted TFLite weights are kept

    def __post_init__(self) -> None:
        if self.kind not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.kind!r}")
        if (self.kind == "imagenet") != (self.path is not None):
            raise ValueError("an ImageNet initialisation needs a weights file; a random one takes none")

    @property
    def is_tflite(self) -> bool:
        """True when the weights come from a TFLite file (converted on first use)."""
        return self.path is not None and self.path.suffix == ".tflite"

    @property
    def normalisation(self) -> Normalisation:
        """The input normalisation these weights were trained with."""
        return MINUS_ONE_TO_ONE if self.is_tflite else IMAGENET_STATS

    @property
    def padding(self) -> str:
        """The stride-2 padding these weights were trained with ("tf_same" or "symmetric")."""
        return "tf_same" if self.is_tflite else "symmetric"

    @cached_property
    def sha256(self) -> str | None:
        """The weights file's sha256 (None for random initialisation)."""
        return None if self.path is None else file_sha256(self.path)

    def describe(self) -> str:
        """One line for checkpoints and pages, e.g. 'ImageNet (shipped TFLite ..., sha256 1a2b3c4d5e6f)'."""
        if self.path is None:
            return "random (no pretrained weights)"
        origin = "shipped " if self.path == SHIPPED_TFLITE else ""
        kind = "TFLite, converted" if self.is_tflite else "torchvision state dict"
        return f"ImageNet ({origin}{kind}: {self.path.name}, sha256 {self.sha256[:12]})"

    def key(self) -> dict[str, Any]:
        """What a trained model depends on: kind, the file's hash and the converter version."""
        return {"init": self.kind, "weights_sha256": self.sha256,
                "converter": CONVERTER_VERSION if self.is_tflite else None}

    def state_dict(self) -> dict[str, torch.Tensor] | None:
        """torchvision `mobilenet_v2` (1000-class) ImageNet weights; None for random initialisation."""
        if self.path is None:
            return None
        if not self.path.is_file():
            raise FileNotFoundError(f"ImageNet weights file {self.path} does not exist; give a torchvision "
                                    "mobilenet_v2 state dict (.pth) or a TFLite MobileNetV2 (.tflite), or leave "
                                    "--imagenet-weights out to use the shipped one")
        if self.is_tflite:
            return converted_tflite_state(self.path, self.sha256, self.cache_dir)
        return _torchvision_state(self.path)


RANDOM = Initialisation("random")


def resolve_initialisation(init: str, weights: str | Path | None, cache_dir: str | Path | None) -> Initialisation:
    """The Initialisation for `init` ('imagenet' or 'random') and an optional weights file (default: shipped)."""
    if init == "random":
        if weights is not None:
            raise ValueError(f"init 'random' takes no weights file, but imagenet_weights is {weights}; drop one")
        return RANDOM
    path = Path(weights).expanduser().resolve() if weights is not None else SHIPPED_TFLITE
    if weights is None and not path.is_file():
        raise FileNotFoundError(f"the shipped ImageNet weights {path} are missing (a broken install?); reinstall "
                                "moede, give --imagenet-weights FILE, or pass --set init=random to train from scratch")
    return Initialisation(init, path, Path(cache_dir) if cache_dir is not None else None)


def _torchvision_state(path: Path) -> dict[str, torch.Tensor]:
    """Load torchvision's `mobilenet_v2` ImageNet state dict from `path`, checking every key and shape."""
    import torchvision

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    expected = torchvision.models.mobilenet_v2(weights=None).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or wrong:
        raise ValueError(
            f"{path} is not a torchvision mobilenet_v2 (1000-class) state dict: missing keys {missing[:5]}, "
            f"unexpected keys {unexpected[:5]}, wrong shapes {wrong[:5]}; export it with "
            "torch.save(torchvision.models.mobilenet_v2(weights=...).state_dict(), path)")
    return state


def calibration_images(normalisation: Normalisation, n: int = CALIBRATION_IMAGES,
                       size: int = CALIBRATION_SIZE, seed: int = 0) -> torch.Tensor:
    """Deterministic random crops (n, 3, size, size) of the photos bundled with scikit-image, normalised."""
    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.hubble_deep_field(),
              data.immunohistochemistry(), data.retina(), np.stack([data.camera()] * 3, axis=-1)]
    rng = np.random.default_rng(seed)
    crops = []
    for i in range(n):
        photo = photos[i % len(photos)]
        height, width = photo.shape[:2]
        side = int(min(height, width) * rng.uniform(0.4, 1.0))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.BILINEAR)
        crops.append(torch.from_numpy(np.asarray(crop).copy()).permute(2, 0, 1))
    return normalisation.apply(torch.stack(crops).float() / 255.0)


def converted_tflite_state(path: Path, sha256: str, cache_dir: Path | None) -> dict[str, torch.Tensor]:
    """The converted state dict of a TFLite MobileNetV2, from `cache_dir` when converted before, else converted now."""
    from moede.models.tflite_convert import convert_tflite_mobilenet_v2

    cached = None if cache_dir is None else cache_dir / f"mobilenet_v2_imagenet_{sha256[:16]}_v{CONVERTER_VERSION}.pt"
    if cached is not None and cached.is_file():
        return torch.load(cached, map_location="cpu", weights_only=True)
    log.info("converting %s to a torchvision state dict (once; cached in %s)", path, cache_dir)
    with torch.random.fork_rng(devices=[]):  # a run's random draws must not depend on whether the cache existed
        state = convert_tflite_mobilenet_v2(path, calibration_images(MINUS_ONE_TO_ONE))
    if cached is not None:
        with atomic_path(cached) as tmp:
            torch.save(state, tmp)
    return state
