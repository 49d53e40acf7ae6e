"""Atomic file writing (everything is written to a temporary sibling, then renamed into place), file hashing and
file stamps (size and modification time)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd


def current_umask() -> int:
    """The process's file-creation mask (from /proc on Linux, so no other thread sees it changed)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `target`; rename it onto `target` only if the block succeeds, with the mode a
    plain open() would give (0666 less the umask, not mkstemp's private 0600)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(data: Any, target: str | os.PathLike[str]) -> Path:
    """Write `data` as indented JSON to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return Path(target)


def write_csv(frame: pd.DataFrame, target: str | os.PathLike[str], index: bool = False) -> Path:
    """Write a DataFrame as CSV to `target` atomically."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=index)
    return Path(target)


def source_stamp(path: str | os.PathLike[str]) -> str:
    """'bytes:mtime_ns' of a source file ('' when it is missing): a changed file gets a new stamp."""
    try:
        status = os.stat(path)
    except OSError:
        return ""
    return f"{status.st_size}:{status.st_mtime_ns}"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
