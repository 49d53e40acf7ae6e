"""Atomic file writing (everything is written to a temporary sibling, then renamed into place) whose failures name
their cause, file hashing and file stamps (size and modification time)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from moede.errors import OutputWriteError

WRITE_ONLY_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)
"""Errors only a write can raise: inside an atomic_path block they are the output's, whichever call met them."""
_PENDING: set[Path] = set()  # temporary files this process is writing (removed by remove_pending on SIGTERM)


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


def _size(count: int) -> str:
    """A byte count in words (KiB, MiB, GiB)."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _existing(folder: Path) -> Path:
    """The nearest existing folder at or above `folder`."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def write_failure(error: OSError, target: str | os.PathLike[str], needed: int | None = None) -> OutputWriteError:
    """The one-line error of a failed write of `target`: the cause in words (free space and the size needed when
    out of space, the limit when the path is too long) and what to do."""
    target = Path(target)
    folder = _existing(target.parent)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        need = f", {_size(needed)} needed for this file" if needed else ""
        cause = (f"no space left on the device of {folder} ({_size(shutil.disk_usage(folder).free)} free{need}); "
                 "free some space or write to another folder")
    elif error.errno in (errno.EACCES, errno.EPERM):
        cause = f"permission denied in {folder}; make it writable or write to another folder"
    elif error.errno == errno.EROFS:
        cause = f"{folder} is on a read-only file system; write to another folder"
    elif error.errno == errno.ENAMETOOLONG:
        cause = (f"path too long (a name of {len(target.name)} characters, {len(str(target))} in all; this file "
                 f"system allows {os.pathconf(folder, 'PC_NAME_MAX')} per name); use a shorter name or folder")
    else:
        cause = f"{error.strerror or error}"
    return OutputWriteError(f"cannot write {target}: {cause}")


def _is_output_error(error: OSError, paths: tuple[Path, ...]) -> bool:
    """Whether an OSError met inside an atomic_path block is the output's (not, e.g., an input read there)."""
    return not isinstance(error, OutputWriteError) and (
        error.errno in WRITE_ONLY_ERRORS or error.filename is None or Path(error.filename) in paths)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], needed: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `target`; rename it onto `target` only if the block succeeds, with the mode a
    plain open() would give (0666 less the umask, not mkstemp's private 0600). A write that fails raises an
    OutputWriteError naming the cause (`needed`: the file's size when known, reported when out of space)."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name[:64]}.", suffix=".tmp" + target.suffix[:16],
                                        dir=target.parent)
    except OSError as error:
        raise write_failure(error, target, needed) from None
    os.close(fd)
    tmp = Path(tmp_name)
    _PENDING.add(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    except OSError as error:
        if _is_output_error(error, (tmp, target)):
            tmp.unlink(missing_ok=True)  # first, so the free space reported is what a retry would have
            raise write_failure(error, target, needed) from None
        raise
    finally:
        _PENDING.discard(tmp)
        if tmp.exists():
            tmp.unlink()


def remove_pending() -> None:
    """Delete the temporary files this process is writing (called when a signal ends it, so none is left)."""
    for tmp in list(_PENDING):
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_bytes(data: bytes, target: str | os.PathLike[str]) -> Path:
    """Write `data` to `target` atomically (an out-of-space error says how many bytes were needed)."""
    with atomic_path(target, needed=len(data)) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_json(data: Any, target: str | os.PathLike[str]) -> Path:
    """Write `data` as indented JSON to `target` atomically."""
    return write_bytes((json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode(), target)


def write_csv(frame: pd.DataFrame, target: str | os.PathLike[str], index: bool = False) -> Path:
    """Write a DataFrame as CSV to `target` atomically."""
    return write_bytes(frame.to_csv(index=index).encode(), target)


def source_stamp(path: str | os.PathLike[str]) -> str:
    """'bytes:mtime_ns' of a source file ('' when it is missing): a changed file gets a new stamp."""
    try:
        status = os.stat(path)
    except OSError:
        return ""
    return f"{status.st_size}:{status.st_mtime_ns}"


def digest(value: Any) -> str:
    """SHA-256 of a JSON-serialisable value (keys sorted), used for cache and reuse keys."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
