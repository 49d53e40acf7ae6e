"""Paper Tables 1-4 from this run's static models, with the paper's row and column labels.

Each function returns a DataFrame in percent (Table 4: cosine fractions) rounded to 2 decimals, with
attrs["source"] = the data banner, so `moede.tables.paper.paper_vs_run(table, "tableN")` lines it up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moede.data.emotions import PAPER_NAMES
from moede.evaluation.cams import CamResult, face_shares, pooled_share
from moede.evaluation.metrics import BINARY_COLUMNS, binary_row, class_table, summary
from moede.evaluation.similarity import similarity_frame
from moede.training.outcomes import ExpertsResult, FusionResult, StaticResult


def _tag(table: pd.DataFrame, banner: str, caption: str) -> pd.DataFrame:
    table.attrs.update(source=banner, caption=caption)
    return table


def table2(sfer: StaticResult) -> pd.DataFrame:
    """Table 2: per-class Precision, Recall, F1-score, Accuracy (= recall) of the 8-class SFER on dev + Average."""
    rows = [PAPER_NAMES[c] for c in sfer.classes]
    table = class_table(sfer.predictions["target"], sfer.predictions["prediction"], rows)
    return _tag(table, sfer.source.banner(), "8-class SFER (MobileNetV2) on the development set")


def against_majority(sfer: StaticResult) -> pd.DataFrame:
    """Dev accuracy and macro-F1 (%) of the SFER beside always answering the dev set's most frequent class: did the
    model learn more than the class balance?"""
    targets = sfer.predictions["target"].to_numpy()
    majority = np.full_like(targets, np.bincount(targets).argmax())
    rows = {"this SFER": summary(targets, sfer.predictions["prediction"].to_numpy(), len(sfer.classes)),
            f"always '{sfer.classes[majority[0]]}'": summary(targets, majority, len(sfer.classes))}
    table = pd.DataFrame.from_dict(rows, orient="index")[["accuracy", "f1_macro"]]
    return _tag(table.rename(columns={"accuracy": "Accuracy", "f1_macro": "F1-macro"}).round(2),
                sfer.source.banner(), "SFER against the majority-class answer, development set")


def table1(experts: ExpertsResult) -> pd.DataFrame:
    """Table 1: each binary expert's P (target emotion) / N (other emotions) metrics on dev, plus an Average row."""
    rows = {PAPER_NAMES[emotion]: binary_row(result.predictions["target"], result.predictions["prediction"])
            for emotion, result in experts.experts.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")[list(BINARY_COLUMNS)]
    table.loc["Average"] = table.mean()
    return _tag(table.round(2), experts.source.banner(),
                "Binary emotion experts on the development set (P: target emotion, N: other emotions)")


def table3(fusion: FusionResult) -> pd.DataFrame:
    """Table 3: FFE and FTFE per-class P, R, F1, Ac (= recall) on dev side by side, plus an Average row."""
    short = {"Precision": "P", "Recall": "R", "F1-score": "F1", "Accuracy": "Ac"}
    parts = []
    for label, result in (("FFE", fusion.ffe), ("FTFE", fusion.ftfe)):
        rows = [PAPER_NAMES[c] for c in result.classes]
        part = class_table(result.predictions["target"], result.predictions["prediction"], rows)
        parts.append(part.rename(columns={k: f"{label} {v}" for k, v in short.items()}))
    return _tag(pd.concat(parts, axis=1), fusion.ffe.source.banner(),
                "Fusion of the eight experts: FFE (frozen) vs FTFE (fine-tuned)")


def table4(experts: ExpertsResult) -> pd.DataFrame:
    """Table 4: mean over dev images of the cosine between two experts' 1280-d features (Neu, Hap, ... labels)."""
    return _tag(similarity_frame(experts.similarity, experts.emotions), experts.source.banner(),
                "Cosine similarity between the experts' features on the development set")


def cam_in_face_table(cams: CamResult) -> pd.DataFrame:
    """Beside Figure 2: each model's share of CAM mass inside the face (landmark hull and forehead) over the measured
    development faces, pooled (each face weighs by its map's mass), pooled over its own emotion's faces, and as the
    plain mean of per-face shares; the last row is a map spread evenly over the crop (the mask's area)."""
    labels = cams.faces["label"].to_numpy()
    rows = {}
    for name, maps in cams.maps.items():
        own = np.ones(len(labels), dtype=bool) if name == "sfer" else labels == name
        per_face = face_shares(maps, cams.masks)  # NaN where a map is all zero
        rows["SFER (labelled class)" if name == "sfer" else PAPER_NAMES[name]] = {
            "in-face share": pooled_share(maps, cams.masks),
            "on its emotion's faces": pooled_share(maps[own], cams.masks[own]) if own.any() else np.nan,
            "mean per face": np.nanmean(per_face) if np.isfinite(per_face).any() else np.nan, "faces": len(labels),
            "own faces": own.sum()}
    area = float(cams.masks.mean())
    rows["an evenly spread map"] = {"in-face share": area, "on its emotion's faces": area, "mean per face": area,
                                    "faces": len(labels), "own faces": len(labels)}
    table = pd.DataFrame.from_dict(rows, orient="index").round(3)
    table[["faces", "own faces"]] = table[["faces", "own faces"]].astype(int)
    return _tag(table, cams.banner, "share of each CAM's mass inside the face (landmark hull and forehead), "
                                    "development faces")
