"""Tiny corpus layouts on disk for the command-line tests (blank media: enough for the readers, not for training)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

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
