"""Drawing a demo corpus on every CPU core: each item (image or clip) has its own seeded random generator, so the
files and rows are the same whichever process draws them and in whatever order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from tqdm.auto import tqdm

from moede.processes import map_on_cores

Task = TypeVar("Task")
Row = TypeVar("Row")
MIN_ITEMS_PER_WORKER = 32  # below this a worker's start-up (about a second) costs more than it saves


def draw_all(draw: Callable[[Task], Row], tasks: Sequence[Task], desc: str, workers: int | None = None) -> list[Row]:
    """Return [draw(task) for task in tasks], computed by up to `workers` processes (default: one per core); `draw`
    must be a module-level function and each task picklable."""
    drawn = map_on_cores(draw, tasks, min_per_worker=MIN_ITEMS_PER_WORKER, chunksize=8, workers=workers)
    return list(tqdm(drawn, total=len(tasks), desc=desc, leave=False))
