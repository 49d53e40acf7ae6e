"""Image-folder (labels.csv + images/) and AffectNet adapters, on tiny tables and the shared real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from moede.data.affectnet import read_affectnet
from moede.data.demo import demo_static
from moede.data.emotions import AFFECTNET
from moede.data.imagefolder import read_image_folder, speaker_from_name
from moede.data.splits import check_speaker_independent


def _folder(tmp_path: Path, rows: list[tuple[str, str]], header: str = "image,emotion") -> Path:
    (tmp_path / "images").mkdir()
    for name, _ in rows:
        cv2.imwrite(str(tmp_path / "images" / name), np.zeros((8, 8, 3), np.uint8))
    lines = [header] + [f"{n},{e}" for n, e in rows]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_speaker_from_name() -> None:
    assert speaker_from_name("Abdullah_Gul_0004.jpg") == "Abdullah_Gul"
    assert speaker_from_name("facial-expressions_2868588k.jpg") == "facial-expressions_2868588k"


def test_image_folder_reads_labels_and_speakers(tmp_path: Path) -> None:
    emotions = ["happiness", "sadness", "anger", "neutral", "happiness"] * 2
    rows = [(f"P{p}_{k:04d}.jpg", e) for p, e in enumerate(emotions)
            for k in range(1, 3)]
    frame = read_image_folder(_folder(tmp_path, rows))
    assert len(frame) == len(rows) and set(frame["label"]) <= set(AFFECTNET)
    assert frame["speaker"].nunique() == 10
    check_speaker_independent(frame)
    assert all(Path(p).is_file() for p in frame["path"])


@pytest.mark.parametrize("problem, error, message", [
    ("columns", ValueError, "missing column"), ("emotion", ValueError, "unknown emotion"),
    ("image", FileNotFoundError, "missing from"),
])
def test_image_folder_errors_name_the_file(tmp_path: Path, problem: str, error: type, message: str) -> None:
    root = _folder(tmp_path, [("A_0001.jpg", "happiness"), ("B_0001.jpg", "sadness")],
                   header="file,label" if problem == "columns" else "image,emotion")
    if problem == "emotion":
        (root / "labels.csv").write_text("image,emotion\nA_0001.jpg,joyful\n")
    if problem == "image":
        (root / "images" / "B_0001.jpg").unlink()
    with pytest.raises(error, match=message) as info:
        read_image_folder(root)
    assert "labels.csv" in str(info.value)


def test_shared_facial_expressions(shared_data: Path) -> None:
    root = shared_data / "facial_expressions"
    labels = pd.read_csv(root / "labels.csv")
    frame = read_image_folder(root)
    conflicting = labels.drop_duplicates().duplicated("image", keep=False).sum()
    assert len(frame) == len(labels.drop_duplicates()) - conflicting == len(labels) - frame.attrs["conflicting_labels"]
    check_speaker_independent(frame)
    share = frame.groupby("split")["speaker"].nunique() / frame["speaker"].nunique()
    assert 0.15 <= share["dev"] <= 0.3
    speakers_per_class = frame.groupby("label")["speaker"].nunique()
    dev_classes = set(frame.loc[frame["split"] == "dev", "label"])
    assert set(speakers_per_class[speakers_per_class >= 2].index) <= dev_classes


def test_affectnet_layout_from_demo(tmp_path: Path) -> None:
    root = demo_static(tmp_path / "an", per_class={e: 3 for e in AFFECTNET}, dev_per_class=2, size=96)
    lists = root / "Manually_Annotated_file_lists"
    frame = read_affectnet(root)
    assert frame["split"].value_counts().to_dict() == {"train": 24, "dev": 16}
    for row in frame.itertuples():
        image = cv2.imread(row.path)
        assert image is not None and row.landmarks.shape == (68, 2) and row.landmarks.dtype == np.float32
        x, y, w, h = row.box
        inside = (row.landmarks >= [x, y]) & (row.landmarks <= [x + w, y + h])
        assert inside.mean() > 0.9
    # The official validation.csv has no header row, and codes 8-10 are dropped.
    table = pd.read_csv(lists / "validation.csv")
    table.loc[0, "expression"] = 9
    table.to_csv(lists / "validation.csv", header=False, index=False)
    again = read_affectnet(root)
    assert again.attrs["dropped_codes_8_10"] == 1 and len(again) == len(frame) - 1


def test_affectnet_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Manually_Annotated_file_lists"):
        read_affectnet(tmp_path)
    root = demo_static(tmp_path / "an", per_class={"happy": 1}, dev_per_class=0, size=64)
    table = pd.read_csv(root / "Manually_Annotated_file_lists" / "training.csv")
    table.loc[0, "facial_landmarks"] = "1;2;3"
    table.to_csv(root / "Manually_Annotated_file_lists" / "training.csv", index=False)
    with pytest.raises(ValueError, match="136 landmark numbers"):
        read_affectnet(root)
