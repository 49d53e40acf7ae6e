"""Read an image-folder corpus: `labels.csv` (image, emotion) plus `images/` (the facial_expressions layout)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from moede.data.emotions import AFFECTNET, SYNONYMS
from moede.data.schema import read_label_csv, validate_frame
from moede.data.splits import assign_speaker_splits

_TRAILING_NUMBER = re.compile(r"^(?P<speaker>.+?)_\d+$")


def speaker_from_name(name: str) -> str:
    """Identity from a file name: the stem without its trailing _NNNN ('Abdullah_Gul_0004.jpg' -> 'Abdullah_Gul')."""
    stem = Path(name).stem
    match = _TRAILING_NUMBER.match(stem)
    return match.group("speaker") if match else stem


def read_image_folder(
    root: str | Path, fractions: tuple[float, ...] = (0.8, 0.2), seed: int = 0
) -> pd.DataFrame:
    """Read `root/labels.csv` + `root/images/` into the sample table with a speaker-independent train/dev split.

    Images listed twice with different emotions are dropped (count in attrs['conflicting_labels']).
    """
    root = Path(root).expanduser().resolve()
    labels_file = root / "labels.csv"
    if not labels_file.is_file():
        raise FileNotFoundError(f"{labels_file} not found; an image-folder corpus needs labels.csv (image,emotion)"
                                " next to an images/ folder")
    table = read_label_csv(labels_file, dtype=str)
    missing = [c for c in ("image", "emotion") if c not in table.columns]
    if missing:
        raise ValueError(f"{labels_file}: missing column(s) {missing}; expected a header 'image,emotion', "
                         f"found {list(table.columns)}")
    spelled = table["emotion"].str.strip().str.lower()
    unknown = sorted(set(spelled[~spelled.isin(list(SYNONYMS))].fillna("<empty>")))
    if unknown:
        raise ValueError(f"{labels_file}: unknown emotion(s) {unknown}; use one of {sorted(SYNONYMS)}")
    table = table.assign(label=spelled.map(SYNONYMS)).drop_duplicates(["image", "label"])
    conflicting = table["image"].duplicated(keep=False)
    table = table[~conflicting]
    images = root / "images" if (root / "images").is_dir() else root
    paths = table["image"].map(lambda name: images / name)
    absent = [str(p.name) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"{labels_file}: {len(absent)} listed image(s) are missing from {images}, e.g. "
                                f"{absent[:3]}; put the images there or remove their rows")
    frame = pd.DataFrame({
        "sample_id": table["image"].map(lambda name: Path(name).stem).to_numpy(),
        "path": paths.map(str).to_numpy(),
        "label": table["label"].to_numpy(),
        "speaker": table["image"].map(speaker_from_name).to_numpy(),
    })
    frame = assign_speaker_splits(frame, fractions=fractions, seed=seed)
    frame.attrs["conflicting_labels"] = int(conflicting.sum())
    frame.attrs["root"] = str(root)
    return validate_frame(frame, AFFECTNET, where=str(labels_file))
