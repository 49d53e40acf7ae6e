"""Writing a prediction: CSV of the windows (or photo), CSV of the frames, JSON summary, the figure, and optionally
an annotated video; everything is computed first and each file is written atomically. One summary table of a run
has a row per input file, predicted or not (its status says why)."""

from __future__ import annotations

import io
from collections.abc import Sequence
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from moede.align.batch import IMAGE_SUFFIXES
from moede.align.video import read_frames
from moede.io import atomic_path, write_bytes, write_csv, write_failure, write_json
from moede.predict.bundle import Bundle
from moede.predict.figures import photo_figure, timeline_figure
from moede.predict.pipeline import (Prediction, PredictError, Predictor, input_files, iter_predictions,
                                    open_models)

SUMMARY = "summary.csv"
SUMMARY_COLUMNS = ["file", "kind", "status", "reason", "faces", "prediction"]
"""The summary table's first columns (then prob_<class>): status is ok, crop (a photo without a face found, taken
whole as the face: predict crops=True), missing, empty, unreadable, no_face or not_written; faces counts a photo's
faces or a video's processed frames with a face."""
PREDICTED = ("ok", "crop")
"""The statuses of a file that got a prediction."""
HINT_SHARE = 0.1
"""Without crops, a run where at least this share of the photos (and at least two) had no face found ends with a hint
naming --crops."""


def ensure_writable(out: Path) -> None:
    """Create the output folder and check a file can be written in it (an OutputWriteError naming the cause)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise write_failure(error, out / SUMMARY) from None


def _png(prediction: Prediction, bundle: Bundle) -> bytes:
    """The prediction's figure as PNG bytes."""
    fig = (timeline_figure(prediction, bundle.classes) if prediction.kind == "video"
           else photo_figure(prediction, bundle.photo_classes))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def summary(prediction: Prediction, bundle: Bundle) -> dict:
    """The JSON summary: the whole-clip (or photo) prediction, the windows, where the models came from."""
    table = prediction.table
    whole = table[table["span"] != "window"].iloc[0]
    probs = {c.removeprefix("prob_"): float(whole[c]) for c in table if c.startswith("prob_")}
    result = {"file": str(prediction.path), "kind": prediction.kind, "status": prediction.status,
              "prediction": prediction.label,
              "probabilities": probs, "model": str(bundle.path or bundle.meta["run_dir"]),
              "models": "SFER" if prediction.kind == "photo" else f"MoEDE ({bundle.meta['moede_row']}, partition "
                                                                   f"{bundle.meta['moede_partition']})",
              "note": prediction.note}
    if prediction.clip is not None:
        result.update(fps=prediction.clip.video_fps, frame_step=prediction.clip.frame_step,
                      processed_frames=len(prediction.frames),
                      frames_without_face=int((~prediction.frames["face"]).sum()),
                      windows=table[table["span"] == "window"].drop(columns=["file", "span", "status"])
                      .to_dict("records"))
    else:
        result["faces"] = int(whole["faces"])
    return result


