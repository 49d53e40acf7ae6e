"""How moede's CPU work shares the machine, chosen at one place: the CPUs this process may run on (its affinity
mask, not the machine's count) and, when other processes already keep a CPU busy, OpenMP threads that sleep instead
of spinning while they wait.

OpenMP's default wait policy spins a waiting thread for a while: with another CPU-bound process on the same cores the
spinning threads take the time slices the working ones need. Measured on 2 cores (benchmarks/bench_load.py, six
MobileNetV2 training steps, 2 torch threads): spinning 2.1-2.6 s idle and 7.5-9.0 s beside one competing process
(3.7x); sleeping (PASSIVE) 3.4 s idle and 4.3-4.8 s beside it. Neither wins both, so the policy follows the machine:
PASSIVE only when, at import, other processes already use at least BUSY_CPUS of CPU time."""

from __future__ import annotations

import os
import time

BUSY_CPUS = 0.5
"""CPUs' worth of other processes' work from which OpenMP's waiting threads sleep."""


def available_cpus() -> int:
    """The CPUs this process may run on (sched_getaffinity where the platform has it, else the CPU count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def others_busy_cpus(seconds: float = 0.1) -> float:
    """CPUs' worth of time that other processes used over the next `seconds` (Linux's /proc/stat; 0 elsewhere)."""
    def busy() -> float:
        with open("/proc/stat") as stat:
            user, nice, system, idle, iowait, *rest = (int(v) for v in stat.readline().split()[1:])
        own = os.times()
        return (user + nice + system + sum(rest[:3])) / os.sysconf("SC_CLK_TCK") - own.user - own.system

    try:
        first = busy()
        time.sleep(seconds)
        return max(0.0, (busy() - first) / seconds)
    except (OSError, ValueError):
        return 0.0


def wait_policy(others_busy: float) -> str | None:
    """The OpenMP wait policy for a machine where other processes use `others_busy` CPUs: PASSIVE from BUSY_CPUS on
    (sleeping waiters leave the busy cores' time to the working threads), else None (OpenMP's faster spinning)."""
    return "PASSIVE" if others_busy >= BUSY_CPUS else None


def sleeping_openmp_threads() -> None:
    """Make OpenMP's waiting threads sleep (OMP_WAIT_POLICY=PASSIVE) when other processes keep the machine busy now,
    unless the user chose a policy; it takes effect where torch is imported after moede, and is inherited by child
    processes (pool workers, the book's notebook kernels; a kernel that finds the policy unset decides anew)."""
    if "OMP_WAIT_POLICY" not in os.environ:
        policy = wait_policy(others_busy_cpus())
        if policy:
            os.environ["OMP_WAIT_POLICY"] = policy
