"""SIGTERM and SIGINT end the whole process tree: the alignment pool's workers, a notebook's kernel and what it
started; nothing is half-written and the command says it was interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import psutil
import pytest

from moede.align import sample_photo
from moede.errors import EXIT_INTERRUPTED, EXIT_TERMINATED


def _wait_for(condition, timeout_s: float = 60.0) -> None:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout_s, "timed out waiting for the command to start its work"
        time.sleep(0.1)


def _stop(process: subprocess.Popen, signum: int) -> tuple[int, str, list[psutil.Process]]:
    """Send `signum` to `process`; return its exit code, its stderr and the descendants it had still running."""
    descendants = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    _, alive = psutil.wait_procs(descendants, timeout=5)
    return process.returncode, err, alive


def _faces(folder: Path, count: int) -> Path:
    folder.mkdir()
    image = cv2.cvtColor(cv2.resize(sample_photo(), (200, 200)), cv2.COLOR_RGB2BGR)
    for index in range(count):
        cv2.imwrite(str(folder / f"face{index:03d}.png"), image)
    return folder


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one CPU: the alignment runs in-process, without a pool")
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, EXIT_TERMINATED), (signal.SIGINT, EXIT_INTERRUPTED)])
def test_a_signal_stops_the_alignment_pool_and_leaves_no_partial_file(tmp_path: Path, signum: int, code: int) -> None:
    source, out = _faces(tmp_path / "faces", 160), tmp_path / "out"  # 160 images: a pool of 2 workers
    process = subprocess.Popen([sys.executable, "-m", "moede", "align", str(source), str(out), "--size", "32"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(psutil.Process(process.pid).children()) >= 3 and len(list(out.glob("*.png"))) >= 2)
    returncode, err, alive = _stop(process, signum)
    assert returncode == code and alive == []
    assert f"moede align: interrupted ({signal.Signals(signum).name})" in err and "Traceback" not in err
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left
    for crop in out.glob("*.png"):
        assert cv2.imread(str(crop)) is not None, crop


def test_sigterm_stops_a_notebook_kernel_and_what_it_started(tmp_path: Path) -> None:
    notebooks, marker, build = tmp_path / "notebooks", tmp_path / "child.pid", tmp_path / "build"
    notebooks.mkdir()
    (notebooks / "01_wait.py").write_text(textwrap.dedent(f"""\
        # %%
        import pathlib, subprocess, time
        child = subprocess.Popen(["sleep", "300"])
        pathlib.Path({str(marker)!r}).write_text(str(child.pid))
        time.sleep(300)
        """))
    script = textwrap.dedent(f"""\
        from pathlib import Path
        from moede.book.chapters import Chapter
        from moede.book.runner import run_notebooks
        from moede.config import RunConfig
        from moede.signals import ending_tree_on_signals
        with ending_tree_on_signals():
            run_notebooks(RunConfig(run_dir=Path({str(tmp_path / 'run')!r})), build_dir=Path({str(build)!r}),
                          notebook_dir=Path({str(notebooks)!r}), chapters=[Chapter("01_wait", "wait", "")])
        """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    _wait_for(marker.is_file)
    sleeper = psutil.Process(int(marker.read_text()))
    returncode, err, alive = _stop(process, signal.SIGTERM)
    assert returncode != 0 and alive == [] and not sleeper.is_running()
    assert "Interrupted: SIGTERM" in err
    status = json.loads((build / "notebooks" / "status.json").read_text())
    assert status["01_wait"]["status"] == "interrupted"