def _annotate(prediction: Prediction, target: Path) -> None:
    """Write the video with the face box and the emotion of the window nearest in time drawn on every frame."""
    clip = prediction.clip
    windows = prediction.table[prediction.table["span"] == "window"]
    centres = ((windows["start_s"] + windows["end_s"]) / 2).to_numpy()
    with atomic_path(target) as tmp:
        writer = None
        try:
            for index, frame in enumerate(read_frames(prediction.path)):
                if writer is None:
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), clip.video_fps,
                                             (frame.shape[1], frame.shape[0]))
                slot = min(np.searchsorted(clip.frame_index, index, side="right") - 1, len(clip.boxes) - 1)
                x, y, w, h = clip.boxes[max(slot, 0)].round().astype(int)
                label = windows["prediction"].iloc[int(np.abs(centres - index / clip.video_fps).argmin())]
                bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
                colour = (0, 200, 0) if clip.face[max(slot, 0)] else (0, 0, 220)
                cv2.rectangle(bgr, (x, y), (x + w, y + h), colour, 2)
                cv2.putText(bgr, label, (x, max(y - 8, 16)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
                writer.write(bgr)
        finally:
            if writer is not None:
                writer.release()


def write_outputs(prediction: Prediction, out: Path, bundle: Bundle, annotate: bool = False) -> list[Path]:
    """Write one file's outputs as out/<file name>.{windows.csv|photo.csv, frames.csv, json, png[, mp4]}."""
    stem = out / prediction.path.name
    png = _png(prediction, bundle)
    data = summary(prediction, bundle)
    written = [write_csv(prediction.table, f"{stem}.{'windows' if prediction.kind == 'video' else 'photo'}.csv"),
               write_csv(prediction.frames, f"{stem}.frames.csv"), write_json(data, f"{stem}.json")]
    written.append(write_bytes(png, f"{stem}.png"))
    if annotate and prediction.kind == "video":
        _annotate(prediction, Path(f"{stem}.annotated.mp4"))
        written.append(Path(f"{stem}.annotated.mp4"))
    return written


def summary_row(prediction: Prediction) -> dict:
    """The summary table's row of a predicted file: status ok (or crop), its faces, prediction and probabilities."""
    whole = prediction.table[prediction.table["span"] != "window"].iloc[0]
    faces = int(whole["faces"]) if prediction.kind == "photo" else int(prediction.frames["face"].sum())
    return {"file": str(prediction.path), "kind": prediction.kind, "status": prediction.status,
            "reason": prediction.note or "",
            "faces": faces, "prediction": prediction.label,
            **{c: float(whole[c]) for c in prediction.table if c.startswith("prob_")}}


def failure_row(path: Path, status: str, reason: str) -> dict:
    """The summary table's row of a file that gave no prediction (`status` missing, empty, unreadable, no_face) or
    whose outputs could not be written (not_written)."""
    kind = "photo" if path.suffix.lower() in IMAGE_SUFFIXES else "video"
    return {"file": str(path), "kind": kind, "status": status, "reason": reason,
            "faces": 0 if status == "no_face" else None, "prediction": None}


def crops_hint(rows: list[dict]) -> str | None:
    """A line naming --crops when many photos of a run without it had no face found (HINT_SHARE, at least two), else
    None."""
    photos = [row for row in rows if row["kind"] == "photo"]
    faceless = sum(row["status"] == "no_face" for row in photos)
    if faceless < 2 or faceless < HINT_SHARE * len(photos):
        return None
    return (f"{faceless} of {len(photos)} photos had no face found; if they are already face crops (as FER corpora "
            "are), run again with --crops to take each whole photo as the face")


def write_summary(rows: list[dict], out: Path) -> Path:
    """Write the summary table (one row per input file) to out/summary.csv atomically."""
    frame = pd.DataFrame(rows)
    probabilities = [c for c in frame if c.startswith("prob_")]
    return write_csv(frame.reindex(columns=SUMMARY_COLUMNS + probabilities), out / SUMMARY)


def predict(paths: Sequence[str | Path], model: str | Path | Bundle | None = None,
            run_dir: str | Path | None = None,
            out: str | Path | None = None, window_s: float | None = None, stride_s: float | None = None,
            annotate: bool = False, device: str = "cpu", crops: bool = False) -> pd.DataFrame:
    """Predict photos, videos and folders of them with a bundle (or a run dir); write each file's outputs to `out`
    when given; return one table of every window, whole clip and photo (its status column: ok, or crop for a photo
    without a face found taken whole as the face when `crops`). Raises PredictError on the first bad file."""
    if out is not None:
        ensure_writable(Path(out))
    predictor = Predictor(open_models(model, run_dir), device, crops=crops)
    tables = []
    for path, result in iter_predictions(input_files(paths)[0], predictor, window_s, stride_s):
        if isinstance(result, PredictError):
            raise result
        if out is not None:
            write_outputs(result, Path(out), predictor.bundle, annotate)
        tables.append(result.table)
    return pd.concat(tables, ignore_index=True)
