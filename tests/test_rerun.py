"""Re-runs never trust a stale output: alignment manifests are keyed by the source file and the settings."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from moede.align import sample_photo, sample_video_path
from moede.align.video import read_frames
from moede.cli import main


def write_rgb(path: Path, image: np.ndarray) -> None:
    """Write an RGB image and give it a later mtime than anything written before in this test."""
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    stamp = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(stamp, stamp))


def statuses(out: Path) -> dict[str, str]:
    return pd.read_csv(out / "manifest.csv", keep_default_na=False).set_index("sample_id")["status"].to_dict()


def test_changed_and_deleted_images_are_recomputed_and_removed(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    photo = sample_photo()
    write_rgb(src / "face.png", photo)
    (src / "broken.png").write_bytes(b"not a png")
    write_rgb(src / "leaves.png", photo)
    assert main(["align", str(src), str(out), "--size", "64"]) == 0
    assert statuses(out) == {"face.png": "detected", "broken.png": "unreadable", "leaves.png": "detected"}
    assert "moede align: warning: 0 image(s) without a detected face and 1 undecodable" in capsys.readouterr().err

    write_rgb(src / "broken.png", photo)  # the corrupt image is replaced by a real face
    write_rgb(src / "face.png", np.full_like(photo, 128))  # the face is replaced by a grey image
    (src / "leaves.png").unlink()
    assert main(["align", str(src), str(out), "--size", "64"]) == 0
    assert statuses(out) == {"face.png": "no_face", "broken.png": "detected"}
    assert sorted(p.name for p in out.glob("*.png")) == ["broken.png.png"]
    said = capsys.readouterr().out
    assert "0 reused unchanged, 2 (re)computed, 1 removed" in said

    assert main(["align", str(src), str(out), "--size", "64"]) == 0
    assert "2 reused unchanged, 0 (re)computed, 0 removed" in capsys.readouterr().out
    assert main(["align", str(src), str(out), "--size", "48"]) == 0  # a setting that changes the crops
    assert "0 reused unchanged, 2 (re)computed" in capsys.readouterr().out
    assert cv2.imread(str(out / "broken.png.png")).shape == (48, 48, 3)


def test_video_re_aligned_with_other_settings_or_a_shorter_clip_leaves_no_stale_frame(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["align", str(sample_video_path()), str(out), "--size", "32", "--max-frames", "5"]) == 0
    assert "aligned 5 frame(s)" in capsys.readouterr().out
    assert main(["align", str(sample_video_path()), str(out), "--size", "32", "--max-frames", "5"]) == 0
    assert "reused the earlier alignment of 5 frame(s)" in capsys.readouterr().out
    assert main(["align", str(sample_video_path()), str(out), "--size", "32", "--max-frames", "9"]) == 0
    assert "aligned 9 frame(s)" in capsys.readouterr().out and len(list(out.glob("*.png"))) == 9

    short = tmp_path / "short.avi"
    frames = list(read_frames(sample_video_path(), max_frames=3))
    writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    assert main(["align", str(short), str(out), "--size", "32"]) == 0
    assert "6 stale frame(s) removed" in capsys.readouterr().out
    manifest = pd.read_csv(out / "manifest.csv")
    assert manifest["frame"].tolist() == [0, 1, 2] and set(manifest["source"]) == {str(short)}
    assert sorted(p.name for p in out.glob("*.png")) == [f"{i:06d}.png" for i in range(3)]
