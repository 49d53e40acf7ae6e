"""Data-parallel training under torchrun: 2 CPU processes (gloo) train what 1 process trains, only rank 0 writes
(and what it writes may itself write on rank 0), a crashed rank fails the run instead of hanging it, `moede train
experts` deals the experts out one per rank and gives the 1-process checkpoints, and a feature cache built by 2 ranks
is byte for byte the 1-process one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import SequentialSampler

from moede.cli import full_profile_note, main
from moede.config import RunConfig
from moede.distributed import Distributed, ShardedBatchSampler
from moede.errors import EXIT_USAGE

WORKER = Path(__file__).with_name("ddp_worker.py")
pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch has no torch.distributed")


def _run(out: Path, processes: int, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `ddp_worker.py *extra` alone or under torchrun with `processes` processes (out: a new folder)."""
    out.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
                if processes > 1 else [sys.executable])
    return subprocess.run([*launcher, str(WORKER), *extra], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_train_command_and_book_help_explain_torchrun(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0 and "torchrun --nproc-per-node 4 -m moede train all" in text and "--nnodes 2" in text
    for stage in ("sfer", "experts", "fusion", "dfer", "ablation", "msp-improv", "all"):
        assert stage in text
    with pytest.raises(SystemExit):
        main(["book", "--help"])
    assert "pre-train the stages with torchrun" in " ".join(capsys.readouterr().out.split())
    note = full_profile_note(RunConfig.for_profile("full", run_dir=Path("/runs/full")))
    assert "torchrun --nproc-per-node N -m moede train all --profile full --run-dir /runs/full" in note


def test_train_command_rejects_a_bad_stage_or_setting_before_any_work(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "everything"])
    assert exit_.value.code == EXIT_USAGE and "invalid choice: 'everything'" in capsys.readouterr().err
    assert main(["train", "experts", "--set", "expert_epochs=0"]) == EXIT_USAGE
    assert "expert_epochs" in capsys.readouterr().err


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
    single, double = (_run(tmp_path / n, p, "train", str(tmp_path / n)) for n, p in (("one", 1), ("two", 2)))
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
    result = _run(tmp_path / "crash", 2, "train", str(tmp_path / "crash"), "--crash-rank", "1", timeout=180)
    assert result.returncode != 0
    assert "crashing on purpose" in result.stderr
    assert not (tmp_path / "crash" / "result.pt").exists()


TINY = ["--set", "image_size=32", "--set", "sfer_epochs=1", "--set", "expert_epochs=1", "--set", "batch_size=8",
        "--set", "init=random", "--set", "trainable_from=0", "--device", "cpu"]
"""The smallest static run: 32x32 faces, one epoch, random initial weights (nothing to convert), every layer trained
(with random weights, trainable_from > 0 would draw the frozen blocks' activations from the RNG state of the first
model that needs them, which differs between a run that trains the SFER and one that reuses it)."""


@pytest.fixture(scope="module")
def tiny_affectnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drawn-face AffectNet-layout corpus of 6 training and 3 development faces per emotion."""
    from moede.data.demo import demo_static
    from moede.data.emotions import AFFECTNET

    return demo_static(tmp_path_factory.mktemp("affectnet"), per_class=dict.fromkeys(AFFECTNET, 6), dev_per_class=3,
                       size=64, label_noise=0.0)


def _moede(folder: Path, processes: int, corpus: Path,
           *argv: str) -> tuple[subprocess.CompletedProcess, dict[int, list[str]]]:
    """Run `moede argv` on `corpus` in `processes` processes with run dir folder/run; return the result and the files
    each rank wrote under the run dir."""
    audit = folder / "audit"
    audit.mkdir(parents=True)
    result = _run(folder, processes, "moede", str(audit), *argv, "--run-dir", str(folder / "run"),
                  "--affectnet", str(corpus), "--set", f"cache_dir={folder / 'cache'}", *TINY)
    run = str(folder / "run")
    written = {int(p.stem[4:]): [w for w in json.loads(p.read_text()) if w.startswith(run)]
               for p in audit.glob("rank*.json")}
    return result, written


def _files(run: Path) -> dict[str, Path]:
    """Every file under `run` by relative path (the aligned crops and generated corpus left out)."""
    return {str(p.relative_to(run)): p for p in run.rglob("*")
            if p.is_file() and not str(p.relative_to(run)).startswith(("aligned/", "data/"))}


@pytest.mark.slow
def test_moede_train_experts_on_two_ranks_gives_the_one_rank_checkpoints(tmp_path: Path, tiny_affectnet: Path):
    """The experts are dealt out one per rank and trained alone (no DDP, so CPU batch norm is no issue): given the
    1-process run's SFER, the 2-process run's experts equal the 1-process ones to 1e-6, the same files exist, none
    half-written, and rank 1 wrote nothing but the epoch checkpoints of the experts it trained (deleted since)."""
    one, _ = _moede(tmp_path / "one", 1, tiny_affectnet, "train", "experts")
    assert one.returncode == 0, one.stderr[-2000:]
    keep = ("models/sfer.pt", "results/sfer/", "results/table2.", "aligned/", "data/")  # the SFER stage's files
    shutil.copytree(tmp_path / "one" / "run", tmp_path / "two" / "run",
                    ignore=lambda folder, names: [n for n in names if (Path(folder) / n).is_file() and not str(
                        (Path(folder) / n).relative_to(tmp_path / "one" / "run")).startswith(keep)])
    assert not list((tmp_path / "two" / "run" / "models").glob("expert_*"))
    two, written = _moede(tmp_path / "two", 2, tiny_affectnet, "train", "experts")
    assert two.returncode == 0, two.stderr[-2000:]
    assert "done in" in two.stdout and "on 2 process(es)" in two.stdout
    assert any(w.endswith(".resume") for w in written[1]), "rank 1 keeps its experts' epochs resumable"
    assert [w for w in written[1] if not w.endswith(".resume")] == []
    assert any(w.endswith("expert_happy.pt") for w in written[0])
    files_one, files_two = _files(tmp_path / "one" / "run"), _files(tmp_path / "two" / "run")
    assert files_one.keys() == files_two.keys()
    assert not [name for name in files_two if Path(name).name.startswith(".")]  # no temporary file left
    experts = [name for name in files_one if name.startswith("models/expert_")]
    assert len(experts) == 8
    for name in experts:
        a, b = (torch.load(f[name], weights_only=True) for f in (files_one, files_two))
        assert a["meta"]["metrics"]["dev"] == b["meta"]["metrics"]["dev"], name
        for key, tensor in a["state_dict"].items():
            torch.testing.assert_close(b["state_dict"][key], tensor, atol=1e-6, rtol=1e-5, msg=f"{name} {key}")
    pd.testing.assert_frame_equal(pd.read_csv(files_two["results/table1.csv"]),
                                  pd.read_csv(files_one["results/table1.csv"]), atol=1e-4, rtol=0)


@pytest.mark.slow
def test_a_feature_cache_built_by_two_ranks_is_the_one_rank_cache(tmp_path: Path):
    """Each rank extracts a share of the clips; rank 0 merges the parts into the same bytes as one process."""
    for name, processes in (("one", 1), ("two", 2)):
        result = _run(tmp_path / name, processes, "cache", str(tmp_path / name))
        assert result.returncode == 0, result.stderr[-2000:]
    digests = [{p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / n / "cache").iterdir()}
               for n in ("one", "two")]
    assert digests[0] == digests[1] and len(digests[0]) == 2  # index + data, no part file left
    index = json.loads((tmp_path / "two" / "cache" / "clips.json").read_text())
    assert len(index["index"]) == 7 and list(index["dropped"]) == ["clip_noface"]


@pytest.mark.slow
def test_dfer_models_dealt_out_to_two_ranks_are_the_one_rank_models(tmp_path: Path):
    """run_models deals the (model, partition) runs out one per rank, each trained alone with its own seed: the
    test logits equal the 1-process ones exactly, and the run directories hold the same files, none half-written."""
    for name, processes in (("one", 1), ("two", 2)):
        result = _run(tmp_path / name, processes, "dfer", str(tmp_path / name))
        assert result.returncode == 0, result.stderr[-2000:]
    one, two = (torch.load(tmp_path / n / "logits.pt", weights_only=False) for n in ("one", "two"))
    assert one.keys() == two.keys() and all(len(runs) == 2 for runs in one.values())
    for name in one:
        for a, b in zip(one[name], two[name]):
            np.testing.assert_array_equal(a, b)
    files = [sorted(str(p.relative_to(tmp_path / n)) for p in (tmp_path / n / "run").rglob("*") if p.is_file())
             for n in ("one", "two")]
    assert files[0] == files[1] and len([f for f in files[1] if f.endswith(".pt")]) == 4
    assert not [f for f in files[1] if Path(f).name.startswith(".")]
