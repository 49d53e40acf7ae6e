"""Demo corpus folders: written into a temporary sibling and renamed into place, reused when already finished."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from moede.io import write_json

DEMO_VERSION = 1
MARKER = ".moede_demo.json"


def write_corpus_once(root: str | Path, seed: int, kind: str, write: Callable[[Path, int], dict]) -> Path:
    """Write a demo corpus into a temporary sibling of `root` and rename it into place; reuse a finished one."""
    root = Path(root).expanduser().resolve()
    marker = root / MARKER
    if marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("seed") == seed and info.get("version") == DEMO_VERSION and info.get("kind") == kind:
            return root
        raise FileExistsError(f"{root} holds a different demo corpus ({info}); remove it or choose another folder")
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} exists and is not a demo corpus; choose an empty or new folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        start = time.perf_counter()
        info = write(tmp, seed)
        info.update(kind=kind, seed=seed, version=DEMO_VERSION, seconds=round(time.perf_counter() - start, 2))
        write_json(info, tmp / MARKER)
        if root.exists():
            root.rmdir()
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return root
