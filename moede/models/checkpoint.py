"""One checkpoint format for every moede model: the weights beside the model's spec (moede.models.registry), its
run configuration, class list, metrics, data source, initial weights and code version (whether to retrain one is
moede.training.reuse's business)."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import init

import moede
import moede.models.backbone  # noqa: F401  (registers the backbone classifiers)
import moede.models.baselines  # noqa: F401  (registers the Table 5 baselines)
import moede.models.dfer  # noqa: F401  (registers MoEDE and SingleExtractorLSTM)
import moede.models.fusion  # noqa: F401  (registers ExpertBank and ExpertFusion)
import moede.models.gating  # noqa: F401  (registers GatedMoEDE)
import moede.models.lora  # noqa: F401  (registers LoRA experts)
from moede.io import file_sha256, write_bytes
from moede.models.registry import build_model, model_spec
from moede.sources import REPO_ROOT, DataSource

FORMAT = "moede-checkpoint-1"

log = logging.getLogger(__name__)


@functools.cache
def code_version() -> str:
    """Return moede's version plus the git commit of the source tree when available ('0.1.0+g1a2b3c4[.dirty]'), as
    it was when this process first asked (the code it imported; two git calls once, not at every checkpoint)."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return moede.__version__
    return f"{moede.__version__}+g{commit}{'.dirty' if dirty else ''}"


def save_checkpoint(model: nn.Module, path: str | Path, *, config: dict[str, Any], classes: Sequence[str],
                    metrics: dict[str, Any], source: DataSource | None, extra: dict[str, Any] | None = None) -> Path:
    """Write `model`'s state dict with its metadata to `path` atomically; return the path."""
    meta = {"format": FORMAT, "spec": model_spec(model), "config": config, "classes": list(classes),
            "metrics": metrics, "source": source.as_dict() if source else None, "code_version": code_version(),
            "init": getattr(model, "moede_init", None), "extra": extra or {}}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"meta": meta, "state_dict": state}, buffer)
    return write_bytes(buffer.getvalue(), path)  # serialised first: a failed write names its cause and size


def checkpoint_digest(path: str | Path) -> str:
    """Return the sha256 hex digest of a checkpoint file (for cache keys)."""
    return file_sha256(path)


INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "xavier_uniform_",
                  "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_")
"""The torch.nn.init functions that layers' constructors and torchvision's networks call to draw initial weights."""


@contextlib.contextmanager
def _initialisation_skipped() -> Iterator[None]:
    """Within the block, torch.nn.init's functions leave tensors as allocated (for a model whose every weight is about
    to be loaded; not thread-safe), and torch's random generator ends as it was."""
    saved = {name: getattr(init, name) for name in INIT_FUNCTIONS}
    try:
        for name in INIT_FUNCTIONS:
            setattr(init, name, lambda tensor, *args, **kwargs: tensor)
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        for name, function in saved.items():
            setattr(init, name, function)


def _with_weights(spec: dict[str, Any], state: dict[str, torch.Tensor]) -> nn.Module:
    """The model `spec` describes holding the weights `state`, built without drawing initial weights that `state`
    replaces (drawing them cost more than loading: 0.19 s for a MoEDE, 0.10 s for a MobileNetV2); the strict
    load_state_dict refuses a state that lacks any of the model's weights."""
    with _initialisation_skipped():
        model = build_model(spec)
    model.load_state_dict(state)
    return model


def _payload(path: Path, map_location: str, mmap: bool) -> dict[str, Any]:
    """The checkpoint file's {'meta', 'state_dict'} after checking that it is one (mmap: tensors read on access)."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; run the stage that trains it first")
    payload = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    if not isinstance(payload, dict) or payload.get("meta", {}).get("format") != FORMAT:
        raise ValueError(f"{path} is not a moede checkpoint ({FORMAT}); delete it and rerun the stage")
    return payload


def load_metadata(path: str | Path) -> dict[str, Any]:
    """A checkpoint's metadata (as load_checkpoint's, without 'sha256'), its weights left unread on disk."""
    path = Path(path)
    return dict(_payload(path, "cpu", mmap=True)["meta"], path=str(path))


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by `save_checkpoint`: return (model in eval mode, meta incl. 'sha256')."""
    path = Path(path)
    payload = _payload(path, map_location, mmap=False)
    meta = dict(payload["meta"], sha256=checkpoint_digest(path), path=str(path))
    model = _with_weights(meta["spec"], payload["state_dict"])
    if hasattr(model, "moede_init"):
        model.moede_init = meta["init"]
    return model.eval(), meta
