"""Metrics against scikit-learn on a hand-made confusion matrix; the experts' cosine-similarity matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from moede.evaluation.metrics import BINARY_COLUMNS, binary_row, class_table, confusion, summary
from moede.evaluation.similarity import expert_cosine_matrix, mean_off_diagonal

# rows: true class, columns: predicted; class 3 is never predicted (precision 0 by convention)
HAND_MADE = np.array([[5, 1, 0, 0],
                      [2, 7, 1, 0],
                      [0, 3, 4, 0],
                      [1, 0, 2, 1]])


def _labels(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand a confusion matrix into (y_true, y_pred)."""
    pairs = [(t, p) for t in range(len(matrix)) for p in range(len(matrix)) for _ in range(matrix[t, p])]
    true, pred = zip(*pairs)
    return np.array(true), np.array(pred)


def test_confusion_rebuilds_hand_made() -> None:
    y_true, y_pred = _labels(HAND_MADE)
    assert np.array_equal(confusion(y_true, y_pred, 4), HAND_MADE)


def test_class_table_matches_sklearn() -> None:
    y_true, y_pred = _labels(HAND_MADE)
    table = class_table(y_true, y_pred, ["A", "B", "C", "D"])
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=range(4), zero_division=0)
    assert np.allclose(table.loc[["A", "B", "C", "D"], "Precision"], 100 * p, atol=0.01)
    assert np.allclose(table.loc[["A", "B", "C", "D"], "Recall"], 100 * r, atol=0.01)
    assert np.allclose(table.loc[["A", "B", "C", "D"], "F1-score"], 100 * f, atol=0.01)
    assert np.allclose(table["Accuracy"], table["Recall"])  # the paper's per-class accuracy is recall
    assert table.loc["Average", "F1-score"] == pytest.approx(100 * f.mean(), abs=0.01)
    assert list(table.columns) == ["Precision", "Recall", "F1-score", "Accuracy"]


def test_summary_matches_sklearn() -> None:
    y_true, y_pred = _labels(HAND_MADE)
    scores = summary(y_true, y_pred, 4)
    assert scores["accuracy"] == pytest.approx(100 * accuracy_score(y_true, y_pred))
    assert scores["f1_macro"] == pytest.approx(100 * f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert scores["f1_weighted"] == pytest.approx(
        100 * f1_score(y_true, y_pred, average="weighted", zero_division=0))


def test_binary_row_positive_is_target_emotion() -> None:
    y_true = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    y_pred = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    row = binary_row(y_true, y_pred)
    assert list(row) == list(BINARY_COLUMNS)
    assert row["P Precision"] == pytest.approx(100 * 2 / 3)
    assert row["P Recall"] == pytest.approx(100 * 2 / 3)
    assert row["N Recall"] == pytest.approx(100 * 6 / 7)
    assert row["Accuracy"] == pytest.approx(80.0)
    assert row["F1-weighted"] == pytest.approx(100 * f1_score(y_true, y_pred, average="weighted"))


def test_cosine_matrix_symmetric_unit_diagonal() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.rand(20, 4, 16, generator=generator)
    features[:, 1] = 3 * features[:, 0]  # expert 1 is a scaled copy of expert 0: cosine 1
    matrix = expert_cosine_matrix(features)
    assert matrix.shape == (4, 4)
    assert np.allclose(matrix, matrix.T)
    assert np.allclose(np.diag(matrix), 1.0)
    assert matrix[0, 1] == pytest.approx(1.0)
    assert np.all(matrix <= 1 + 1e-9) and np.all(matrix >= -1 - 1e-9)
    one_image = torch.nn.functional.cosine_similarity(features[3, 2], features[3, 3], dim=0)
    per_image = [torch.nn.functional.cosine_similarity(features[n, 2], features[n, 3], dim=0) for n in range(20)]
    assert matrix[2, 3] == pytest.approx(float(torch.stack(per_image).mean()), abs=1e-6)
    assert float(one_image) != pytest.approx(matrix[2, 3], abs=1e-9)  # it is a mean over images
    assert 0 < mean_off_diagonal(matrix) < 1


def test_cosine_matrix_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match=r"\(N, E, D\)"):
        expert_cosine_matrix(np.zeros((3, 4)))


