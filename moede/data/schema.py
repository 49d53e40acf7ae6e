"""The one sample-table schema every dataset adapter returns, and its validation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from moede.errors import InputDataError

REQUIRED_COLUMNS: tuple[str, ...] = ("sample_id", "path", "label", "speaker", "split")
OPTIONAL_COLUMNS: tuple[str, ...] = ("landmarks", "box")
SPLITS: tuple[str, ...] = ("train", "dev", "test")
LANDMARK_SOURCES: tuple[str, ...] = ("dataset", "dlib")  # RunConfig.align_landmarks: a corpus' own or dlib's


def landmarks_from(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """`frame` as it is aligned with landmarks from `source`: 'dataset' keeps a corpus' own landmarks and face boxes
    (dlib finds the rest), 'dlib' drops both so dlib finds every face and its landmarks, as the paper does; a box
    that is the whole image (attrs['whole_image_box']: FER+'s 48x48 faces, where dlib's detector finds none) stays."""
    if source not in LANDMARK_SOURCES:
        raise ValueError(f"align_landmarks must be one of {LANDMARK_SOURCES}, got {source!r}")
    if source == "dataset":
        return frame
    dropped = ["landmarks"] if frame.attrs.get("whole_image_box") else list(OPTIONAL_COLUMNS)
    kept = frame.drop(columns=dropped, errors="ignore")
    kept.attrs.update(frame.attrs)
    return kept


def read_label_csv(path: str | os.PathLike[str], **options: Any) -> pd.DataFrame:
    """pd.read_csv of a corpus' label file; an empty, non-UTF-8 or malformed file is an InputDataError naming it."""
    try:
        return pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise InputDataError(f"{path} is empty; it should be the corpus' label table with a header row") from None
    except UnicodeDecodeError as error:
        raise InputDataError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason}); save it as UTF-8 "
                             "CSV") from None
    except pd.errors.ParserError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "malformed"
        raise InputDataError(f"{path} is not a readable CSV table ({first})") from None


def validate_frame(
    df: pd.DataFrame, classes: Sequence[str] | None = None, *, where: str = "sample table", require_split: bool = True
) -> pd.DataFrame:
    """Check that `df` follows the sample schema (columns, unique ids, known labels and splits); return it unchanged.

    `where` names the file or corpus the table was read from so that the error says what to fix.
    `require_split=False` allows a clip table whose splits are assigned later by a partition (split = None).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; a sample table needs {list(REQUIRED_COLUMNS)}")
    if df.empty:
        raise ValueError(f"{where}: no samples were found; check that the path points at the corpus root")
    duplicated = df["sample_id"][df["sample_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{where}: sample_id values must be unique, repeated: {sorted(set(duplicated))[:5]}")
    for column in ("sample_id", "path", "label", "speaker"):
        if df[column].isna().any():
            raise ValueError(f"{where}: column {column!r} has {int(df[column].isna().sum())} empty value(s)")
    if classes is not None:
        unknown = sorted(set(df["label"]) - set(classes))
        if unknown:
            raise ValueError(f"{where}: label(s) {unknown} are not among the classes {list(classes)}")
    splits = df["split"].dropna()
    if require_split and len(splits) != len(df):
        raise ValueError(f"{where}: {int(df['split'].isna().sum())} sample(s) have no split")
    bad = sorted(set(splits) - set(SPLITS))
    if bad:
        raise ValueError(f"{where}: split value(s) {bad} are not among {list(SPLITS)}")
    return df


def existing_media(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows whose `path` exists on disk; the number dropped is stored in attrs['missing_media']."""
    present = df["path"].map(lambda p: Path(p).is_file())
    out = df[present].copy()
    out.attrs["missing_media"] = int((~present).sum())
    return out
