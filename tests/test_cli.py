"""The `moede` command line: help a newcomer can follow, lazy imports, argument handling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cli_inputs import cremad_corpus, image_folder_corpus
from moede.book.chapters import CHAPTERS
from moede.cli import _overrides, build_parser, main

SUBCOMMANDS = ("book", "check-book", "align", "demo-data", "info")


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in text
    assert "moede book" in text and "_build/html" in text


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help(command: str, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert f"usage: moede {command}" in capsys.readouterr().out


def test_book_help_names_the_options_of_the_issue(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["book", "--help"])
    text = capsys.readouterr().out
    for option in ("--profile", "--only", "--from", "--run-dir", "--affectnet", "--cremad", "--msp-improv",
                   "--imagenet-weights", "--device", "--seed", "--no-site"):
        assert option in text


def test_help_is_fast_because_heavy_modules_are_not_imported():
    code = ("import sys\nfrom moede.cli import main\ntry:\n    main(['book', '--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'papermill', 'jupyter_book', 'dlib', 'cv2') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_python_dash_m_moede_runs():
    done = subprocess.run([sys.executable, "-m", "moede", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and "moede" in done.stdout


def test_set_overrides_parse_types_and_reject_unknown_keys():
    assert _overrides(["dfer_epochs=2", "max_frames=none", "learning_rate=0.01", "device=cpu", "augment=true"]) == {
        "dfer_epochs": 2, "max_frames": None, "learning_rate": 0.01, "device": "cpu", "augment": True}
    with pytest.raises(ValueError, match="unknown setting 'no_such_field'"):
        _overrides(["no_such_field=1"])


def test_only_and_from_are_exclusive():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["book", "--only", "1", "--from", "2"])


def test_unknown_notebook_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    code = main(["book", "--only", "99", "--run-dir", str(tmp_path / "run"), "--build-dir", str(tmp_path / "b")])
    assert code == 2
    assert "names 0 notebooks" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_info_says_which_data_each_chapter_uses(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    assert main(["info", "--cremad", str(cremad_corpus(tmp_path / "cremad", clips=3, present=2))]) == 0
    text = capsys.readouterr().out
    assert "torch device:" in text
    assert f"CREMA-D at {tmp_path / 'cremad'}: 2 of 3 labelled clips found" in text and "chapter 7 (MSP-IMPROV)" in text


def test_info_prints_the_full_profile_settings_as_the_paper_states_them(capsys: pytest.CaptureFixture[str]):
    assert main(["info", "--profile", "full"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for setting in ("init=imagenet", "trainable_from=0", "image_size=224", "sfer_epochs=60", "expert_epochs=20",
                    "fusion_epochs=60", "dfer_epochs=20", "augment=True", "learning_rate=0.001",
                    "dfer_learning_rate=0.001", "partitions=5", "msp_improv_partitions=6", "fusion_relu=False"):
        assert setting in text, setting
    assert "initialisation of every MobileNetV2: ImageNet (shipped TFLite" in text


def test_align_an_image_writes_crop_and_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from moede.book.media import example_photos

    astronaut = next(p for p in example_photos() if p.name == "astronaut")
    assert main(["align", str(astronaut.path), str(tmp_path / "out"), "--size", "96"]) == 0
    manifest = pd.read_csv(tmp_path / "out" / "manifest.csv")
    assert len(manifest) == 1 and Path(manifest.loc[0, "crop"]).is_file()
    assert "aligned 1 face" in capsys.readouterr().out


@pytest.fixture
def captured_book(monkeypatch: pytest.MonkeyPatch) -> list:
    """Replace the notebook runner by a recorder of the RunConfig it would get (no notebook runs)."""
    import moede.book.runner as runner

    seen: list = []
    monkeypatch.setattr(runner, "run_notebooks", lambda cfg, **_: seen.append(cfg) or [])
    return seen


def test_relative_paths_resolve_against_the_callers_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              captured_book: list,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from moede.book.runner import notebook_parameters

    image_folder_corpus(tmp_path / "roots" / "faces")
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["book", "--only", "2", "--no-site", "--affectnet", "roots/faces", "--run-dir", "run",
                 "--build-dir", "b"]) == 0
    params = notebook_parameters(captured_book[0])
    assert params["affectnet_root"] == str(tmp_path / "roots" / "faces")
    assert params["run_dir"] == str(tmp_path / "run")
    capsys.readouterr()
    assert main(["info", "--msp-improv", "data"]) in (0, 3)
    said = capsys.readouterr()
    assert str(tmp_path / "data") in said.out + said.err


def test_book_student_builds_the_site_and_notebooks_without_solutions(tmp_path: Path, captured_book: list,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat

    import moede.book.site as site

    built: list = []
    monkeypatch.setattr(site, "build_site", lambda build_dir, **kw: built.append(kw) or build_dir / "index.html")
    assert main(["book", "--student", "--build-dir", str(tmp_path), "--run-dir", str(tmp_path / "run")]) == 0
    assert built == [{"student": True}]
    notebooks = sorted((tmp_path / "student" / "notebooks").glob("*.ipynb"))
    assert [p.stem for p in notebooks] == [c.name for c in CHAPTERS]
    tags = {t for p in notebooks for c in nbformat.read(p, as_version=4).cells for t in c.metadata.get("tags", [])}
    assert "exercise" in tags and "solution" not in tags
