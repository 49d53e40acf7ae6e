"""Fuzz-style: malformed images, videos, label CSVs and settings through `moede.cli.main`. None may put a traceback
in front of the user, exit with an undocumented code, or leave a half-written (temporary) file behind."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli_inputs import cremad_corpus, image_folder_corpus
from moede.align import sample_photo, sample_video_path
from moede.cli import main
from moede.errors import EXIT_INPUT, EXIT_USAGE

RANDOM = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()


def png_bytes(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def align_file(name: str, content: Callable[[], bytes]) -> Callable[[Path], list[str]]:
    """A case aligning one file called `name` holding `content()`."""
    def argv(folder: Path) -> list[str]:
        (folder / name).write_bytes(content())
        return ["align", str(folder / name), str(folder / "out"), "--size", "32", "--max-frames", "4"]
    return argv


def blank_video() -> bytes:
    """The bytes of an MJPG .avi of four grey frames (no face)."""
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "blank.avi"
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
        for _ in range(4):
            writer.write(np.full((48, 64, 3), 90, np.uint8))
        writer.release()
        return target.read_bytes()


def cremad_summary(content: bytes) -> Callable[[Path], list[str]]:
    """A case: `moede info` on a CREMA-D root whose summaryTable.csv holds `content`."""
    def argv(folder: Path) -> list[str]:
        root = cremad_corpus(folder / "cremad")
        (root / "processedResults" / "summaryTable.csv").write_bytes(content)
        return ["info", "--cremad", str(root)]
    return argv


def image_labels(content: bytes) -> Callable[[Path], list[str]]:
    """A case: `moede info` on an image-folder root whose labels.csv holds `content`."""
    def argv(folder: Path) -> list[str]:
        root = image_folder_corpus(folder / "faces")
        (root / "labels.csv").write_bytes(content)
        return ["info", "--affectnet", str(root)]
    return argv


def msp_labels(content: bytes) -> Callable[[Path], list[str]]:
    """A case: `moede info` on an MSP-IMPROV root whose labels.csv holds `content`."""
    def argv(folder: Path) -> list[str]:
        (folder / "msp").mkdir()
        (folder / "msp" / "labels.csv").write_bytes(content)
        return ["info", "--msp-improv", str(folder / "msp")]
    return argv


def book_with(*options: str) -> Callable[[Path], list[str]]:
    """A case: `moede book` with these options (must be refused before the run directory exists)."""
    return lambda folder: ["book", "--run-dir", str(folder / "run"), "--build-dir", str(folder / "b"), *options]


HALF_PNG = lambda: png_bytes(sample_photo())[:2000]  # noqa: E731
CASES: dict[str, tuple[Callable[[Path], list[str]], set[int]]] = {
    "empty png": (align_file("a.png", lambda: b""), {EXIT_INPUT}),
    "text as jpg": (align_file("a.jpg", lambda: b"hello, not a jpeg"), {EXIT_INPUT}),
    "random png": (align_file("a.png", lambda: RANDOM), {EXIT_INPUT}),
    "truncated png": (align_file("a.png", HALF_PNG), {0, EXIT_INPUT}),
    "png signature only": (align_file("a.png", lambda: b"\x89PNG\r\n\x1a\n"), {EXIT_INPUT}),
    "1x1 png": (align_file("a.png", lambda: png_bytes(np.zeros((1, 1, 3), np.uint8))), {EXIT_INPUT}),
    "empty mp4": (align_file("a.mp4", lambda: b""), {EXIT_INPUT}),
    "text as flv": (align_file("a.flv", lambda: b"FLV? no.\n" * 50), {EXIT_INPUT}),
    "random avi": (align_file("a.avi", lambda: RANDOM), {EXIT_INPUT}),
    "half an mp4": (align_file("a.mp4", lambda: sample_video_path().read_bytes()[:200_000]), {EXIT_INPUT}),
    "faceless video": (align_file("a.avi", blank_video), {EXIT_INPUT}),
    "unknown suffix": (align_file("a.xyz", lambda: RANDOM), {EXIT_INPUT}),
    "empty summary csv": (cremad_summary(b""), {EXIT_INPUT}),
    "latin-1 summary csv": (cremad_summary("FileName,MultiModalVote\n1001_\xe9,A\n".encode("latin-1")), {EXIT_INPUT}),
    "binary summary csv": (cremad_summary(RANDOM), {EXIT_INPUT}),
    "header-only summary csv": (cremad_summary(
        b"FileName,VoiceVote,VoiceLevel,FaceVote,FaceLevel,MultiModalVote,MultiModalLevel\n"), {EXIT_INPUT}),
    "bad clip names": (cremad_summary(
        b"FileName,VoiceVote,VoiceLevel,FaceVote,FaceLevel,MultiModalVote,MultiModalLevel\nclip,A,1,A,1,A,1\n"),
        {EXIT_INPUT}),
    "unbalanced quotes csv": (cremad_summary(b'FileName,MultiModalVote\n"1001_DFA_ANG_XX,A\n'), {EXIT_INPUT}),
    "unknown emotion labels": (image_labels(b"image,emotion\nP0_0001.png,bored\n"), {EXIT_INPUT}),
    "empty image labels": (image_labels(b""), {EXIT_INPUT}),
    "nul bytes in labels": (image_labels(b"image,emotion\n\x00\x00\x00,\x00\n"), {EXIT_INPUT}),
    "empty msp labels": (msp_labels(b""), {EXIT_INPUT}),
    "msp labels bad names": (msp_labels(b"FileName,EmoClass\nnot-a-clip,A\n"), {EXIT_INPUT}),
    "set int abc": (book_with("--set", "sfer_epochs=abc"), {EXIT_USAGE}),
    "set bool perhaps": (book_with("--set", "augment=perhaps"), {EXIT_USAGE}),
    "set float inf": (book_with("--set", "learning_rate=inf"), {EXIT_USAGE}),
    "set no key": (book_with("--set", "=3"), {EXIT_USAGE}),
    "set int 1e3": (book_with("--set", "seed=1e3"), {EXIT_USAGE}),
    "set negative": (book_with("--set", "max_frames=-1"), {EXIT_USAGE}),
    "set extra list": (book_with("--set", "extra=[1]"), {EXIT_USAGE}),
    "set unknown profile": (book_with("--set", "profile=fast"), {EXIT_USAGE}),
    "device gpu": (book_with("--device", "gpu"), {EXIT_USAGE}),
    "image size 8": (book_with("--set", "image_size=8"), {EXIT_USAGE}),
    "seed option abc": (book_with("--seed", "abc"), {EXIT_USAGE}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_gets_one_line_and_leaves_nothing_half_written(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import moede.book.runner as runner

    monkeypatch.setattr(runner, "run_notebooks", lambda *a, **k: pytest.fail("a bad input reached the notebooks"))
    build, allowed = CASES[case]
    try:
        code = main(build(tmp_path))
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    err = capfd.readouterr().err
    assert code in allowed, err
    assert "Traceback" not in err and 'File "' not in err
    if code:
        last = err.strip().splitlines()[-1].rsplit("\r", 1)[-1]
        assert last.startswith("moede "), err
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert not (tmp_path / "run").exists() and not (tmp_path / "b").exists()
