"""AffectNet's two other common layouts: the `train_set/` + `val_set/` release (.npy annotations) and class folders.

Both follow the file lists' protocol (moede.data.affectnet): the training part is the `train` split, the official
validation part the `dev` split (the paper's evaluation set); AffectNet has no identities, so `speaker` is the
sample id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from moede.data.emotions import SYNONYMS, affectnet_code_to_name

SET_FOLDERS: dict[str, str] = {"train_set": "train", "val_set": "dev"}
CLASS_SPLITS: dict[str, str] = {"train": "train", "val": "dev"}
EXPRESSION = "_exp.npy"
"""annotations/<id>_exp.npy holds the expression code (0 neutral ... 7 contempt); beside it <id>_lnd.npy (68
landmarks as a flat x,y,... 136-vector), <id>_val.npy and <id>_aro.npy."""


def is_sets_layout(root: Path) -> bool:
    """Whether `root` holds train_set/annotations or val_set/annotations."""
    return any((root / name / "annotations").is_dir() for name in SET_FOLDERS)


def is_class_folders(root: Path) -> bool:
    """Whether `root` holds train/<class>/ or val/<class>/ folders."""
    return any((root / name).is_dir() and any(p.is_dir() for p in (root / name).iterdir()) for name in CLASS_SPLITS)


def _number(path: Path) -> float:
    """The one number an AffectNet .npy annotation holds (saved as a number or as its text); NaN when absent."""
    if not path.is_file():
        return float("nan")
    try:
        return float(np.asarray(np.load(path, allow_pickle=False)).ravel()[0])
    except (ValueError, IndexError, OSError) as error:
        raise ValueError(f"{path}: expected one number, as AffectNet's annotations hold ({error})") from None


def _landmarks(path: Path) -> np.ndarray | None:
    """The (68, 2) float32 landmarks of an <id>_lnd.npy (136 numbers x1, y1, x2, ...); None when absent."""
    if not path.is_file():
        return None
    try:
        values = np.asarray(np.load(path, allow_pickle=False), dtype=np.float32).ravel()
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: expected 136 landmark numbers ({error})") from None
    if values.size != 136:
        raise ValueError(f"{path}: expected 136 landmark numbers (68 x,y pairs), found {values.size}")
    return values.reshape(68, 2)


def read_sets(root: Path) -> tuple[pd.DataFrame, int]:
    """The samples of train_set/ and val_set/ (images/<id>.jpg, annotations/<id>_*.npy) with their landmarks,
    valence and arousal, and the number of samples with codes 8-10 (dropped)."""
    rows, dropped = [], 0
    for folder, split in SET_FOLDERS.items():
        annotations = root / folder / "annotations"
        files = sorted(annotations.glob(f"*{EXPRESSION}")) if annotations.is_dir() else []
        for path in tqdm(files, desc=f"AffectNet {folder}", leave=False, disable=len(files) < 1000):
            stem = path.name[:-len(EXPRESSION)]
            code = _number(path)
            if np.isnan(code) or not 0 <= code <= 10 or code != int(code):
                raise ValueError(f"{path}: expected an AffectNet expression code 0-10, found {code}")
            label = affectnet_code_to_name(int(code))
            if label is None:
                dropped += 1
                continue
            sample = f"{folder}/{stem}"
            rows.append({"sample_id": sample, "path": str(root / folder / "images" / f"{stem}.jpg"), "label": label,
                         "speaker": sample, "split": split, "landmarks": _landmarks(annotations / f"{stem}_lnd.npy"),
                         "box": None, "valence": _number(annotations / f"{stem}_val.npy"),
                         "arousal": _number(annotations / f"{stem}_aro.npy")})
    if not rows:
        raise ValueError(f"{root}: train_set/annotations and val_set/annotations hold no *{EXPRESSION} with codes 0-7")
    return pd.DataFrame(rows), dropped


def _class_of(folder: Path) -> str | None:
    """The emotion of a class folder named by an AffectNet code (None for codes 8-10) or an emotion name."""
    name = folder.name.strip()
    if name.isdigit():
        return affectnet_code_to_name(int(name))
    if name.lower() not in SYNONYMS:
        raise ValueError(f"{folder}: a class folder must be named by an AffectNet code 0-10 or an emotion "
                         f"({', '.join(sorted(SYNONYMS))})")
    return SYNONYMS[name.lower()]


def read_class_folders(root: Path) -> tuple[pd.DataFrame, int]:
    """The images of train/<class>/ and val/<class>/ (class: AffectNet code or emotion name), and the number of
    images in folders of codes 8-10 (dropped)."""
    from moede.align.batch import IMAGE_SUFFIXES  # moede.align loads dlib

    rows, dropped = [], 0
    for part, split in CLASS_SPLITS.items():
        folders = sorted(p for p in (root / part).iterdir() if p.is_dir()) if (root / part).is_dir() else []
        for folder in folders:
            label = _class_of(folder)
            images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if label is None:
                dropped += len(images)
                continue
            rows += [{"sample_id": f"{part}/{folder.name}/{p.stem}", "path": str(p), "label": label,
                      "speaker": f"{part}/{folder.name}/{p.stem}", "split": split} for p in images]
    if not rows:
        raise ValueError(f"{root}: the class folders under train/ and val/ hold no images of codes 0-7 "
                         f"({', '.join(IMAGE_SUFFIXES)})")
    return pd.DataFrame(rows), dropped
