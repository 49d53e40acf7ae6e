"""Align many images or a video's frames to PNG crops plus a manifest.csv, atomically, skipping finished items."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from moede.align.face import AlignedFace, NoFaceError, align_face
from moede.align.video import align_video
from moede.io import source_stamp, write_bytes, write_csv
from moede.processes import map_on_cores

MANIFEST = "manifest.csv"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
IMAGE_COLUMNS = ["sample_id", "source", "source_stamp", "settings", "crop", "status", "size", "landmarks"]
VIDEO_COLUMNS = ["source", "source_stamp", "settings", "frame", "crop", "status", "size", "landmarks"]
FRAME_NAME = re.compile(r"^\d{6}\.png$")
ALIGNED = ("detected", "box", "given")  # image statuses that produced a crop; the others are "no_face", "unreadable"
FLUSH_SECONDS = 60.0


def landmarks_to_text(points: np.ndarray) -> str:
    """Format (68, 2) landmarks as "x1;y1;x2;y2;..." (AffectNet's facial_landmarks style), 2 decimals."""
    return ";".join(f"{v:.2f}" for v in np.asarray(points, dtype=np.float64).ravel())


def text_to_landmarks(text: str) -> np.ndarray:
    """Parse "x1;y1;x2;y2;..." back into (68, 2) float32 landmarks."""
    values = np.array([float(v) for v in str(text).split(";")], dtype=np.float32)
    if values.size != 136:
        raise ValueError(f"expected 136 landmark coordinates, got {values.size}")
    return values.reshape(68, 2)


def _optional(value: Any) -> Any:
    """Return None for a missing cell (None / NaN), else the value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def settings_key(**values: Any) -> str:
    """A short digest of the settings an output was made with (arrays digested by their bytes)."""
    plain = {k: hashlib.sha1(np.ascontiguousarray(v, dtype=np.float32).tobytes()).hexdigest()
             if isinstance(v, np.ndarray) else v for k, v in values.items()}
    return hashlib.sha1(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fill_setting(fill: str) -> dict[str, str]:
    """The fill's entry in a manifest's settings key: none for black, so crops made before the setting stay valid."""
    return {} if fill == "black" else {"fill": fill}


def _crop_name(sample_id: str) -> str:
    """A file-system-safe, collision-free PNG name for a sample id."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", sample_id).strip("._") or "sample"
    if safe != sample_id:
        safe += "-" + hashlib.sha1(sample_id.encode()).hexdigest()[:8]
    return safe + ".png"


