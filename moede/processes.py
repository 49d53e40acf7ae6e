"""The process pool of the CPU-bound per-item work (face alignment, drawing the demo corpora): one process per core."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import cv2

from moede.signals import worker_signals
from moede.threads import available_cpus

Task = TypeVar("Task")
Result = TypeVar("Result")


def _start_worker() -> None:
    """Worker initializer: one OpenCV thread per process (the processes already use every core); the worker ends
    with its parent and leaves no temporary file when stopped (moede.signals)."""
    cv2.setNumThreads(1)
    worker_signals()


def map_on_cores(function: Callable[[Task], Result], tasks: Sequence[Task], *, min_per_worker: int, chunksize: int,
                 workers: int | None = None) -> Iterator[Result]:
    """Yield function(task) for every task, in order, computed by up to `workers` processes (default: one per CPU
    this process may use)
    but no more than there are `min_per_worker` tasks for (a worker's start-up costs about a second); in this
    process when that leaves one. `function` must be a module-level function and the tasks picklable. The pool is
    spawned, not forked: a fork after OpenCV's or OpenMP's threads started (e.g. in a notebook kernel) can deadlock
    the children. Close the iterator (contextlib.closing) to stop the pool when the caller stops early: the tasks not
    yet started are cancelled."""
    count = min(workers or available_cpus(), max(len(tasks) // min_per_worker, 1))
    if count == 1:
        yield from map(function, tasks)
        return
    with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker) as pool:
        try:
            yield from pool.map(function, tasks, chunksize=chunksize)
        except BaseException:  # closed early, interrupted or failed: do not wait for the remaining tasks
            pool.shutdown(wait=False, cancel_futures=True)
            raise
