"""What the variant benchmarks share: a `--set` variant's settings and its scratch run folder beside the base run
(imported as `variants`, since each script runs with benchmarks/ on its path)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moede.config import settings
from moede.settings import parse_assignments


def parse_variant(text: str) -> dict[str, Any]:
    """The checked settings of one `--set name=value[,name=value...]` variant."""
    return parse_assignments(text.split(","), settings())


@contextmanager
def variant_run(base: Path, label: str, parts: Sequence[str]) -> Iterator[Path]:
    """A fresh run folder beside `base` holding a copy of `parts` of it (folders or files), deleted afterwards."""
    run = base.parent / f"{base.name}-variant-{re.sub(r'[^A-Za-z0-9.]+', '-', label).strip('-')}"
    shutil.rmtree(run, ignore_errors=True)
    try:
        for part in parts:
            source, target = base / part, run / part
            if source.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
        yield run
    finally:
        shutil.rmtree(run, ignore_errors=True)
