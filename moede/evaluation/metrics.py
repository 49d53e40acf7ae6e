"""Classification metrics in percent, computed from the confusion matrix, laid out as in the paper's tables.

Conventions (checked against scikit-learn with `zero_division=0` in tests/test_static_metrics.py):
- precision_c = TP_c / predicted_c, recall_c = TP_c / true_c, F1_c their harmonic mean; 0 where undefined.
- per-class "Accuracy" = recall_c. The paper's Table 2 and Table 3 report an Accuracy column that equals the Recall
  column in every row (one-vs-rest accuracy would be far higher on an 8-class problem), so we define it the same way.
- Average rows are unweighted means over classes (macro); F1-weighted weights the per-class F1 by true support.
- Binary experts (Table 1): P = the target emotion (positive), N = all other emotions. The paper's own Table 1
  seems to have its P/N columns swapped relative to its text (its F1-weighted and accuracy weight the "P"
  columns by the 3,500 negatives); we keep the text's meaning, P = target emotion.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CLASS_COLUMNS = ("Precision", "Recall", "F1-score", "Accuracy")
BINARY_COLUMNS = ("P Precision", "N Precision", "P Recall", "N Recall", "P F1-score", "N F1-score",
                  "F1-macro", "F1-weighted", "Accuracy")


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Return the confusion matrix (rows: true class, columns: predicted class) as int64 counts."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise a / b with 0 where b is 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def per_class(matrix: np.ndarray) -> pd.DataFrame:
    """Per-class precision, recall, F1, accuracy (= recall) and support from a confusion matrix, in percent."""
    tp = np.diag(matrix).astype(float)
    precision = _divide(tp, matrix.sum(axis=0))
    recall = _divide(tp, matrix.sum(axis=1))
    f1 = _divide(2 * precision * recall, precision + recall)
    return pd.DataFrame({"Precision": 100 * precision, "Recall": 100 * recall, "F1-score": 100 * f1,
                         "Accuracy": 100 * recall, "support": matrix.sum(axis=1)})


def summary(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> dict[str, float]:
    """Overall accuracy, F1-macro, F1-weighted, macro precision and macro recall (percent)."""
    matrix = confusion(y_true, y_pred, n_classes)
    table = per_class(matrix)
    support = table["support"].to_numpy(dtype=float)
    return {"accuracy": float(100 * np.trace(matrix) / max(matrix.sum(), 1)),
            "f1_macro": float(table["F1-score"].mean()),
            "f1_weighted": float(np.sum(table["F1-score"] * support) / max(support.sum(), 1)),
            "precision_macro": float(table["Precision"].mean()),
            "recall_macro": float(table["Recall"].mean())}


def class_table(y_true: Sequence[int], y_pred: Sequence[int], row_names: Sequence[str]) -> pd.DataFrame:
    """Per-class Precision, Recall, F1-score, Accuracy (percent, 2 decimals) plus an 'Average' (macro) row."""
    table = per_class(confusion(y_true, y_pred, len(row_names)))[list(CLASS_COLUMNS)]
    table.index = list(row_names)
    table.loc["Average"] = table.mean()
    return table.round(2)


def binary_row(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """Table 1 metrics of a binary expert (targets 1 = target emotion P, 0 = other emotions N), in percent."""
    table = per_class(confusion(y_true, y_pred, 2))
    n, p = table.iloc[0], table.iloc[1]
    overall = summary(y_true, y_pred, 2)
    return {"P Precision": p["Precision"], "N Precision": n["Precision"], "P Recall": p["Recall"],
            "N Recall": n["Recall"], "P F1-score": p["F1-score"], "N F1-score": n["F1-score"],
            "F1-macro": overall["f1_macro"], "F1-weighted": overall["f1_weighted"], "Accuracy": overall["accuracy"]}
