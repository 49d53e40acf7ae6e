"""Paper Tables 1-4 from this run's static models, with the paper's row and column labels.

Each function returns a DataFrame in percent (Table 4: cosine fractions) rounded to 2 decimals, with
attrs["source"] = the data banner, so `moede.tables.paper.paper_vs_run(table, "tableN")` lines it up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moede.data.emotions import PAPER_NAMES
from moede.evaluation import bootstrap
from moede.evaluation.cams import CamResult, face_shares, pooled_share
from moede.evaluation.metrics import BINARY_COLUMNS, binary_row, class_table, summary
from moede.evaluation.power import ALPHA, POWER, bootstrap_items_needed, power_row
from moede.evaluation.similarity import similarity_frame
from moede.tables.paper import paper_table
from moede.training.outcomes import ExpertsResult, FusionResult, StaticResult


def _tag(table: pd.DataFrame, banner: str, caption: str) -> pd.DataFrame:
    table.attrs.update(source=banner, caption=caption)
    return table


def face_resampling(predictions: pd.DataFrame) -> bootstrap.Resampling:
    """The bootstrap draws of the development faces of `predictions` (one row per face, each its own unit)."""
    return bootstrap.resampling(range(len(predictions)), "faces")


def _resampled_confusion(predictions: pd.DataFrame, n_classes: int, draws: bootstrap.Resampling) -> np.ndarray:
    """The confusion counts of each of `draws`' resamples of the faces of `predictions`."""
    return bootstrap.resampled_confusion(predictions["target"].to_numpy(), predictions["prediction"].to_numpy(),
                                         range(len(predictions)), n_classes, draws)


def _f1_intervals(predictions: pd.DataFrame, n_classes: int, draws: bootstrap.Resampling) -> list[str]:
    """95% intervals of each class's F1 and, last (the Average row), of the F1-macro, resampling the faces."""
    matrices = _resampled_confusion(predictions, n_classes, draws)
    return [bootstrap.interval_text(*bootstrap.percentile_interval(samples))
            for samples in [*bootstrap.class_f1(matrices).T, bootstrap.f1_macro(matrices)]]


def table2(sfer: StaticResult) -> pd.DataFrame:
    """Table 2: per-class Precision, Recall, F1-score, Accuracy (= recall) of the 8-class SFER on dev + Average, and
    each F1's 95% bootstrap interval over the development faces (the Average row: the F1-macro's)."""
    rows = [PAPER_NAMES[c] for c in sfer.classes]
    table = class_table(sfer.predictions["target"], sfer.predictions["prediction"], rows)
    draws = face_resampling(sfer.predictions)
    table["F1-score [95% interval]"] = _f1_intervals(sfer.predictions, len(rows), draws)
    table.attrs["interval"] = draws.describe()
    return _tag(table, sfer.source.banner(), "8-class SFER (MobileNetV2) on the development set")


def against_majority(sfer: StaticResult) -> pd.DataFrame:
    """Dev accuracy and macro-F1 (%) of the SFER beside always answering the dev set's most frequent class, with
    95% bootstrap intervals over the development faces: did the model learn more than the class balance?"""
    targets = sfer.predictions["target"].to_numpy()
    majority = np.full_like(targets, np.bincount(targets).argmax())
    answers = {"this SFER": sfer.predictions["prediction"].to_numpy(),
               f"always '{sfer.classes[majority[0]]}'": majority}
    draws = face_resampling(sfer.predictions)
    rows = {}
    for name, answer in answers.items():
        matrices = _resampled_confusion(pd.DataFrame({"target": targets, "prediction": answer}), len(sfer.classes),
                                        draws)
        overall = summary(targets, answer, len(sfer.classes))
        rows[name] = {"Accuracy": overall["accuracy"], "F1-macro": overall["f1_macro"],
                      **{f"{metric} [95% interval]": bootstrap.interval_text(*bootstrap.percentile_interval(
                          bootstrap.METRICS[metric](matrices))) for metric in ("Accuracy", "F1-macro")}}
    table = pd.DataFrame.from_dict(rows, orient="index").round(2)
    table.attrs["interval"] = draws.describe()
    return _tag(table, sfer.source.banner(), "SFER against the majority-class answer, development set")


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
    parts, intervals = [], {}
    draws = face_resampling(fusion.ffe.predictions)
    for label, result in (("FFE", fusion.ffe), ("FTFE", fusion.ftfe)):
        rows = [PAPER_NAMES[c] for c in result.classes]
        part = class_table(result.predictions["target"], result.predictions["prediction"], rows)
        parts.append(part.rename(columns={k: f"{label} {v}" for k, v in short.items()}))
        intervals[f"{label} F1 [95% interval]"] = _f1_intervals(result.predictions, len(rows), draws)
    table = pd.concat(parts, axis=1).assign(**intervals)
    table.attrs["interval"] = draws.describe()
    return _tag(table, fusion.ffe.source.banner(), "Fusion of the eight experts: FFE (frozen) vs FTFE (fine-tuned)")


def fusion_power(fusion: FusionResult) -> pd.DataFrame:
    """How many development faces the paper's Table 3 F1-macro gap of the FTFE over the FFE would need for p < 0.05,
    one-tailed, at 80% power, beside how many are here: from the per-face paired correctness differences
    (moede.evaluation.power; faces independent) and from the face bootstrap's standard error of the F1-macro gap."""
    ffe, ftfe = (result.predictions.sort_values("sample_id") for result in (fusion.ffe, fusion.ftfe))
    if list(ffe["sample_id"]) != list(ftfe["sample_id"]):
        raise ValueError("the FFE and FTFE were scored on different development faces; rerun chapter 4's fusions")
    paper = paper_table("table3").loc["Average"]
    gap = float(paper["FTFE F1"] - paper["FFE F1"])
    n, draws = len(fusion.ffe.classes), face_resampling(ffe)
    f1 = [bootstrap.f1_macro(_resampled_confusion(p, n, draws)) for p in (ftfe, ffe)]
    here = [summary(p["target"], p["prediction"], n)["f1_macro"] for p in (ftfe, ffe)]
    right = [(p["prediction"] == p["target"]).to_numpy(dtype=float) for p in (ftfe, ffe)]
    row = {"paper's gap (F1-macro)": gap, "gap here (F1-macro)": here[0] - here[1],
           **power_row(100 * (right[0] - right[1]), None, gap, item="faces"),
           "faces needed (bootstrap SE of the gap)": bootstrap_items_needed(float(np.nanstd(f1[0] - f1[1])), gap,
                                                                            len(ffe))}
    table = pd.DataFrame({"FTFE vs FFE": row}).T.round(2)
    return _tag(table, fusion.ffe.source.banner(), (
        f"Development faces a one-tailed paired test at p < {ALPHA:g} with {100 * POWER:g}% power needs to find the "
        "paper's Table 3 F1-macro gap (FTFE over FFE), beside how many are here: n = ((z_0.95 + z_0.80) sd / gap)^2 "
        "from the per-face difference 100 x (FTFE right - FFE right) (the gap read as accuracy points); the last "
        f"column scales the standard error of the F1-macro gap ({draws.drawn()}) as 1 / sqrt(faces)"))


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
