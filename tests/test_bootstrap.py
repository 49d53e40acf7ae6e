"""The bootstrap intervals (moede.evaluation.bootstrap) against cases with known answers."""

import numpy as np
import pytest

from moede.evaluation.bootstrap import (accuracy, f1_macro, interval_text, percentile_interval, resampled_confusion,
                                        resampled_means, resampled_scores, resampling)
from moede.evaluation.metrics import summary


def test_mean_of_iid_normal_data_has_the_textbook_half_width():
    rng = np.random.default_rng(7)
    sigma, n = 2.0, 400
    values = rng.normal(5.0, sigma, n)
    draws = resampling(range(n), "faces", resamples=4000, seed=1)
    low, high = percentile_interval(resampled_means(values, range(n), draws))
    expected = 1.96 * values.std() / np.sqrt(n)
    assert (high - low) / 2 == pytest.approx(expected, rel=0.08)
    assert low < values.mean() < high


def test_perfectly_correlated_clusters_widen_the_interval():
    rng = np.random.default_rng(3)
    clusters = np.repeat(np.arange(20), 10)  # 20 actors x 10 clips, every clip of an actor alike
    values = rng.normal(0.0, 1.0, 20)[clusters]
    by_item = percentile_interval(resampled_means(values, range(len(values)), resampling(range(200), "clips")))
    by_cluster = percentile_interval(resampled_means(values, clusters, resampling(clusters, "actors")))
    width = lambda interval: interval[1] - interval[0]  # noqa: E731
    assert width(by_cluster) > 2.5 * width(by_item)  # sqrt(10) = 3.2 in expectation


def test_paired_difference_of_identical_predictions_is_exactly_zero_wide():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 6, 78), rng.integers(0, 6, 78)
    actors = rng.integers(0, 46, 78)
    draws = resampling(actors, "actors")
    for metric in ("Accuracy", "F1-macro"):
        a = resampled_scores([(y_true, y_pred, actors)], 6, draws)[metric]
        b = resampled_scores([(y_true, y_pred.copy(), actors)], 6, draws)[metric]
        assert percentile_interval(a - b) == (0.0, 0.0)


def test_resampled_scores_are_the_scores_of_the_repeated_items():
    """A resample's accuracy and F1-macro equal metrics.summary on its items repeated as often as drawn."""
    rng = np.random.default_rng(5)
    y_true, y_pred, actors = rng.integers(0, 4, 60), rng.integers(0, 4, 60), rng.integers(0, 12, 60)
    draws = resampling(actors, "actors", resamples=5, seed=2)
    matrices = resampled_confusion(y_true, y_pred, actors, 4, draws)
    for b in range(5):
        repeats = draws.counts[b, draws.columns(actors)]
        expected = summary(np.repeat(y_true, repeats), np.repeat(y_pred, repeats), 4)
        assert accuracy(matrices)[b] == pytest.approx(expected["accuracy"])
        assert f1_macro(matrices)[b] == pytest.approx(expected["f1_macro"])


def test_mean_over_partitions_and_reproducibility():
    rng = np.random.default_rng(1)
    sets = [(rng.integers(0, 3, 20), rng.integers(0, 3, 20), rng.integers(0, 5, 20) + 5 * k) for k in range(2)]
    units = np.concatenate([s[2] for s in sets])
    one = resampled_scores(sets, 3, resampling(units, "actors", seed=4))["Accuracy"]
    assert np.array_equal(one, resampled_scores(sets, 3, resampling(units, "actors", seed=4))["Accuracy"],
                          equal_nan=True)  # nan: a resample that drew no actor of one partition
    assert not np.array_equal(one, resampled_scores(sets, 3, resampling(units, "actors", seed=5))["Accuracy"])
    assert one.shape == (2000,)


def test_describe_and_text():
    draws = resampling(["a", "b", "a"], "actors", resamples=100, seed=3)
    assert draws.describe() == ("95% intervals: percentile bootstrap over the 2 actors (each actor's clips "
                                "resampled together), 100 resamples, seed 3")
    assert interval_text(18.46, 38.04) == "[18.5, 38.0]" and interval_text(-8, 10.1, signed=True) == "[-8.0, +10.1]"
    with pytest.raises(ValueError, match="not among the resampled actors"):
        draws.columns(["c"])
