"""Typed settings derived from a dataclass's fields: each knows its type, range and choices, parses command-line
text (`--set key=value`) and checks typed values (papermill parameters, RunConfig fields) with one-line errors."""

from __future__ import annotations

import dataclasses
import inspect
import io
import math
import os
import re
import tokenize
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moede.errors import SettingError

TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")
NONE_WORDS = ("none", "null")
KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a text", Path: "a path",
              dict: "a JSON object"}


def _number(value: float) -> str:
    """A bound as written: integers without a decimal point or exponent."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, Python type, whether None is allowed, and its inclusive range, choices or pattern."""

    name: str
    kind: type
    optional: bool = False
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False  # floats: strictly above 0
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    described: str | None = None  # the allowed values in words, where the pattern alone would be cryptic

    def allowed(self) -> str:
        """Say in words which values the setting takes."""
        if self.choices is not None:
            text = "one of " + ", ".join(self.choices)
        elif self.described is not None:
            text = self.described
        else:
            text = KIND_NAMES[self.kind]
            if self.positive:
                text += " > 0"
            if self.minimum is not None and self.maximum is not None:
                text += f" from {_number(self.minimum)} to {_number(self.maximum)}"
            elif self.minimum is not None:
                text += f" >= {_number(self.minimum)}"
        return text + (" (or none)" if self.optional else "")

    def _reject(self, value: Any) -> SettingError:
        return SettingError(f"{self.name} must be {self.allowed()}, not {value!r}")

    def parse(self, text: str) -> Any:
        """Turn command-line text into a checked value (paths are made absolute against the current directory)."""
        word = text.strip().lower()
        if self.optional and word in NONE_WORDS:
            return None
        if self.kind is bool:
            if word not in TRUE_WORDS + FALSE_WORDS:
                raise self._reject(text)
            return self.check(word in TRUE_WORDS)
        if self.kind in (int, float):
            try:
                return self.check(self.kind(text))
            except ValueError:
                raise self._reject(text) from None
        if self.kind is Path:
            return self.check(Path(os.path.abspath(Path(text).expanduser())))
        if self.kind is dict:
            import json

            try:
                return self.check(json.loads(text))
            except json.JSONDecodeError:
                raise self._reject(text) from None
        return self.check(text)

    def check(self, value: Any) -> Any:
        """Return `value` in the setting's type (str -> parsed, numpy scalars -> Python, str -> Path) if allowed."""
        if value is None:
            if not self.optional:
                raise self._reject(value)
            return None
        if isinstance(value, str) and self.kind not in (str, Path):
            return self.parse(value)
        value = self._typed(value)
        if self.kind in (int, float) and not self._in_range(value):
            raise self._reject(value)
        if self.choices is not None and value not in self.choices:
            raise self._reject(value)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise self._reject(value)
        return value

    def _typed(self, value: Any) -> Any:
        """`value` as the setting's type, or a SettingError."""
        if isinstance(value, np.generic):
            value = value.item()
        if self.kind is bool and isinstance(value, bool):
            return value
        if self.kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if self.kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                return float(value)
        if self.kind is str and isinstance(value, str):
            return value
        if self.kind is Path and isinstance(value, (str, os.PathLike)):
            return Path(value).expanduser()
        if self.kind is dict and isinstance(value, dict):
            return value
        raise self._reject(value)

    def _in_range(self, value: float) -> bool:
        return ((self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)
                and (not self.positive or value > 0))


def _kind_of(annotation: Any) -> tuple[type, bool, tuple[Any, ...] | None]:
    """(base type, whether None is allowed, Literal choices or None) of a field annotation such as `int | None`,
    `dict[str, Any]` or `Literal["a", "b"]`."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kind, _, choices = _kind_of(next(a for a in args if a is not type(None)))
        return kind, type(None) in args, choices
    if typing.get_origin(annotation) is typing.Literal:
        return type(args[0]), False, args
    return typing.get_origin(annotation) or annotation, False, None


def schema_of(cls: type, limits: dict[str, dict[str, Any]]) -> dict[str, Setting]:
    """A Setting per dataclass field of `cls`, typed from its annotation, with `limits[name]` (range, choices)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for field in dataclasses.fields(cls):
        kind, optional, choices = _kind_of(hints[field.name])
        if kind not in KIND_NAMES:
            raise TypeError(f"{cls.__name__}.{field.name}: no setting type for {hints[field.name]}")
        rules = {"choices": choices} if choices else {}
        out[field.name] = Setting(field.name, kind, optional, **(rules | limits.get(field.name, {})))
    return out


def field_comments(cls: type) -> dict[str, str]:
    """The comment written after each dataclass field of `cls` in its source (continued on comment-only lines)."""
    names = {field.name for field in dataclasses.fields(cls)}
    comments: dict[str, list[str]] = {}
    current: str | None = None
    line_start = True
    for token in tokenize.generate_tokens(io.StringIO(inspect.getsource(cls)).readline):
        if token.type == tokenize.NAME and line_start:
            current = token.string if token.string in names else None
        elif token.type == tokenize.COMMENT and current is not None:
            comments.setdefault(current, []).append(token.string.lstrip("#").strip())
        line_start = token.type in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
    return {name: " ".join(parts) for name, parts in comments.items()}


def parse_assignments(pairs: list[str], schema: dict[str, Setting]) -> dict[str, Any]:
    """Parse KEY=VALUE texts into checked values; unknown keys and bad values raise one-line SettingErrors."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise SettingError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set dfer_epochs=2")
        if key not in schema:
            raise SettingError(f"--set {pair!r}: unknown setting {key!r}; settings are {', '.join(schema)}")
        values[key] = schema[key].parse(text)
    return values