def test_against_majority_compares_with_the_most_frequent_class() -> None:
    from types import SimpleNamespace

    import pandas as pd

    from moede.tables.static_tables import against_majority
    from moede.sources import DataSource

    targets, predictions = _labels(HAND_MADE)
    sfer = SimpleNamespace(predictions=pd.DataFrame({"target": targets, "prediction": predictions}),
                           classes=("a", "b", "c", "d"), source=DataSource("test", "demo"))
    table = against_majority(sfer)
    assert list(table.index) == ["this SFER", "always 'b'"]  # class b (index 1) has the most samples
    assert table.loc["this SFER", "Accuracy"] == pytest.approx(100 * accuracy_score(targets, predictions), abs=0.01)
    assert table.loc["always 'b'", "Accuracy"] == pytest.approx(100 * np.mean(targets == 1), abs=0.01)
    assert table.loc["always 'b'", "F1-macro"] < table.loc["this SFER", "F1-macro"]


def test_table1_lines_up_the_paper_columns_by_meaning() -> None:
    import pandas as pd

    from moede.tables.paper import paper_table, paper_vs_run

    paper = paper_table("table1")
    # the paper's numbers only add up with P = the 3,500 "other" images
    assert np.allclose(0.875 * paper["P F1-score"] + 0.125 * paper["N F1-score"], paper["F1-weighted"], atol=0.01)
    ours = pd.DataFrame(1.0, index=paper.index, columns=paper.columns)
    joined = paper_vs_run(ours, "table1")
    assert joined[("P Precision", "paper")].tolist() == paper["N Precision"].tolist()  # our P = target emotion
    assert joined[("N F1-score", "paper")].tolist() == paper["P F1-score"].tolist()
    assert joined[("F1-macro", "paper")].tolist() == paper["F1-macro"].tolist()
    assert "swapped" in joined.attrs["caption"]


def _static_result(rng: np.random.Generator, quality: float, n: int = 200):
    from types import SimpleNamespace

    import pandas as pd

    from moede.sources import DataSource

    targets = rng.integers(0, 8, n)
    predictions = np.where(rng.random(n) < quality, targets, rng.integers(0, 8, n))
    frame = pd.DataFrame({"sample_id": [f"f{i}" for i in range(n)], "target": targets, "prediction": predictions})
    classes = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
    return SimpleNamespace(predictions=frame, classes=classes, source=DataSource("test", "demo"))


def test_tables_2_and_3_carry_face_bootstrap_intervals_and_table_3_a_power_statement() -> None:
    from types import SimpleNamespace

    from moede.tables.paper import paper_table
    from moede.tables.static_tables import fusion_power, table2, table3

    rng = np.random.default_rng(0)
    t2 = table2(_static_result(rng, 0.6))
    assert list(t2.columns) == [*paper_table("table2").columns, "F1-score [95% interval]"]
    low, high = map(float, t2.loc["Average", "F1-score [95% interval]"].strip("[]").split(", "))
    assert low < t2.loc["Average", "F1-score"] < high
    assert t2.attrs["interval"] == "95% intervals: percentile bootstrap over the 200 faces, 2,000 resamples, seed 0"
    fusion = SimpleNamespace(ffe=_static_result(rng, 0.5), ftfe=_static_result(np.random.default_rng(0), 0.6))
    fusion.ftfe.predictions["target"] = fusion.ffe.predictions["target"]
    t3 = table3(fusion)
    assert list(t3.columns)[:8] == list(paper_table("table3").columns) and "FTFE F1 [95% interval]" in t3
    power = fusion_power(fusion).loc["FTFE vs FFE"]
    assert power["paper's gap (F1-macro)"] == pytest.approx(60.7 - 56.1)
    assert power["faces here"] == 200 and power["faces needed"] == power["faces needed if independent"]