def write_png(image: np.ndarray, target: Path) -> None:
    """Write an RGB uint8 image as PNG atomically (encoded first, so a failed write names its cause)."""
    encoded, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not encoded:
        raise ValueError(f"OpenCV could not encode the image for {target} as PNG")
    write_bytes(data.tobytes(), target)


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray | None:
    """Read an image file as RGB uint8 (None if OpenCV cannot decode it); FileNotFoundError if it is missing."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"image {path} does not exist; check the dataset root")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _previous(manifest: Path) -> dict[str, dict[str, Any]]:
    """Rows of an existing manifest by sample id, as text (empty when there is none)."""
    if not manifest.is_file():
        return {}
    rows = pd.read_csv(manifest, dtype=str, keep_default_na=False).to_dict("records")
    return {row["sample_id"]: row for row in rows}


def _still_valid(done: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    """Whether a manifest row was made from the same source file (path, size, mtime) with the same settings."""
    if done is None or any(str(done.get(key, "")) != str(value) for key, value in wanted.items()):
        return False
    return not done["crop"] or Path(str(done["crop"])).is_file()


def _remove_crop(out_dir: Path, sample_id: str) -> None:
    """Delete the crop a sample id would have (an output that no longer describes its source)."""
    (out_dir / _crop_name(sample_id)).unlink(missing_ok=True)


def _align_row(row: dict[str, Any], crop: Path, size: int, detect_scale: int | None,
               model: str | os.PathLike[str] | None, fill: str = "black") -> dict[str, Any]:
    """Align one data-frame row to `crop`; return its manifest record (without source_stamp and settings)."""
    record = {"sample_id": row["sample_id"], "source": str(row["path"]), "crop": "", "size": size, "landmarks": ""}
    image = read_rgb(row["path"])
    if image is None:
        return record | {"status": "unreadable"}
    landmarks, box = _optional(row.get("landmarks")), _optional(row.get("box"))
    try:
        face: AlignedFace = align_face(image, landmarks=landmarks, box=box, size=size, source=row["path"],
                                       detect_scale=detect_scale, model=model, fill=fill)
    except NoFaceError:
        return record | {"status": "no_face"}
    write_png(face.image, crop)
    status = "given" if landmarks is not None else ("box" if box is not None else "detected")
    return record | {"status": status, "crop": str(crop), "landmarks": landmarks_to_text(face.source_landmarks)}


def _write_manifest(records: Iterable[dict[str, Any]], target: Path, columns: list[str]) -> None:
    write_csv(pd.DataFrame(list(records), columns=columns), target)


def _align_task(task: tuple[dict[str, Any], Path, int, int | None, str | None, str]) -> dict[str, Any]:
    """`_align_row` on one packed task (for process pools)."""
    return _align_row(*task)


def align_images(frame: pd.DataFrame, out_dir: str | os.PathLike[str], size: int = 224, *,
                 detect_scale: int | None = None, model: str | os.PathLike[str] | None = None,
                 workers: int | None = None, prune: bool = False, fill: str = "black") -> pd.DataFrame:
    """Align each row's image (its landmarks/box used when given) to out_dir/<id>.png with a manifest.csv. A row
    already in the manifest is reused only when its source file (path, size, mtime) and the settings that shape the
    crop are unchanged; entries whose source is gone (and, with `prune`, ids not in `frame`) are removed with their
    crops. Returns the aligned rows with `path` = crop and `source_path` = original; rows without a face
    (attrs["no_face"]) or with an undecodable image (attrs["unreadable"]) are dropped; attrs["reused"],
    ["recomputed"] and ["removed"] count what this call did. `workers` processes share the work (default: one per
    CPU core; dlib is not thread-safe, so not threads); `fill` (moede.align.face.FILLS) paints the crops outside the
    photo and is part of the settings a row is reused with."""
    missing = {"sample_id", "path"} - set(frame.columns)
    if missing:
        raise ValueError(f"data frame lacks column(s) {sorted(missing)}; see the schema in moede/data")
    if frame["sample_id"].duplicated().any():
        raise ValueError("sample_id values must be unique")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    records = _previous(manifest)
    wanted_ids = set(frame["sample_id"].astype(str))
    gone = [s for s, r in records.items() if (prune and s not in wanted_ids) or not source_stamp(r["source"])]
    for sample_id in gone:
        del records[sample_id]
    tasks, stamps = [], {}
    for row in frame.to_dict("records"):
        sample_id = str(row["sample_id"])
        stamps[sample_id] = {"source": str(row["path"]), "source_stamp": source_stamp(row["path"]),
                             "settings": settings_key(size=size, detect_scale=detect_scale, model=model,
                                                      landmarks=_optional(row.get("landmarks")),
                                                      box=_optional(row.get("box")), **_fill_setting(fill))}
        if not _still_valid(records.get(sample_id), stamps[sample_id]):
            tasks.append((row | {"sample_id": sample_id}, out_dir / _crop_name(sample_id), size, detect_scale,
                          None if model is None else str(model), fill))
    last_flush = time.monotonic()
    with contextlib.closing(map_on_cores(_align_task, tasks, min_per_worker=64, chunksize=16,
                                         workers=workers)) as done_records:
        bar = tqdm(zip(tasks, done_records), total=len(tasks), desc=f"aligning faces -> {out_dir.name}", unit="img")
        for (row, *_), record in bar:
            records[row["sample_id"]] = record | stamps[row["sample_id"]]
            if record["status"] not in ALIGNED:  # a crop left from an earlier version of this source
                _remove_crop(out_dir, row["sample_id"])
            if time.monotonic() - last_flush > FLUSH_SECONDS:  # an interrupted run keeps what it finished
                _write_manifest(records.values(), manifest, IMAGE_COLUMNS)
                last_flush = time.monotonic()
    _write_manifest(records.values(), manifest, IMAGE_COLUMNS)
    for sample_id in gone:
        _remove_crop(out_dir, sample_id)

    status = frame["sample_id"].astype(str).map(lambda s: records[s]["status"])
    result = frame.loc[status.isin(ALIGNED).to_numpy()].copy()
    result["source_path"] = result["path"].astype(str)
    result["path"] = result["sample_id"].astype(str).map(lambda s: records[s]["crop"])
    result.attrs.update(frame.attrs)
    result.attrs.update(
        no_face=int((status == "no_face").sum()), unreadable=int((status == "unreadable").sum()),
        aligned_dir=str(out_dir), manifest=str(manifest), size=size,
        reused=len(frame) - len(tasks), recomputed=len(tasks), removed=len(gone),
    )
    if result.attrs["no_face"] or result.attrs["unreadable"]:
        warnings.warn(
            f"{result.attrs['no_face']} image(s) without a detected face and {result.attrs['unreadable']} "
            f"undecodable image(s) of {len(frame)} were dropped (status in {manifest})", stacklevel=2,
        )
    return result


def align_folder(folder: str | os.PathLike[str], out_dir: str | os.PathLike[str], size: int = 224,
                 **options: Any) -> pd.DataFrame:
    """Align every image under `folder` (recursively) into out_dir; sample ids are the relative paths."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {folder}")
    frame = pd.DataFrame({"sample_id": [p.relative_to(folder).as_posix() for p in paths],
                          "path": [str(p.resolve()) for p in paths]})
    return align_images(frame, out_dir, size, prune=True, **options)


