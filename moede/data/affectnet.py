"""Read AffectNet in any of its three layouts: the original Manually_Annotated_file_lists/{training,validation}.csv +
the image folder (read here), the train_set/ + val_set/ release and class folders (moede.data.affectnet_layouts)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from moede.data.affectnet_layouts import is_class_folders, is_sets_layout, read_class_folders, read_sets
from moede.data.emotions import AFFECTNET, affectnet_code_to_name
from moede.data.schema import read_label_csv, validate_frame

LIST_COLUMNS: tuple[str, ...] = (
    "subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
    "expression", "valence", "arousal",
)
LIST_FILES: dict[str, str] = {"training.csv": "train", "validation.csv": "dev"}
IMAGE_FOLDERS: tuple[str, ...] = (
    "Manually_Annotated_Images", "Manually_Annotated_compressed/Manually_Annotated_Images",
    "Manually_Annotated_compressed", ".",
)
LAYOUTS: dict[str, str] = {
    "file lists": "Manually_Annotated_file_lists/training.csv (and validation.csv) + Manually_Annotated_Images/",
    "train_set/val_set": "train_set/ and val_set/, each with images/<id>.jpg + annotations/<id>_exp.npy",
    "class folders": "train/<class>/*.jpg and val/<class>/*.jpg (class: AffectNet code 0-7 or emotion name)",
}


def parse_landmarks(text: object, where: str = "facial_landmarks") -> np.ndarray | None:
    """Parse AffectNet's 'x1;y1;x2;y2;...' (136 numbers) into a (68, 2) float32 array; None when empty."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or not str(text).strip():
        return None
    values = np.array([float(v) for v in str(text).strip().strip(";").split(";")], dtype=np.float32)
    if values.size != 136:
        raise ValueError(f"{where}: expected 136 landmark numbers (68 x,y pairs), found {values.size}")
    return values.reshape(68, 2)


def _lists_dir(root: Path) -> Path | None:
    """The folder holding training.csv/validation.csv (root/Manually_Annotated_file_lists or root itself), if any."""
    for candidate in (root / "Manually_Annotated_file_lists", root):
        if (candidate / "training.csv").is_file() or (candidate / "validation.csv").is_file():
            return candidate
    return None


def affectnet_layout(root: str | Path) -> str:
    """Which of LAYOUTS the tree at `root` is; FileNotFoundError (one line naming the three) when none."""
    root = Path(root)
    if _lists_dir(root) is not None:
        return "file lists"
    if is_sets_layout(root):
        return "train_set/val_set"
    if is_class_folders(root):
        return "class folders"
    raise FileNotFoundError(f"{root} is not an AffectNet tree; expected one of its three layouts: "
                            + "; ".join(f"{name}: {where}" for name, where in LAYOUTS.items())
                            + " (or an image folder: labels.csv + images/)")


def _read_list(path: Path) -> pd.DataFrame:
    """Read one file list; the official validation.csv may lack the header row."""
    table = read_label_csv(path, dtype={"subDirectory_filePath": str, "facial_landmarks": str})
    if "subDirectory_filePath" not in table.columns:
        table = read_label_csv(path, header=None, names=list(LIST_COLUMNS), dtype={0: str, 5: str})
    missing = [c for c in LIST_COLUMNS[:7] if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected AffectNet's {list(LIST_COLUMNS)}")
    return table


def _numbers(table: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as floats (NaN where absent or not a number)."""
    if column not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)


def _image_root(root: Path, relative: str) -> Path:
    """The image folder in which the first listed image exists."""
    for name in IMAGE_FOLDERS:
        if (root / name / relative).is_file():
            return (root / name).resolve()
    raise FileNotFoundError(f"image {relative!r} from the AffectNet file lists was not found under any of "
                            f"{[str(root / n) for n in IMAGE_FOLDERS]}; put the images in "
                            f"{root / 'Manually_Annotated_Images'}")


def _read_file_lists(root: Path) -> tuple[pd.DataFrame, int]:
    """The samples of the original file lists (training.csv -> train, validation.csv -> dev) with boxes and
    landmarks, and the number of samples with codes 8-10 (dropped)."""
    lists = _lists_dir(root)
    frames, dropped, image_root = [], 0, None
    for name, split in LIST_FILES.items():
        path = lists / name
        if not path.is_file():
            continue
        table = _read_list(path)
        codes = pd.to_numeric(table["expression"], errors="coerce")
        if codes.isna().any() or not codes.between(0, 10).all():
            raise ValueError(f"{path}: column 'expression' must hold AffectNet codes 0-10")
        labels = codes.astype(int).map(affectnet_code_to_name)
        dropped += int(labels.isna().sum())
        table, labels = table[labels.notna()], labels[labels.notna()]
        if table.empty:
            continue
        image_root = image_root or _image_root(root, table["subDirectory_filePath"].iloc[0])
        relative = table["subDirectory_filePath"].astype(str)
        boxes = table[["face_x", "face_y", "face_width", "face_height"]].to_numpy(dtype=float)
        frames.append(pd.DataFrame({
            "sample_id": relative.map(lambda r: str(Path(r).with_suffix(""))).to_numpy(),
            "path": relative.map(lambda r: str(image_root / r)).to_numpy(),
            "label": labels.to_numpy(),
            "speaker": relative.map(lambda r: str(Path(r).with_suffix(""))).to_numpy(),
            "split": split,
            "landmarks": [parse_landmarks(t, f"{path} row {i + 2}") for i, t in enumerate(table["facial_landmarks"])],
            "box": [None if np.isnan(b).any() else tuple(float(v) for v in b) for b in boxes],
            **{name: _numbers(table, name) for name in ("valence", "arousal")},
        }))
    if not frames:
        raise ValueError(f"{lists}: the AffectNet file lists hold no samples with codes 0-7")
    return pd.concat(frames, ignore_index=True), dropped


READERS = {"file lists": _read_file_lists, "train_set/val_set": read_sets, "class folders": read_class_folders}


def read_affectnet(root: str | Path, check_images: bool = True) -> pd.DataFrame:
    """Read AffectNet in any of LAYOUTS (training part -> train, validation part -> dev), codes 0-7, with the
    layout's landmarks ((68, 2)) and boxes where it has them (the file lists: both; train_set/val_set: landmarks).

    AffectNet has no identities, so `speaker` is the sample id. Listed images missing on disk are dropped
    (count in attrs['missing_images'], with a warning) when `check_images`; attrs['layout'] names the layout.
    """
    root = Path(root).expanduser().resolve()
    layout = affectnet_layout(root)
    frame, dropped = READERS[layout](root)
    missing = 0
    if check_images:
        present = frame["path"].map(lambda p: Path(p).is_file())
        missing = int((~present).sum())
        if missing:
            warnings.warn(f"{missing} AffectNet image(s) listed under {root} ({layout} layout) are missing on disk, "
                          f"e.g. {frame.loc[~present, 'path'].iloc[0]}; dropped")
        frame = frame[present].reset_index(drop=True)
    frame.attrs.update(dropped_codes_8_10=dropped, missing_images=missing, root=str(root), layout=layout)
    return validate_frame(frame, AFFECTNET, where=f"AffectNet at {root} ({layout} layout)")
