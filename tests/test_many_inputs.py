"""One exit-code contract for the commands that take many inputs (README, Exit codes): 0 when every input gave its
result or has its reason in the outputs' summary, 3 when nothing usable was produced; `predict` on a folder reads
only photos and videos and writes one summary table; a bundle holds no absolute path of the exporting machine."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from moede.align import sample_photo
from moede.cli import main
from moede.errors import EXIT_INPUT, EXIT_OUTPUT
import moede.errors as errors
from moede.predict.bundle import card_path, export_bundle
from moede.sources import REPO_ROOT
from test_predict import write_untrained_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_untrained_run(tmp_path_factory.mktemp("exporting-machine") / "run")


@pytest.fixture(scope="module")
def bundle(run_dir: Path) -> Path:
    return export_bundle(run_dir, run_dir.parent / "model.moede")


def _photos(folder: Path, face: bool = True, faceless: bool = True) -> Path:
    folder.mkdir()
    if face:
        cv2.imwrite(str(folder / "face.png"), cv2.cvtColor(cv2.resize(sample_photo(), (256, 256)), cv2.COLOR_RGB2BGR))
    if faceless:
        cv2.imwrite(str(folder / "wall.png"), np.full((96, 96, 3), 128, np.uint8))
    return folder


def test_align_one_good_one_faceless_exits_0_with_the_reason_in_the_manifest(tmp_path: Path) -> None:
    assert main(["align", str(_photos(tmp_path / "in")), str(tmp_path / "out"), "--size", "32"]) == 0
    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv").set_index("sample_id")
    assert manifest.loc["face.png", "status"] == "detected" and manifest.loc["wall.png", "status"] == "no_face"
    assert main(["align", str(_photos(tmp_path / "bad", face=False)), str(tmp_path / "o2")]) == EXIT_INPUT


def test_predict_on_a_folder_reads_only_media_and_writes_one_summary_row_per_file(
        bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _photos(tmp_path / "in")
    for name in ("labels.csv", "notes.txt", "meta.json"):
        (folder / name).write_text("not media\n")
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--model", str(bundle), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "3 file(s) that are neither photos nor videos ignored" in captured.out
    assert "labels.csv" not in captured.err and "no face found in photo" in captured.err
    summary = pd.read_csv(out / "summary.csv").set_index("file")
    assert list(summary.columns[:5]) == ["kind", "status", "reason", "faces", "prediction"]
    assert len(summary) == 2 and summary.filter(like="prob_").shape[1] == 8
    face, wall = summary.loc[str(folder / "face.png")], summary.loc[str(folder / "wall.png")]
    assert (face["status"], face["faces"], face["kind"]) == ("ok", 1, "photo") and isinstance(face["prediction"], str)
    assert wall["status"] == "no_face" and "no face found in photo" in wall["reason"] and wall["faces"] == 0
    assert np.isclose(face.filter(like="prob_").sum(), 1.0) and wall.filter(like="prob_").isna().all()
    assert (out / "face.png.json").is_file() and not (out / "wall.png.json").exists()


def test_predict_exits_3_only_when_no_file_gave_a_prediction(bundle: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = _photos(tmp_path / "in", face=False)
    (folder / "empty.mp4").write_bytes(b"")
    assert main(["predict", str(folder), "--model", str(bundle), "--out", str(tmp_path / "out")]) == EXIT_INPUT
    assert "not one of the 2 file(s) gave a prediction" in capsys.readouterr().err.splitlines()[-1]
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert sorted(summary["status"]) == ["empty", "no_face"]


def test_an_output_name_too_long_is_reported_in_the_summary_and_exits_4(bundle: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = _photos(tmp_path / "in", faceless=False)
    long = folder / ("f" * 246 + ".png")  # 250 characters: its outputs (.frames.csv) would have 265
    (folder / "face.png").rename(long)
    shutil.copy(long, folder / "face.png")
    assert main(["predict", str(folder), "--model", str(bundle), "--out", str(tmp_path / "out")]) == EXIT_OUTPUT
    assert "path too long" in capsys.readouterr().err
    summary = pd.read_csv(tmp_path / "out" / "summary.csv").set_index("file")
    assert summary.loc[str(long), "status"] == "not_written" and summary.loc[str(folder / "face.png"), "status"] == "ok"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_export_exits_0_for_a_whole_run_and_3_for_one_missing_a_model(run_dir: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run_dir), str(tmp_path / "whole.moede")]) == 0
    partial = shutil.copytree(run_dir, tmp_path / "partial")
    (partial / "models" / "sfer.pt").unlink()
    assert main(["export", str(partial), str(tmp_path / "partial.moede")]) == EXIT_INPUT
    assert "02_sfer" in capsys.readouterr().err and not (tmp_path / "partial.moede").exists()


def _strings(value: Any) -> list[str]:
    """Every string in nested dicts and lists (tensors skipped)."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_a_bundle_and_its_card_hold_no_absolute_path_of_the_exporting_machine(bundle: Path, run_dir: Path) -> None:
    wrapper = torch.load(bundle, weights_only=True)
    payload = torch.load(io.BytesIO(wrapper["payload"].numpy().tobytes()), weights_only=True)
    texts = _strings(payload) + [card_path(bundle).read_text()]
    machine = str(run_dir.parent)
    assert not [t for t in texts if machine in t or t.startswith("/")]
    assert payload["meta"]["run_dir"] == "run"
    assert (run_dir / payload["models"]["moede"]["checkpoint"]).is_file()  # relative to the run directory


def test_the_readme_exit_code_table_lists_every_code_of_moede_errors() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("## Errors and exit codes"):]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}
    assert documented == {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
