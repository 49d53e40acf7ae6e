"""Read FER+ (Microsoft's ten-annotator votes for the 35,887 FER2013 faces, 48x48 grey) in the two layouts in use.

(a) Kaggle's `fer2013.csv` (emotion, pixels, Usage) with FERPlus's `fer2013new.csv` (Usage, Image name, the votes
for neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF) row for row, in the root (or
root/fer2013 and root/FERPlus); the faces are written once as PNGs to a folder the caller names. (b) The folders
FERPlus's generate_training_data.py writes: FER2013Train/, FER2013Valid/, FER2013Test/, each with the PNGs and a
header-less label.csv (name, box, the ten votes). Training -> train, PublicTest/Valid -> dev, PrivateTest/Test ->
test (never read by model selection). FER2013 has no identities, so `speaker` is the sample id.

Labels from the votes (FER+'s paper): the plurality emotion; a face whose most-voted answer is unknown or NF
(not a face), whose top vote is tied, or that has no votes is dropped and counted (attrs['dropped']). The eight
emotions' vote counts stay in the table (VOTE_COLUMNS) for soft targets (`vote_shares`). Faces: the whole 48x48
image is the face box (`box`), so no face is dropped where dlib's detector misses one (it finds 84% of the fakes
below, 2x upsampled): dlib's landmarks inside it then the usual eye warp align better than no warp at all
(benchmarks/bench_ferplus_alignment.py: eye-line angle 1.3 against 5.8 degrees, eye centres 1.6% against 6.2% of the
side from their target, on 180 ../shared photos made FER2013-like).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from moede.data.emotions import AFFECTNET, SYNONYMS
from moede.data.schema import read_label_csv, validate_frame
from moede.errors import InputDataError
from moede.io import source_stamp, write_bytes

VOTES: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                          "unknown", "NF")
"""FER+'s ten vote columns, in its files' order: eight emotions, then unknown and NF (not a face)."""
VOTE_COLUMNS: tuple[str, ...] = tuple(f"votes_{emotion}" for emotion in AFFECTNET)
"""The sample table's vote counts of the eight emotions, in the models' class order."""
LABEL_CHOICES: tuple[str, ...] = ("majority", "soft")
USAGE_SPLITS: dict[str, str] = {"Training": "train", "PublicTest": "dev", "PrivateTest": "test"}
FOLDER_SPLITS: dict[str, str] = {"FER2013Train": "train", "FER2013Valid": "dev", "FER2013Test": "test"}
SIDE = 48
PIXELS = SIDE * SIDE
DROP_REASONS: tuple[str, ...] = ("unknown", "NF", "tie", "no votes")


def vote_labels(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plurality labels of (N, 10) FER+ votes: (canonical emotion or '' per face, drop reason or '' per face)."""
    votes = np.asarray(votes, dtype=float)
    top = votes.max(axis=1)
    winner = votes.argmax(axis=1)
    tied = (votes == top[:, None]).sum(axis=1) > 1
    names = np.array([SYNONYMS[name] for name in VOTES[:8]] + ["", ""], dtype=object)
    reasons = np.where(top <= 0, "no votes", np.where(tied, "tie", np.where(
        winner == 8, "unknown", np.where(winner == 9, "NF", "")))).astype(object)
    return np.where(reasons == "", names[winner], ""), reasons


def vote_shares(frame: pd.DataFrame) -> np.ndarray:
    """The soft targets of a FER+ table: each face's vote distribution over the eight emotions (N, 8), rows sum to 1."""
    counts = frame[list(VOTE_COLUMNS)].to_numpy(dtype=np.float32)
    return counts / counts.sum(axis=1, keepdims=True)


def _votes(table: pd.DataFrame, where: str, first: int) -> np.ndarray:
    """The ten vote columns from column `first` on as an (N, 10) array; InputDataError naming `where` otherwise."""
    values = table.iloc[:, first:first + 10].apply(pd.to_numeric, errors="coerce")
    if values.shape[1] != 10 or values.isna().any().any() or (values < 0).any().any():
        raise InputDataError(f"{where}: expected ten non-negative vote counts ({', '.join(VOTES)}) on every row")
    return values.to_numpy(dtype=float)


def _find(root: Path, name: str, folders: tuple[str, ...]) -> Path | None:
    """root/<folder>/name for the first folder holding it, else None."""
    return next((root / folder / name for folder in folders if (root / folder / name).is_file()), None)


