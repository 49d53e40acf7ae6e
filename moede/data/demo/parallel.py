"""Drawing a demo corpus on every CPU core: each item (image or clip) has its own seeded random generator, so the
files and rows are the same whichever process draws them and in whatever order."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from tqdm.auto import tqdm

from moede.processes import cpu_pool

Task = TypeVar("Task")
Row = TypeVar("Row")
MIN_ITEMS_PER_WORKER = 32  # below this a worker's start-up (about a second) costs more than it saves


def draw_all(draw: Callable[[Task], Row], tasks: Sequence[Task], desc: str, workers: int | None = None) -> list[Row]:
    """Return [draw(task) for task in tasks], computed by up to `workers` processes (default: one per core); `draw`
    must be a module-level function and each task picklable."""
    workers = min(workers or os.cpu_count() or 1, max(len(tasks) // MIN_ITEMS_PER_WORKER, 1))
    if workers == 1:
        return [draw(task) for task in tqdm(tasks, desc=desc, leave=False)]
    with cpu_pool(workers) as pool:
        return list(tqdm(pool.map(draw, tasks, chunksize=8), total=len(tasks), desc=desc, leave=False))
