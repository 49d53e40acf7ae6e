"""How moede's CPU work shares the machine, chosen at one place: the CPUs this process may run on (its affinity
mask, not the machine's count) and OpenMP threads that sleep instead of spinning while they wait.

OpenMP's default wait policy spins a waiting thread for a while: with another CPU-bound process on the same cores
the spinning threads take the time slices the working ones need (benchmarks/bench_load.py: a MobileNetV2 training
step 4.3x slower with one competing process on 2 cores, against 1.9x with PASSIVE)."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """The CPUs this process may run on (sched_getaffinity where the platform has it, else the CPU count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def sleeping_openmp_threads() -> None:
    """Make OpenMP's waiting threads sleep (OMP_WAIT_POLICY=PASSIVE) unless the user chose a policy; it takes effect
    where torch is imported after moede, and in every child process (pool workers, the book's notebook kernels)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
