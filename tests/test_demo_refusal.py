"""The paper's settings refuse to start on generated demo data unless --allow-demo-data (or the setting) says so:
`moede book`, `moede train` and a notebook's start_chapter; `moede info` says what the full profile would use."""

from __future__ import annotations

from pathlib import Path

import pytest

import moede.book.runner as runner
from cli_inputs import one_line_error
from moede.book.header import start_chapter
from moede.cli import main
from moede.config import PROFILES, RunConfig
from moede.stages.preflight import demo_data_refusal
from moede.errors import EXIT_USAGE, SettingError


@pytest.fixture
def no_shared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ../shared/data: every corpus not given would be generated demo data."""
    monkeypatch.setenv("MOEDE_SHARED_DATA", str(tmp_path / "absent"))


@pytest.fixture
def notebooks(monkeypatch: pytest.MonkeyPatch) -> list[RunConfig]:
    """Record the configurations run_notebooks is called with, running nothing."""
    calls: list[RunConfig] = []
    monkeypatch.setattr(runner, "run_notebooks", lambda cfg, **_: calls.append(cfg) or [])
    return calls


def test_the_full_book_refuses_demo_data_naming_the_missing_options(no_shared: None, notebooks: list[RunConfig],
                                                                    tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["book", "--profile", "full", "--run-dir", str(tmp_path / "run"), "--build-dir", str(tmp_path / "b")])
    assert code == EXIT_USAGE and notebooks == []
    err = one_line_error(capsys, "book")
    assert "give the corpora with --affectnet (or --ferplus), --cremad, --msp-improv, or pass --allow-demo-data" in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "b").exists()


def test_allow_demo_data_lets_it_start(no_shared: None, notebooks: list[RunConfig], tmp_path: Path) -> None:
    assert main(["book", "--profile", "full", "--allow-demo-data", "--no-site", "--run-dir", str(tmp_path / "r"),
                 "--build-dir", str(tmp_path / "b")]) == 0
    assert main(["book", "--profile", "full", "--set", "allow_demo_data=true", "--no-site", "--run-dir",
                 str(tmp_path / "r"), "--build-dir", str(tmp_path / "b")]) == 0
    assert [cfg.allow_demo_data for cfg in notebooks] == [True, True]


def test_train_refuses_only_for_the_corpora_its_stage_reads(no_shared: None, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "sfer", "--profile", "full", "--run-dir", str(tmp_path / "run")]) == EXIT_USAGE
    err = one_line_error(capsys, "train")
    assert "give the corpora with --affectnet (or --ferplus), or pass" in err and "--cremad" not in err


def test_a_notebook_refuses_through_start_chapter(no_shared: None, tmp_path: Path) -> None:
    with pytest.raises(SettingError, match="--affectnet \\(or --ferplus\\), --cremad, --msp-improv"):
        start_chapter({"profile": "full", "run_dir": str(tmp_path)})
    assert start_chapter({"profile": "full", "run_dir": str(tmp_path), "allow_demo_data": True}).allow_demo_data


def test_the_paper_settings_under_the_demo_profile_refuse_too(no_shared: None) -> None:
    paper = RunConfig(profile="demo", **PROFILES["full"])
    assert "demo profile trains at the paper's settings" in demo_data_refusal(paper)
    assert demo_data_refusal(RunConfig.for_profile("demo")) is None


def test_given_corpora_and_shared_faces_are_not_demo_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    (shared / "facial_expressions").mkdir(parents=True)
    (shared / "facial_expressions" / "labels.csv").write_text("image,emotion\n")
    monkeypatch.setenv("MOEDE_SHARED_DATA", str(shared))
    cfg = RunConfig.for_profile("full", cremad_root=tmp_path, msp_improv_root=tmp_path)
    assert demo_data_refusal(cfg) is None
    assert "--cremad" in demo_data_refusal(cfg.with_(cremad_root=None))
    (shared / "crema-d" / "videos").mkdir(parents=True)  # ../shared's real CREMA-D clips are not generated either
    (shared / "crema-d" / "summaryTable.csv").write_text("FileName\n")
    assert demo_data_refusal(cfg.with_(cremad_root=None)) is None


def test_info_says_the_full_profile_would_not_start(no_shared: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--profile", "full"]) == 0
    out = capsys.readouterr().out
    assert "WILL NOT START" in out and "--affectnet (or --ferplus), --cremad, --msp-improv" in out
    assert main(["info", "--profile", "full", "--allow-demo-data"]) == 0
    assert "WILL NOT START" not in capsys.readouterr().out
