"""Data-parallel training under torchrun: 2 CPU processes (gloo) train what 1 process trains, only rank 0 writes,
and a crashed rank fails the run instead of hanging it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.data import SequentialSampler

from moede.training.distributed import Distributed, ShardedBatchSampler

WORKER = Path(__file__).with_name("ddp_worker.py")
pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch has no torch.distributed")


def _run(out: Path, processes: int, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
                if processes > 1 else [sys.executable])
    return subprocess.run([*launcher, str(WORKER), str(out), *extra], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_sharded_batches_are_the_single_process_batches_split_between_ranks():
    order = SequentialSampler(range(11))
    ranks = [list(ShardedBatchSampler(order, 4, Distributed(r, 2))) for r in range(2)]
    assert ranks[0] == [[0, 2], [4, 6], [8, 10]] and ranks[1] == [[1, 3], [5, 7], [9]]
    alone = list(ShardedBatchSampler(order, 4, Distributed()))
    assert alone == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    # a last global batch smaller than the number of ranks is dropped so every rank steps equally often
    assert len(list(ShardedBatchSampler(SequentialSampler(range(9)), 4, Distributed(1, 2)))) == 2
    with pytest.raises(ValueError, match="batch size 1 is smaller than the 2 processes"):
        ShardedBatchSampler(order, 1, Distributed(0, 2))


@pytest.mark.slow
def test_two_processes_train_what_one_process_trains(tmp_path: Path):
    single, double = _run(tmp_path / "one", 1), _run(tmp_path / "two", 2)
    assert single.returncode == 0, single.stderr[-2000:]
    assert double.returncode == 0, double.stderr[-2000:]
    # only rank 0 wrote, and the others went on only after its files existed
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["result.pt", "written_by_0.json"]
    one = torch.load(tmp_path / "one" / "result.pt", weights_only=False)
    two = torch.load(tmp_path / "two" / "result.pt", weights_only=False)
    for model in ("static", "dynamic"):
        assert one[model].keys() == two[model].keys()
        for name, tensor in one[model].items():
            torch.testing.assert_close(two[model][name], tensor, atol=1e-5, rtol=1e-4, msg=f"{model}.{name}")
        pd.testing.assert_frame_equal(two[f"{model}_history"], one[f"{model}_history"], atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_a_crashed_rank_fails_the_run_instead_of_hanging(tmp_path: Path):
    result = _run(tmp_path / "crash", 2, "--crash-rank", "1", timeout=180)
    assert result.returncode != 0
    assert "crashing on purpose" in result.stderr
    assert not (tmp_path / "crash" / "result.pt").exists()
