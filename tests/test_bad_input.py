"""Bad input through `moede.cli.main`: one line on stderr with the command's prefix, documented exit codes, no
traceback (unless --debug), nothing half-written."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from cli_inputs import one_line_error
from moede.align import sample_video_path
from moede.align.video import read_frames
from moede.cli import main
from moede.errors import EXIT_FAILED, EXIT_INPUT, EXIT_USAGE



def truncated_clip(folder: Path, frames: int = 20) -> Path:
    """An MJPG .avi of `frames` carphone frames cut in half: the header still announces every frame."""
    whole = folder / "whole.avi"
    images = list(read_frames(sample_video_path(), max_frames=frames))
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 10, images[0].shape[1::-1])
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    cut = folder / "cut.avi"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return cut


@pytest.mark.parametrize("name,content,named", [
    ("empty.mp4", b"", "empty file (0 bytes)"),
    ("notes.flv", b"this is not a video\n" * 20, "OpenCV cannot open video"),
    ("notes.txt", b"hello", "images must end in"),
])
def test_undecodable_video_or_file_is_one_line_exit_3(tmp_path: Path, name: str, content: bytes, named: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / name).write_bytes(content)
    assert main(["align", str(tmp_path / name), str(tmp_path / "out")]) == EXIT_INPUT
    err = one_line_error(capsys, "align")
    assert name in err and named in err
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_corrupt_image_alone_is_called_undecodable_not_faceless(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff garbage")
    assert main(["align", str(tmp_path / "photo.jpg"), str(tmp_path / "out")]) == EXIT_INPUT
    assert "cannot be decoded as an image" in one_line_error(capsys, "align")


@pytest.mark.parametrize("option,named", [(["--max-frames", "0"], "max_frames must be an integer >= 1"),
                                          (["--size", "abc"], "size must be an integer >= 8, not 'abc'")])
def test_bad_align_option_is_a_setting_error(tmp_path: Path, option: list[str], named: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["align", str(sample_video_path()), str(tmp_path / "out"), *option])
    assert exit_.value.code == EXIT_USAGE
    assert named in one_line_error(capsys, "align") and not (tmp_path / "out").exists()


def test_truncated_clip_warns_with_frames_announced_and_read(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["align", str(truncated_clip(tmp_path)), str(tmp_path / "out"), "--size", "32"]) == 0
    err = capsys.readouterr().err
    assert "moede align: warning: video" in err and "announces 20 frames but only 10 could be decoded" in err


def test_missing_path_and_all_bad_folder_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["align", str(tmp_path / "absent"), str(tmp_path / "out")]) == EXIT_INPUT
    assert "absent does not exist" in one_line_error(capsys, "align")
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"")
    (folder / "b.jpg").write_bytes(b"text")
    assert main(["align", str(folder), str(tmp_path / "out")]) == EXIT_INPUT
    captured = capsys.readouterr()
    assert "unreadable: 2" in captured.out and "not one image under" in captured.err
    assert "Traceback" not in captured.err


def test_internal_error_is_exit_1_and_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import moede.cli as cli

    def broken(_args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setitem(cli.COMMANDS, "info", broken)
    assert main(["info"]) == EXIT_FAILED
    assert "internal error (RuntimeError: boom); re-run with --debug" in one_line_error(capsys, "info")
    with pytest.raises(RuntimeError, match="boom"):
        main(["info", "--debug"])
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "info"])
