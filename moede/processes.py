"""The process pool of the CPU-bound per-item work (face alignment, drawing the demo corpora): one process per core."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import cv2


def _single_threaded_opencv() -> None:
    """Worker initializer: one OpenCV thread per process (the processes already use every core)."""
    cv2.setNumThreads(1)


def cpu_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes with single-threaded OpenCV (spawn, not fork: a fork after OpenCV's or
    OpenMP's threads started, e.g. in a notebook kernel, can deadlock the children)."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_single_threaded_opencv)
