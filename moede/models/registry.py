"""The model registry: each moede model class registers under its architecture name, describes itself with `spec()`
and is rebuilt (untrained, ready for a state dict) from that spec by `build_model`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from torch import nn

MODELS: dict[str, type["Buildable"]] = {}


class Buildable(Protocol):
    """What a registered model class provides."""

    def spec(self) -> dict[str, Any]: ...

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> nn.Module: ...


class SpecIsConstructorArgs:
    """Mixin for models whose spec, "architecture" aside, holds exactly their constructor's keyword arguments."""

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Any:
        """An untrained model of the shape `spec` describes."""
        return cls(**{k: v for k, v in spec.items() if k != "architecture"})


ModelClass = TypeVar("ModelClass", bound=type)


def register_model(*names: str) -> Callable[[ModelClass], ModelClass]:
    """Class decorator: make `build_model` rebuild specs whose "architecture" is one of `names` with this class."""

    def register(cls: ModelClass) -> ModelClass:
        for name in names:
            if name in MODELS and MODELS[name] is not cls:
                raise ValueError(f"architecture {name!r} is already registered by {MODELS[name].__name__}")
            MODELS[name] = cls
        return cls

    return register


def build_model(spec: dict[str, Any]) -> nn.Module:
    """Rebuild an untrained model from its `spec()`."""
    architecture = spec.get("architecture")
    if architecture not in MODELS:
        raise ValueError(f"unknown architecture {architecture!r}; registered: {sorted(MODELS)}")
    return MODELS[architecture].from_spec(spec)


def model_spec(model: nn.Module) -> dict[str, Any]:
    """Return `model.spec()` after checking that its class is registered (so that `build_model` can rebuild it)."""
    spec = model.spec() if hasattr(model, "spec") else {}
    if MODELS.get(spec.get("architecture")) is not type(model):
        raise TypeError(f"cannot checkpoint a {type(model).__name__}: it is not a registered moede model "
                        f"({sorted(MODELS)})")
    return spec


def since_added(name: str, value: Any, before: Any) -> dict[str, Any]:
    """A cache key's entry for a setting added after caches existed: none while `value` is `before` (what those were
    made with, so they stay valid), else {name: value}."""
    return {} if value == before else {name: value}
