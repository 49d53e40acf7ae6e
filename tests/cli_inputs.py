"""Helpers of the command-line tests: tiny corpus layouts on disk (blank media: enough for the readers, not for
training) and the check that a failed command said one line."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

CREMAD_HEADER = "FileName,VoiceVote,VoiceLevel,FaceVote,FaceLevel,MultiModalVote,MultiModalLevel"


def image_folder_corpus(root: Path, speakers: int = 4) -> Path:
    """labels.csv + images/ with one blank 8x8 PNG per speaker."""
    (root / "images").mkdir(parents=True)
    rows = ["image,emotion"]
    for speaker in range(speakers):
        name = f"P{speaker}_0001.png"
        cv2.imwrite(str(root / "images" / name), np.zeros((8, 8, 3), np.uint8))
        rows.append(f"{name},{('happiness', 'sadness')[speaker % 2]}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def cremad_corpus(root: Path, clips: int = 2, present: int = 1) -> Path:
    """processedResults/summaryTable.csv listing `clips` clips, the first `present` with a (dummy) VideoFlash file."""
    (root / "processedResults").mkdir(parents=True)
    (root / "VideoFlash").mkdir()
    rows = [CREMAD_HEADER]
    for index in range(clips):
        name = f"10{index + 1:02d}_DFA_ANG_XX"
        rows.append(f"{name},A,50,A,50,A,50")
        if index < present:
            (root / "VideoFlash" / f"{name}.flv").write_bytes(b"FLV")
    (root / "processedResults" / "summaryTable.csv").write_text("\n".join(rows) + "\n")
    return root


def one_line_error(capsys: pytest.CaptureFixture[str], command: str) -> str:
    """stderr of a failed command, checked to end in its only line with the command's prefix, and no traceback."""
    err = capsys.readouterr().err
    lines = [line.rsplit("\r", 1)[-1] for line in err.splitlines()]  # tqdm bars redraw with carriage returns
    messages = [line for line in lines if line.startswith("moede ")]
    assert messages == [lines[-1]] and messages[0].startswith(f"moede {command}: ") and "Traceback" not in err
    return err
