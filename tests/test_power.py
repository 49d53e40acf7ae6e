"""Sample sizes of moede.evaluation.power against known answers."""

import numpy as np
import pytest

from moede.evaluation.power import bootstrap_items_needed, intra_class_correlation, items_needed, power_row


def test_items_needed_is_the_textbook_formula():
    assert items_needed(1.0, 0.5) == pytest.approx(((1.644854 + 0.841621) * 2) ** 2, rel=1e-5)  # 24.7
    assert items_needed(1.0, 0.5, power=0.5) == pytest.approx((1.644854 * 2) ** 2, rel=1e-5)
    assert np.isnan(items_needed(1.0, -3.6))  # a gap the other way needs no one-tailed test of this direction
    assert bootstrap_items_needed(2.0, 1.0, 10) == pytest.approx(10 * items_needed(2.0, 1.0))


def test_intra_class_correlation_of_perfect_and_of_no_clustering():
    rng = np.random.default_rng(0)
    units = np.repeat(np.arange(30), 4)
    assert intra_class_correlation(rng.normal(size=30)[units], units) == pytest.approx(1.0)
    assert intra_class_correlation(rng.normal(size=120), units) < 0.15
    assert np.isnan(intra_class_correlation(rng.normal(size=5), range(5)))  # one item per unit


def test_power_row_multiplies_by_the_design_effect():
    rng = np.random.default_rng(1)
    units = np.repeat(np.arange(20), 3)
    differences = 100.0 * rng.integers(-1, 2, 20)[units]  # every clip of an actor alike: ICC 1, effect m = 3
    row = power_row(differences, units, gap=3.6)
    assert row["design effect"] == pytest.approx(3.0)
    assert row["clips needed"] == pytest.approx(3 * row["clips needed if independent"])
    assert row["actors needed"] == pytest.approx(row["clips needed"] / 3)
    assert (row["clips here"], row["actors here"]) == (60, 20)
    faces = power_row(differences, None, gap=3.6, item="faces")
    assert faces["faces needed"] == faces["faces needed if independent"] and "design effect" not in faces