def _labelled(ids: list[str], paths: list[str], splits: list[str], votes: np.ndarray) -> pd.DataFrame:
    """The sample table of faces with their vote labels (dropped ones still in, label '' and their reason)."""
    labels, reasons = vote_labels(votes)
    frame = pd.DataFrame({"sample_id": ids, "path": paths, "label": labels, "speaker": ids, "split": splits,
                          "box": [(0.0, 0.0, float(SIDE), float(SIDE))] * len(ids), "reason": reasons})
    emotion_votes = dict(zip((SYNONYMS[name] for name in VOTES[:8]), votes[:, :8].T))
    for emotion, column in zip(AFFECTNET, VOTE_COLUMNS):
        frame[column] = emotion_votes[emotion].astype(int)
    return frame


def _csv_layout(root: Path, fer: Path) -> pd.DataFrame:
    """Layout (a): fer2013.csv with fer2013new.csv row for row; `path` is fer2013.csv itself (`write_faces` makes the
    PNGs) and `pixels` the row's face."""
    new = _find(root, "fer2013new.csv", (".", "FERPlus", "FERPlus-master"))
    if new is None:
        raise InputDataError(f"{root / 'fer2013new.csv'} not found: put FER+'s votes (github.com/microsoft/FERPlus) "
                             f"beside {fer}")
    faces = read_label_csv(fer, dtype=str)
    missing = [c for c in ("pixels", "Usage") if c not in faces.columns]
    if missing:
        raise InputDataError(f"{fer}: missing column(s) {missing}; expected Kaggle's header 'emotion,pixels,Usage'")
    votes = read_label_csv(new, dtype={"Image name": str})
    if list(votes.columns[:2]) != ["Usage", "Image name"] or len(votes.columns) < 12:
        raise InputDataError(f"{new}: expected FER+'s header 'Usage,Image name,{','.join(VOTES)}'")
    if len(votes) != len(faces):
        raise InputDataError(f"{new} has {len(votes)} rows but {fer} has {len(faces)}; they must be the full, "
                             "unsorted files (one vote row per FER2013 face)")
    lengths = faces["pixels"].fillna("").str.split().str.len()
    bad = np.flatnonzero(lengths.to_numpy() != PIXELS)
    if len(bad):
        raise InputDataError(f"{fer} row {bad[0] + 2}: 'pixels' has {lengths.iloc[bad[0]]} numbers, not {PIXELS} "
                             f"({SIDE}x{SIDE}); use Kaggle's unmodified fer2013.csv")
    unknown = sorted(set(votes["Usage"]) - set(USAGE_SPLITS))
    if unknown:
        raise InputDataError(f"{new}: Usage value(s) {unknown} are not among {list(USAGE_SPLITS)}")
    names = votes["Image name"].fillna("").str.strip()
    named = (names != "").to_numpy()
    frame = _labelled([Path(n).stem for n in names[named]], [str(fer)] * int(named.sum()),
                      list(votes["Usage"][named].map(USAGE_SPLITS)), _votes(votes[named], str(new), 2))
    frame["pixels"] = faces["pixels"][named].to_numpy()
    frame.attrs["unnamed"] = int((~named).sum())
    return frame


def _folder_layout(root: Path) -> pd.DataFrame:
    """Layout (b): FERPlus's FER2013Train/Valid/Test folders with their header-less label.csv."""
    parts = []
    for folder, split in FOLDER_SPLITS.items():
        labels = root / folder / "label.csv"
        if not labels.is_file():
            continue
        table = read_label_csv(labels, header=None, dtype={0: str, 1: str})
        if table.shape[1] != 12:
            raise InputDataError(f"{labels}: expected 12 columns (name, box, {', '.join(VOTES)}), found "
                                 f"{table.shape[1]}")
        names = table[0].astype(str).str.strip()
        parts.append(_labelled([Path(n).stem for n in names], [str(root / folder / n) for n in names],
                               [split] * len(table), _votes(table, str(labels), 2)))
    return pd.concat(parts, ignore_index=True)


def ferplus_layout(root: str | Path) -> str:
    """Which FER+ layout `root` holds: 'csv' (fer2013.csv + fer2013new.csv) or 'folders'; InputDataError if none."""
    root = Path(root)
    if any((root / folder / "label.csv").is_file() for folder in FOLDER_SPLITS):
        return "folders"
    if _find(root, "fer2013.csv", (".", "fer2013")) is not None:
        return "csv"
    raise InputDataError(f"no FER+ under {root}: expected fer2013.csv (Kaggle) beside fer2013new.csv (FER+), or "
                         f"FERPlus's {', '.join(FOLDER_SPLITS)} folders with label.csv")


