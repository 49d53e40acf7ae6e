"""`moede book` and `moede info` check every dataset root up front: layout, readable label files, media found."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_inputs import cremad_corpus, image_folder_corpus, one_line_error
from moede.cli import main


@pytest.fixture
def notebooks_run(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record the configurations the notebook runner gets (none must, when a root is bad)."""
    import moede.book.runner as runner

    seen: list = []
    monkeypatch.setattr(runner, "run_notebooks", lambda cfg, **_: seen.append(cfg) or [])
    return seen



def test_book_checks_a_later_chapters_root_before_running_anything(tmp_path: Path, notebooks_run: list,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["book", "--run-dir", str(tmp_path / "run"), "--build-dir", str(tmp_path / "b"),
                 "--cremad", str(tmp_path / "typo")])
    assert code == 3 and f"the CREMA-D root {tmp_path / 'typo'} is not a folder" in one_line_error(capsys, "book")
    assert notebooks_run == [] and not (tmp_path / "run").exists() and not (tmp_path / "b").exists()


def test_info_reports_what_it_found_and_rejects_a_missing_root(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    faces = image_folder_corpus(tmp_path / "faces", speakers=5)
    (faces / "images" / "P4_0001.png").unlink()
    (faces / "labels.csv").write_text((faces / "labels.csv").read_text().replace("P4_0001.png,happiness\n", ""))
    assert main(["info", "--affectnet", str(faces)]) == 0
    assert f"image folder at {faces}: 4 of 4 labelled images found" in capsys.readouterr().out
    assert main(["info", "--affectnet", str(tmp_path / "missing")]) == 3
    assert "is not a folder" in one_line_error(capsys, "info")


@pytest.mark.parametrize("content,named", [
    (b"", "is empty"),
    ("FileName,MultiModalVote\n1001_DFA_ANG_XX,\xe9\n".encode("latin-1"), "is not UTF-8 text"),
    (b"\x00\x01\x02garbage\xff\xfe", "is not UTF-8 text"),
    (b"FileName\n", "missing column(s)"),
])
def test_unreadable_label_csv_is_one_line_naming_the_file(tmp_path: Path, content: bytes, named: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = cremad_corpus(tmp_path / "cremad")
    summary = root / "processedResults" / "summaryTable.csv"
    summary.write_bytes(content)
    assert main(["info", "--cremad", str(root)]) == 3
    err = one_line_error(capsys, "info")
    assert str(summary) in err and named in err


def test_root_without_any_media_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = cremad_corpus(tmp_path / "cremad", clips=2, present=0)
    assert main(["info", "--cremad", str(root)]) == 3
    assert "none of its 2 labelled clips is on disk" in one_line_error(capsys, "info")


def test_empty_image_folder_labels_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faces = image_folder_corpus(tmp_path / "faces")
    (faces / "labels.csv").write_text("")
    assert main(["info", "--affectnet", str(faces)]) == 3
    assert f"{faces / 'labels.csv'} is empty" in one_line_error(capsys, "info")
