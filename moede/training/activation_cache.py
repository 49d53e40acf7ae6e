"""On-disk cache of the frozen blocks' activations of the static images, shared by every model and notebook of a run.

With `trainable_from = k` the SFER, the eight experts and the FTFE all train on the outputs of the same frozen blocks
`features[:k]` (`moede.training.frozen`). Each notebook runs in its own kernel, so without this cache every chapter
recomputed them (about 45 s per chapter for the 2,755 shared faces on two CPU cores).

On disk: `run_dir/frozen/<role>.pt` (role 'train' or 'dev'), one `torch.save` dict, written atomically:
- `format`: FORMAT;
- `key`: what the activations depend on: the SHA-256 of the frozen blocks' weights and buffers (so a random
  initialisation is keyed by the very weights the models hold), the normalisation, the image size, the batch size
  they were computed with (it changes float rounding) and, for every image in order, its path, size and mtime (a
  re-alignment rewrites the crops and so invalidates the cache);
- `activations`: float32 tensor (N, C, h, w), the blocks' outputs in eval mode, in image order.

A file whose key differs from the requested one, or that cannot be read, is recomputed and replaced (the log says
why); a reused file gives the bytes that were computed, so reusing never changes a result.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import pickle
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moede.distributed import run_on_main
from moede.io import atomic_path, digest, source_stamp
from moede.models.pretrained import Normalisation
from moede.training.frozen import block_activations
from moede.training.images import FaceImageDataset

FORMAT = "moede-frozen-activations/2"  # 2: computed channels-last
BATCH_SIZE = 64
KEEP_IN_MEMORY = 2  # the train and the dev activations of the run being trained
log = logging.getLogger(__name__)
_in_memory: OrderedDict[tuple[str, str], torch.Tensor] = OrderedDict()  # (file, key) -> activations, latest last


def weights_digest(module: nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers (names, shapes, dtypes and bytes)."""
    sha = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        sha.update(f"{name}:{tuple(data.shape)}:{data.dtype};".encode())
        sha.update(data.numpy().tobytes() if data.dtype != torch.bfloat16 else data.float().numpy().tobytes())
    return sha.hexdigest()


def activation_key(blocks: nn.Module, paths: Sequence[str], image_size: int,
                   normalisation: Normalisation) -> dict[str, Any]:
    """The key of the activations of `blocks` over the images at `paths` (see the module docstring)."""
    return {"format": FORMAT, "blocks": weights_digest(blocks), "image_size": image_size,
            "normalisation": [list(normalisation.mean), list(normalisation.std)], "batch_size": BATCH_SIZE,
            "images": digest([[str(path), source_stamp(path)] for path in paths])}


def _stored(target: Path, key: dict[str, Any]) -> torch.Tensor | None:
    """The activations stored at `target` when they were made with `key`; None (and why, in the log) otherwise."""
    if not target.is_file():
        return None
    try:
        stored = torch.load(target, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        log.warning("%s cannot be read (%s): recomputing the frozen blocks' activations", target, error)
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        log.info("%s was made from other weights, images or settings: recomputing it", target)
        return None
    log.info("frozen blocks' activations reused from %s", target)
    return stored["activations"]


def _computed(blocks: nn.Module, images: FaceImageDataset, target: Path, key: dict[str, Any],
              device: str) -> torch.Tensor:
    """Compute the activations of a copy of `blocks` and store them (in the default memory format). The copy's
    weights are always channels-last (0.45 s against 0.47 s per 64 faces at 160 px on the 2-core machine:
    benchmarks/bench_experts.py --train), whatever the format of the caller's: the same weights held in another
    format round differently, and the activations must not depend on which model computed them first. The caller's
    modules keep their mode."""
    frozen = copy.deepcopy(blocks)
    activations = block_activations(frozen, images, BATCH_SIZE, device, channels_last=True).features
    with atomic_path(target) as tmp:
        torch.save({"format": FORMAT, "key": key, "activations": activations}, tmp)
    return activations


def cached_block_activations(blocks: nn.Module, images: FaceImageDataset, paths: Sequence[str], target: Path,
                             normalisation: Normalisation, image_size: int, device: str = "cpu") -> torch.Tensor:
    """Return the (N, C, h, w) activations of the frozen `blocks` over `images` (read from `paths`), reusing `target`
    when it was made with the same key, else computing and storing it; under torchrun rank 0 computes, the other
    ranks then read the file."""
    if len(paths) != len(images):
        raise ValueError(f"{len(paths)} image paths but {len(images)} images")
    key = activation_key(blocks, paths, image_size, normalisation)
    memory_key = (str(target), digest(key))
    if memory_key in _in_memory:
        _in_memory.move_to_end(memory_key)
        return _in_memory[memory_key]
    activations = _build_or_read(blocks, images, target, key, device)
    _in_memory[memory_key] = activations
    while len(_in_memory) > KEEP_IN_MEMORY:
        _in_memory.popitem(last=False)
    return activations


def _build_or_read(blocks: nn.Module, images: FaceImageDataset, target: Path, key: dict[str, Any],
                   device: str) -> torch.Tensor:
    """Rank 0 reuses or computes `target`; the other ranks then read it."""
    on_main: list[torch.Tensor] = []

    def build_or_reuse() -> None:
        stored = _stored(target, key)
        on_main.append(stored if stored is not None else _computed(blocks, images, target, key, device))

    run_on_main(build_or_reuse)
    if on_main:
        return on_main[0]
    stored = _stored(target, key)
    if stored is None:
        raise RuntimeError(f"rank 0 did not leave the frozen activations in {target}; is run_dir on a shared disk?")
    return stored
