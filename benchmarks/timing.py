"""What the benchmark scripts share: the best wall time of a few runs (imported as `timing`, since each script runs
with benchmarks/ on its path)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(run: Callable[[], object], repeats: int = 2, warm_up: bool = True) -> float:
    """Best wall time of `repeats` calls of `run`, after one untimed warm-up call when `warm_up`."""
    if warm_up:
        run()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
