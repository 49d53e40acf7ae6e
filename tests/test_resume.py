"""Resumable training (moede.training.resume): a training stopped after any epoch, or killed with SIGKILL at a random
moment (also while an epoch checkpoint is written, and under torchrun with 2 gloo processes), ends bit for bit as an
uninterrupted one; a checkpoint of other settings is never resumed; the checkpoint is gone once training ends."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import torch
from torch import nn

import moede.training.static as static
from moede.models.dfer import MoEDE
from moede.training.dynamic import train_dfer
from moede.training.loop import fit
from moede.training.resume import EpochCheckpoint

sys.path.insert(0, str(Path(__file__).parent))
from resume_worker import tiny_classifier  # noqa: E402

WORKER = Path(__file__).with_name("resume_worker.py")


class Crash(RuntimeError):
    """Stands for a crash in the middle of an epoch."""


def _classifier(tmp_path: Path, key: object = "k", epochs: int = 4, stateful: dict[str, object] | None = None,
                resume: EpochCheckpoint | None = None):
    """resume_worker's tiny classifier, resuming from tmp_path (or `resume`), its epoch checkpoint made with `key`
    and removed once it is trained, as a caller that has saved the model does (moede.training.reuse)."""
    checkpoint = resume or EpochCheckpoint.beside(tmp_path / "m.pt", key, "tiny")
    result = tiny_classifier(checkpoint, epochs, stateful)
    checkpoint.remove()
    return result


def _crashing(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    """Make the static training pass raise Crash in `epoch` (1-based)."""
    passes = [0]
    real = static.train_pass

    def crash(*args, **kwargs):
        passes[0] += 1
        if passes[0] == epoch:
            raise Crash(f"epoch {epoch}")
        return real(*args, **kwargs)

    monkeypatch.setattr(static, "train_pass", crash)


def _same_training(a, b) -> None:
    """Equal weights (torch.equal, every tensor), histories (timing columns aside), best epochs and dev logits."""
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    timing = [c for c in ("seconds", "clips_per_second") if c in a.history]
    pd.testing.assert_frame_equal(a.history.drop(columns=timing), b.history.drop(columns=timing))
    assert a.best_epoch == b.best_epoch and a.best_dev_score == b.best_dev_score
    assert (a.dev_logits is None) == (b.dev_logits is None)
    assert a.dev_logits is None or np.array_equal(a.dev_logits, b.dev_logits)


@pytest.mark.parametrize("crash_at", [2, 4])
def test_a_training_stopped_mid_epoch_resumes_from_the_last_epoch_and_ends_bit_identical(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], crash_at: int) -> None:
    whole = _classifier(tmp_path / "whole")
    assert not list((tmp_path / "whole").iterdir()), "the epoch checkpoint is deleted once training ends"
    with monkeypatch.context() as patch:
        _crashing(patch, crash_at)
        with pytest.raises(Crash):
            _classifier(tmp_path / "resumed")
    (left,) = (tmp_path / "resumed").iterdir()
    assert left.name.startswith("m.") and left.suffix == ".resume"
    capsys.readouterr()
    resumed = _classifier(tmp_path / "resumed")
    assert f"resuming tiny from epoch {crash_at - 1} of 4 ({left})" in capsys.readouterr().out
    _same_training(whole, resumed)
    assert not left.exists()


def test_a_checkpoint_of_other_settings_or_epochs_is_never_resumed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with monkeypatch.context() as patch:
        _crashing(patch, 3)
        with pytest.raises(Crash):
            _classifier(tmp_path, key="old")
    (old,) = tmp_path.iterdir()
    assert EpochCheckpoint.beside(tmp_path / "m.pt", "new", "tiny").path != old, "the key's digest names the file"
    fresh = _classifier(tmp_path / "fresh", key="new")
    saved = old.read_bytes()
    capsys.readouterr()
    forged = EpochCheckpoint(old, EpochCheckpoint.beside(old, "new", "tiny").key, "tiny")  # the file, another key
    _same_training(fresh, _classifier(tmp_path, resume=forged))
    old.write_bytes(saved)
    more = _classifier(tmp_path, key="old", epochs=5)  # its key, but 5 epochs, not the 4 it was made for
    assert list(more.history["epoch"]) == [1, 2, 3, 4, 5] and not old.exists()
    assert "resuming" not in capsys.readouterr().out
    old.write_bytes(saved)
    _classifier(tmp_path, key="old")
    assert "resuming tiny from epoch 2 of 4" in capsys.readouterr().out, "the file itself was resumable"


def test_more_stateful_objects_are_saved_and_a_stateless_one_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A generator registered by a caller (e.g. a batch augmentation's) resumes where it was."""
    draws: list[list[float]] = []

    def run(generator: torch.Generator, crash_at: int | None = None) -> list[float]:
        drawn: list[float] = []
        real = static.train_pass

        def pass_drawing(*args, **kwargs):
            if len(drawn) + 1 == crash_at:
                raise Crash("crash")
            drawn.append(float(torch.rand((), generator=generator)))
            return real(*args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(static, "train_pass", pass_drawing)
            try:
                _classifier(tmp_path, stateful={"augment": generator})
            except Crash:
                pass
        return drawn

    draws.append(run(torch.Generator().manual_seed(5)))
    first = run(torch.Generator().manual_seed(5), crash_at=3)
    rest = run(torch.Generator().manual_seed(99))  # restored from the checkpoint, not from its new seed
    assert first + rest == draws[0] and len(rest) == 2
    with pytest.raises(TypeError, match="'counter'.*state_dict"):
        _classifier(tmp_path / "bad", stateful={"counter": object()})


def test_a_dfer_training_resumes_bit_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = np.random.default_rng(1)
    clips = {f"c{i}": data.normal(size=(int(data.integers(2, 6)), 8, 4)).astype(np.float32) for i in range(16)}
    labels, ids = data.integers(0, 3, 16).tolist(), list(clips)

    class Source:
        reads = 0
        crash_after: int | None = None

        def clip(self, sample_id: str) -> np.ndarray:
            Source.reads += 1
            if Source.crash_after is not None and Source.reads > Source.crash_after:
                raise Crash("crash")
            return clips[sample_id]

    def train(folder: Path):
        torch.manual_seed(0)
        return train_dfer(MoEDE(feature_dim=4, hidden=3, n_classes=3), Source(), ids[:12], labels[:12], ids[12:],
                          labels[12:], epochs=3, learning_rate=1e-2, batch_size=4,
                          resume=EpochCheckpoint.beside(folder / "d.pt", "k", "MoEDE"))

    whole = train(tmp_path / "whole")
    Source.reads, Source.crash_after = 0, 12 + 4 + 5  # epoch 1 and its dev scoring, then 5 clips of epoch 2
    with pytest.raises(Crash):
        train(tmp_path / "resumed")
    Source.crash_after = None
    _same_training(whole, train(tmp_path / "resumed"))


def test_fit_with_early_stopping_resumes_its_stopped_state(tmp_path: Path) -> None:
    """A kill after the checkpoint of the epoch that stopped training (before the caller saved the model and
    deleted it) trains no further."""
    x, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    scores = iter([50.0, 40.0, 40.0, 90.0])

    def train_epoch(module: nn.Module, optimizer: torch.optim.Optimizer, epoch: int):
        loss = nn.functional.cross_entropy(module(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"train_loss": float(loss.detach())}, 8

    def score_dev(trained: nn.Module):
        accuracy = next(scores)
        return {"dev_loss": 0.0, "dev_accuracy": accuracy, "dev_f1_macro": accuracy}, None

    checkpoint = EpochCheckpoint.beside(tmp_path / "m.pt", "k", "linear")
    torch.manual_seed(0)
    first = fit(nn.Linear(2, 2), train_epoch, score_dev, epochs=4, learning_rate=0.1, patience=2,
                resume=checkpoint)
    assert checkpoint.path.is_file() and list(first.history["epoch"]) == [1, 2, 3], "kept for the caller"
    again = fit(nn.Linear(2, 2), train_epoch, score_dev, epochs=4, learning_rate=0.1, patience=2, resume=checkpoint)
    assert list(again.history["epoch"]) == [1, 2, 3] and again.best_epoch == 1
    assert next(scores) == 90.0, "no epoch was trained or scored again"
    _same_training(first, again)


def test_the_epoch_checkpoint_outlives_a_kill_before_the_final_checkpoint_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train_or_reuse deletes a training's epoch checkpoint only once the model's checkpoint is written."""
    from moede.training import reuse
    from moede.training.reuse import Trained

    def train() -> Trained:
        tiny_classifier(EpochCheckpoint.beside(tmp_path / "m.pt", "k", "tiny"))
        return Trained(MoEDE(feature_dim=4, hidden=3, n_classes=3), {})  # a registered model stands for it

    def killed(*args: object, **kwargs: object) -> None:
        raise Crash("while the model's checkpoint is written")

    epoch_checkpoint = EpochCheckpoint.beside(tmp_path / "m.pt", "k", "tiny").path
    with monkeypatch.context() as patch:
        patch.setattr(reuse, "save_checkpoint", killed)
        with pytest.raises(Crash):
            reuse.train_or_reuse(tmp_path / "m.pt", "k", train, config={}, classes=("a", "b"), source=None)
    assert epoch_checkpoint.is_file(), "what a rerun resumes from (its last epoch: nothing is trained again)"
    reuse.train_or_reuse(tmp_path / "m.pt", "k", train, config={}, classes=("a", "b"), source=None)
    assert (tmp_path / "m.pt").is_file() and not epoch_checkpoint.exists()


def _env() -> dict[str, str]:
    """The environment of a worker: one thread, this worktree's moede, no torchrun variables of ours."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    return env


def _command(mode: str, out: Path, processes: int, *extra: str) -> list[str]:
    """The worker's command line, alone or under torchrun with `processes` processes."""
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
                if processes > 1 else [sys.executable])
    return [*launcher, str(WORKER), mode, str(out), *extra]


def _finish(mode: str, out: Path, processes: int = 1, *extra: str) -> subprocess.CompletedProcess:
    """Run the worker to its end (or its own kill) and return it."""
    return subprocess.run(_command(mode, out, processes, *extra), env=_env(), capture_output=True, text=True,
                          timeout=300)


def _written(out: Path, pattern: str = "*.resume") -> bool:
    """Whether an epoch checkpoint matching `pattern` under `out` is written (not a temporary file being written);
    folders the worker removes while they are walked (its temporary data trees) are passed over, not an error."""
    return any(not name.startswith(".") and fnmatch.fnmatch(name, pattern)
               for _, _, names in os.walk(out) for name in names)


def _kill_at_random(mode: str, out: Path, processes: int, window: float, rng: np.random.Generator,
                    pattern: str = "*.resume") -> float:
    """Start the worker, wait for its first epoch checkpoint (matching `pattern`), SIGKILL it and every process it
    started (torchrun's workers are not in its process group) a random time within `window` seconds later; return
    that delay (the worker must still have been running)."""
    process = subprocess.Popen(_command(mode, out, processes), env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not _written(out, pattern) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    delay = float(rng.uniform(0, window))
    time.sleep(delay)
    running = process.poll() is None
    tree = psutil.Process(process.pid)
    victims = [tree, *tree.children(recursive=True)]
    for victim in victims:
        with contextlib.suppress(psutil.Error):
            victim.send_signal(signal.SIGKILL)
    process.wait()
    psutil.wait_procs(victims[1:], timeout=30)
    assert running, f"the worker ended before the kill {delay:.2f} s after its first checkpoint"
    return delay


def _same_results(reference: Path, resumed: Path) -> None:
    """The two runs' result.pt hold equal weights (torch.equal) and equal histories."""
    a, b = (torch.load(folder / "result.pt", weights_only=False) for folder in (reference, resumed))
    assert a.keys() == b.keys()
    for name, value in a.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, b[name])
        else:
            assert value.keys() == b[name].keys() and all(torch.equal(value[k], b[name][k]) for k in value), name


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The stages worker run to its end once, and how long it trained after its first epoch checkpoint."""
    out = tmp_path_factory.mktemp("uninterrupted")
    process = subprocess.Popen(_command("stages", out, 1), env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    while not _written(out) and process.poll() is None:
        time.sleep(0.02)
    first = time.monotonic()
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    return out, time.monotonic() - first


@pytest.mark.slow
def test_stages_killed_twice_at_random_moments_end_bit_identical(tmp_path: Path,
                                                                uninterrupted: tuple[Path, float]) -> None:
    """SFER stage, one expert, one DFER model: two SIGKILLs at random moments, then a run to the end."""
    reference, trained_for = uninterrupted
    seed = int(np.random.default_rng().integers(2**31))
    rng = np.random.default_rng(seed)
    delays = [_kill_at_random("stages", tmp_path, 1, 0.6 * trained_for, rng) for _ in range(2)]
    final = _finish("stages", tmp_path)
    assert final.returncode == 0, f"seed {seed}, kills after {delays}: {final.stderr[-2000:]}"
    _same_results(reference, tmp_path)
    assert not list(tmp_path.rglob("*.resume")), "no epoch checkpoint (or temporary) is left once training ends"


@pytest.mark.slow
def test_a_kill_while_the_checkpoint_is_written_resumes_from_the_one_before(
        tmp_path: Path, uninterrupted: tuple[Path, float]) -> None:
    killed = _finish("stages", tmp_path, 1, "--kill-in-write", "6")  # SFER's 4, then the expert's second
    assert killed.returncode == -signal.SIGKILL
    assert len(list(tmp_path.rglob(".expert.*.tmp.resume"))) == 1, "the half-written temporary is left"
    final = _finish("stages", tmp_path)
    assert final.returncode == 0, final.stderr[-2000:]
    assert "resuming happy from epoch 1 of 4" in final.stdout + final.stderr
    _same_results(uninterrupted[0], tmp_path)
    assert not list(tmp_path.rglob("*.resume"))


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch has no torch.distributed")
def test_two_gloo_processes_killed_at_a_random_moment_end_bit_identical(tmp_path: Path) -> None:
    """The DFER model killed at a random moment of its epochs (all processes), the static classifier while rank 0
    writes its second epoch checkpoint: both resume on both ranks and end as the uninterrupted 2-process run."""
    reference = _finish("ddp", tmp_path / "reference", 2)
    assert reference.returncode == 0, reference.stderr[-2000:]
    seed = int(np.random.default_rng().integers(2**31))
    # the tiny MoEDE trains its 3 epochs after the first checkpoint in about 0.2 s: a kill within 0.1 s lands in them
    _kill_at_random("ddp", tmp_path / "random", 2, 0.1, np.random.default_rng(seed), pattern="dfer.*.resume")
    killed = _finish("ddp", tmp_path / "in_write", 2, "--kill-in-write", "2")
    assert killed.returncode != 0 and _written(tmp_path / "in_write", "static.*.resume")
    for folder, model in (("random", "tiny MoEDE"), ("in_write", "classifier from epoch 1 of 4")):
        final = _finish("ddp", tmp_path / folder, 2)
        assert final.returncode == 0, f"seed {seed}: {final.stderr[-2000:]}"
        assert final.stdout.count(f"resuming {model}") == 1, f"seed {seed}: only rank 0 says so, once"
        _same_results(tmp_path / "reference", tmp_path / folder)
        assert not list((tmp_path / folder).rglob("*.resume")), "rank 0 removed the checkpoint and temporaries"