def align_video_to_folder(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], size: int = 224,
                          landmarks: np.ndarray | None = None, max_frames: int | None = None,
                          **options: Any) -> pd.DataFrame:
    """Align a video's frames to out_dir/<frame>.png plus a manifest.csv (source, frame, crop, status in
    detected/tracked/given/reused, landmarks). An earlier result is reused only when it was made from the same file
    (path, size, mtime) with the same settings (size, max_frames, landmarks, options); otherwise the frames are
    recomputed and frames beyond the new count removed. attrs["reused"] says which happened."""
    out_dir = Path(out_dir).resolve()
    manifest = out_dir / MANIFEST
    source = str(Path(path).resolve())
    wanted = {"source": source, "source_stamp": source_stamp(path),
              "settings": settings_key(size=size, max_frames=max_frames, landmarks=landmarks, **options)}
    if manifest.is_file():
        done = pd.read_csv(manifest, keep_default_na=False, dtype={"source_stamp": str, "settings": str})
        if len(done) and all(_still_valid(row, wanted) for row in done.to_dict("records")):
            done.attrs.update(reused=True, removed=0, source=source)
            return done
    video = align_video(path, size, landmarks=landmarks, max_frames=max_frames, **options)
    manifest.unlink(missing_ok=True)  # the frames are about to change: the old manifest no longer describes them
    records = []
    for index in tqdm(range(video.n_frames), desc=f"writing {Path(path).name}", unit="frame", leave=False):
        crop = out_dir / f"{index:06d}.png"
        write_png(video.frames[index], crop)
        if not video.detected[index]:
            status = "reused"
        elif landmarks is not None:
            status = "given"
        else:
            status = "tracked" if video.tracked[index] else "detected"
        records.append(wanted | {"frame": index, "crop": str(crop), "status": status, "size": size,
                                 "landmarks": landmarks_to_text(video.landmarks[index])})
    frame = pd.DataFrame(records, columns=VIDEO_COLUMNS)
    write_csv(frame, manifest)
    kept = set(frame["crop"])
    orphans = [p for p in out_dir.iterdir() if FRAME_NAME.match(p.name) and str(p) not in kept]
    for orphan in orphans:
        orphan.unlink()
    frame.attrs.update(n_reused=video.n_reused, source=source, reused=False, removed=len(orphans))
    return frame
