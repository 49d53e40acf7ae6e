"""The complexity counts follow the configured backbone; the paper's MobileNetV2 numbers stay as they were."""

from __future__ import annotations

import pytest

from moede.evaluation.complexity import complexity_numbers, count_parameters
from moede.models.backbone import BackboneClassifier
from moede.tables.dynamic_tables import complexity_table


def test_complexity_counts_the_configured_backbone() -> None:
    v2 = complexity_numbers(frames=2, size=64)
    v3 = complexity_numbers(frames=2, size=64, backbone="mobilenet_v3_small")
    small = BackboneClassifier("mobilenet_v3_small", 2)
    assert v3["expert_backbone"] == count_parameters(small.features) < v2["expert_backbone"]
    assert v3["feature_dim"] == small.num_features == 576 and v2["feature_dim"] == 1280
    assert v3["fusion_lstms"] < v2["fusion_lstms"]  # eight LSTM_emo read 576 instead of 1280 features
    assert 0 < v3["expert_flops"] < v2["expert_flops"] and 0 < v3["elementwise_flops"] < v2["elementwise_flops"]


def test_complexity_table_of_another_backbone_does_not_claim_the_papers_match() -> None:
    table = complexity_table(backbone="mobilenet_v3_small")
    paper_net = complexity_table()
    assert table.loc["parameters, eight experts (M)", "this run"] == pytest.approx(
        8 * count_parameters(BackboneClassifier("mobilenet_v3_small", 2).features) / 1e6, abs=0.005)
    assert (table["this run"] < paper_net["this run"]).all()
    assert table["explanation"].str.contains("mobilenet_v3_small").all()
    assert not table["explanation"].str.contains("exactly the paper").any()
    assert paper_net["explanation"].str.contains("exactly the paper").any()
