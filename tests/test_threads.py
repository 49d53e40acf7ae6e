"""moede chooses how its CPU work shares the machine at one place (moede.threads): OpenMP threads sleep while they
wait (unless the user chose a policy) and the process pool has one worker per CPU the process may run on."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from moede.threads import BUSY_CPUS, available_cpus, others_busy_cpus, wait_policy

PROBE = "import moede, os, torch; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"


def test_openmp_threads_sleep_only_on_a_busy_machine() -> None:
    assert wait_policy(0.0) is None and wait_policy(BUSY_CPUS - 0.01) is None
    assert wait_policy(BUSY_CPUS) == "PASSIVE" and wait_policy(1.5) == "PASSIVE"


def test_importing_moede_beside_a_busy_process_makes_openmp_threads_sleep_unless_the_user_chose() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert others_busy_cpus(0.3) >= BUSY_CPUS
        assert subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                              check=True).stdout.strip() == "PASSIVE"
        chosen = subprocess.run([sys.executable, "-c", PROBE], env=env | {"OMP_WAIT_POLICY": "ACTIVE"},
                                capture_output=True, text=True, check=True)
        assert chosen.stdout.strip() == "ACTIVE"
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or (os.cpu_count() or 1) < 2,
                    reason="needs Linux's affinity mask and two CPUs")
def test_the_pool_counts_the_cpus_of_the_affinity_mask_not_the_machine() -> None:
    code = "import os; os.sched_setaffinity(0, {0}); from moede.threads import available_cpus; print(available_cpus())"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "1"
    assert available_cpus() == len(os.sched_getaffinity(0))