def write_faces(frame: pd.DataFrame, folder: str | Path) -> pd.DataFrame:
    """Write the `pixels` faces of a layout-(a) table as folder/<id>.png (once: files made from the same fer2013.csv
    are kept) and return the table with `path` on them and without `pixels`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp, marker = source_stamp(frame["path"].iloc[0]), folder / "source.txt"
    if not marker.is_file() or marker.read_text() != stamp:
        for old in folder.glob("*.png"):
            old.unlink()
        write_bytes(stamp.encode(), marker)
    paths = [folder / f"{sample_id}.png" for sample_id in frame["sample_id"]]
    for row, (path, pixels) in enumerate(zip(paths, frame["pixels"])):
        if path.is_file():
            continue
        try:
            face = np.array(pixels.split(), dtype=np.uint8).reshape(SIDE, SIDE)
        except ValueError:
            raise InputDataError(f"{frame['path'].iloc[row]}: the pixels of face {frame['sample_id'].iloc[row]} "
                                 "are not 2,304 numbers from 0 to 255; use Kaggle's unmodified fer2013.csv") from None
        write_bytes(cv2.imencode(".png", face)[1].tobytes(), path)
    return frame.drop(columns="pixels").assign(path=[str(p) for p in paths])


def capped(frame: pd.DataFrame, cap: int | None, seed: int = 0) -> pd.DataFrame:
    """At most `cap` training faces per emotion (a seeded draw; dev and test whole); None keeps every face."""
    if cap is None:
        return frame
    train = frame["split"] == "train"
    kept = frame[train].sample(frac=1.0, random_state=seed).groupby("label").head(cap)
    out = pd.concat([kept, frame[~train]]).sort_index()
    out.attrs.update(frame.attrs)
    return out


def class_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Faces per emotion (rows, in class order) and split (columns)."""
    table = pd.crosstab(frame["label"], frame["split"]).reindex(index=list(AFFECTNET), fill_value=0)
    return table[[split for split in ("train", "dev", "test") if split in table.columns]]


def describe(frame: pd.DataFrame) -> str:
    """The corpus in words for the banners: training faces per emotion and the dropped faces per reason."""
    train = class_counts(frame).get("train", pd.Series(dtype=int))
    counts = ", ".join(f"{emotion} {int(count)}" for emotion, count in train.items())
    dropped = ", ".join(f"{reason} {count}" for reason, count in frame.attrs.get("dropped", {}).items() if count)
    cap = frame.attrs.get("cap")
    return (f"FER+ (FER2013 faces, FER+ votes); training faces{f' (at most {cap} per emotion)' if cap else ''}: "
            f"{counts}; dropped by the votes: {dropped or 'none'}")


def read_ferplus(root: str | Path, images: str | Path | None = None, *, check_images: bool = True,
                 cap: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Read FER+ at `root` (either layout) into the sample table with `box` (the whole image) and VOTE_COLUMNS.

    Layout (a) writes its faces to the folder `images` (None: the table's `path` stays fer2013.csv, for checks);
    layout (b)'s listed PNGs missing on disk are dropped (attrs['missing_images'], with a warning) when
    `check_images`. attrs['dropped'] counts the faces the votes drop per reason (DROP_REASONS); `cap`: `capped`.
    """
    root = Path(root).expanduser().resolve()
    layout = ferplus_layout(root)
    where = root / "fer2013new.csv" if layout == "csv" else root
    if layout == "csv":
        frame = _csv_layout(root, _find(root, "fer2013.csv", (".", "fer2013")))
    else:
        frame = _folder_layout(root)
    dropped = {reason: int((frame["reason"] == reason).sum()) for reason in DROP_REASONS}
    if frame.attrs.get("unnamed"):
        dropped["no FER+ image name"] = frame.attrs["unnamed"]
    frame = capped(frame[frame["reason"] == ""].drop(columns="reason").reset_index(drop=True), cap, seed)
    if layout == "csv" and images is not None:
        frame = write_faces(frame, images)
    elif layout == "csv":
        frame = frame.drop(columns="pixels")
    missing = 0
    if layout == "folders" and check_images:
        present = frame["path"].map(lambda p: Path(p).is_file())
        missing = int((~present).sum())
        if missing:
            warnings.warn(f"{missing} FER+ image(s) listed in the label.csv files under {root} are missing; dropped")
        frame = frame[present]
    frame = frame.reset_index(drop=True)
    frame.attrs.update(dropped=dropped, missing_images=missing, root=str(root), layout=layout, cap=cap,
                       whole_image_box=True)
    return validate_frame(frame, AFFECTNET, where=str(where))
