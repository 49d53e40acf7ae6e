"""Tables 5-8 in the paper's labels, complexity counts, and the DFER stage's train-or-reuse on a tiny cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from moede.book.display import source_text
from moede.config import RunConfig
from moede.data.emotions import CANONICAL, CREMAD, SHORT_NAMES
from moede.evaluation.complexity import count_flops, count_parameters, expert_network, lstm_flops
from moede.features import build_or_load
from moede.models.dfer import MoEDE, SingleExtractorLSTM, collate_clips
from moede.models.backbone import BackboneClassifier
from moede.models.checkpoint import load_checkpoint
from moede.tables.dynamic_tables import (DIFFERENCE, INTERVALS, complexity_table, pooled_table, power_table, table5,
                                         table6, table7, table8)
from moede.tables.paper import paper_complexity, paper_table, paper_vs_run
from moede.models.baselines import BASELINES, SMALL_SIZES, TLSTM
from moede.models.run_layout import MOEDE_ID, dfer_model_path
from moede.stages.dynamic import (DFERFeatures, VideoModel, compute_significance, moede_versus_baselines, run_models,
                                  run_seed_spread, versus_baselines_frame)
from moede.evaluation.predictions import Predictions
from moede.training.outcomes import DFERResults

D, H = 10, 4


def _predictions(rng: np.random.Generator, n_classes: int, quality: float, n: int = 60,
                 n_experts: int = 8) -> Predictions:
    y = rng.integers(0, n_classes, size=n)
    pred = np.where(rng.random(n) < quality, y, rng.integers(0, n_classes, size=n))
    logits = np.eye(n_classes)[pred].astype(np.float32)
    aux = np.stack([np.eye(n_classes)[rng.integers(0, n_classes, size=n)] for _ in range(n_experts)], axis=1)
    return Predictions([f"c{i}" for i in range(n)], y, logits, aux.astype(np.float32),
                       rng.normal(size=(n, n_experts, 16)).astype(np.float32))


def test_tables_use_the_papers_labels_and_line_up_with_it() -> None:
    rng = np.random.default_rng(0)
    results = {"MoEDE with auxiliary (FFE)": [_predictions(rng, 6, 0.9) for _ in range(3)],
               "Single feature extractor": [_predictions(rng, 6, 0.5) for _ in range(3)]}
    ours = table5(results)
    paper = paper_table("table5")
    assert list(ours.columns) == [*paper.columns, *INTERVALS.values(), f"{DIFFERENCE} vs SFE"]
    assert set(ours.index) <= set(paper.index) and len(ours) == 2 + 8
    assert (ours[["Neutral", "Happiness", "Sadness", "Anger", "Fear", "Disgust"]].mean(axis=1)
            - ours["F1-macro"]).abs().max() < 0.02, "per-emotion columns are per-class F1"
    joined = paper_vs_run(ours, "table5")
    assert joined.loc["MoEDE with auxiliary (FFE)", ("F1-macro", "this run")] == ours.iloc[0]["F1-macro"]

    ablation = {SHORT_NAMES[e]: results["Single feature extractor"] for e in CANONICAL}
    ablation["None (MoEDE)"] = results["MoEDE with auxiliary (FFE)"]
    t7 = table7(ablation)
    assert list(t7.index) == list(paper_table("table7").index)
    assert list(t7.columns) == list(paper_table("table7").columns)
    t8 = table8({"SFE": [_predictions(rng, 4, 0.5, n_experts=1)], "MoEDE": [_predictions(rng, 4, 0.7)]})
    assert list(t8.columns)[:7] == list(paper_table("table8").columns) and list(t8.index) == ["SFE", "MoEDE"]
    assert pd.isna(t8.loc["SFE", f"{DIFFERENCE} vs SFE"]) and t8.loc["MoEDE", INTERVALS["Accuracy"]].startswith("[")
    t6 = table6(results)
    assert list(t6.index) == list(paper_table("table6").index) and np.allclose(np.diag(t6), 1)
    assert np.allclose(t6.to_numpy(), t6.to_numpy().T)


def test_mobilenet_expert_parameter_count_matches_torchvision() -> None:
    reference = torchvision.models.mobilenet_v2(weights=None, num_classes=2)
    assert count_parameters(expert_network()) == count_parameters(reference)
    assert count_parameters(expert_network()) == count_parameters(BackboneClassifier("mobilenet_v2", 2))
    assert count_parameters(expert_network("meta").features) == count_parameters(reference.features)


def test_fusion_parameter_count_is_the_lstms_plus_heads() -> None:
    lstm = lambda i, h: 4 * h * (i + h) + 2 * 4 * h  # noqa: E731  (PyTorch: b_ih and b_hh)
    expected = 8 * lstm(1280, 256) + lstm(2048, 256) + 9 * (256 * 6 + 6)
    assert count_parameters(MoEDE(n_classes=6)) == expected
    assert count_parameters(SingleExtractorLSTM(n_classes=6)) == lstm(1280, 256) + 256 * 6 + 6


def test_flop_counter_misses_lstm_so_it_is_counted_on_cells() -> None:
    lstm = nn.LSTM(D, H, batch_first=True)
    with FlopCounterMode(display=False) as counter:
        lstm(torch.randn(1, 7, D))
    assert counter.get_total_flops() == 0, "if this fails, FlopCounterMode learned to count nn.LSTM"
    assert lstm_flops(lstm, 7) == 7 * 2 * 4 * H * (D + H)
    conv = nn.Conv2d(3, 4, 3)
    assert count_flops(conv, torch.empty(2, 3, 6, 6, device="meta")) == 2 * 2 * 4 * 3 * 9 * 16


def test_complexity_table_sits_beside_the_papers_numbers_with_explanations() -> None:
    table = complexity_table()
    assert list(table.index) == list(paper_complexity().index)
    assert table["explanation"].str.len().min() > 50
    assert table.loc["parameters, eight experts (M)", "this run"] == pytest.approx(17.79, abs=0.005)
    assert table.loc["parameters, total (M)", "this run"] == pytest.approx(32.77, abs=0.01)
    assert "no data" in source_text(table)


def test_stage_trains_each_partition_once_then_reuses_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    speakers = [f"s{i}" for i in range(6)]
    clips = pd.DataFrame({"sample_id": [f"c{i:02d}" for i in range(36)],
                          "path": [str(tmp_path / f"c{i:02d}.flv") for i in range(36)],
                          "label": [CREMAD[i % 6] for i in range(36)],
                          "speaker": [speakers[i % 6] for i in range(36)]})
    split_of = dict(zip(speakers, ["train", "train", "train", "train", "dev", "test"]))
    partitions = [clips.assign(split=clips["speaker"].map(split_of))]
    frames = {sid: rng.integers(0, 256, (int(rng.integers(2, 5)), 6, 6, 3), dtype=np.uint8)
              for sid in clips["sample_id"]}

    class Bank(nn.Module):
        def __init__(self, n: int) -> None:
            super().__init__()
            self.n, self.conv = n, nn.Conv2d(3, n * D, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x).mean(dim=(2, 3)).view(len(x), self.n, D)

    caches = {name: build_or_load(clips, Bank(n), {"bank": name}, tmp_path / "features" / f"cremad_{name}.json",
                                  lambda row: frames[row["sample_id"]], log=lambda m: None)
              for name, n in (("ffe", 8), ("sfe", 1))}
    features = DFERFeatures("cremad", CREMAD, clips, partitions, caches, None)
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", dfer_epochs=2, clip_batch_size=8)
    models = {"MoEDE with auxiliary (FFE)": VideoModel(MOEDE_ID, "ffe", lambda s: MoEDE(
                  feature_dim=s.feature_dim, hidden=H, n_classes=s.n_classes)),
              "Single feature extractor": VideoModel("sfe", "sfe", lambda s: SingleExtractorLSTM(
                  feature_dim=s.feature_dim, hidden=H, n_classes=s.n_classes)),
              "T-LSTM": VideoModel("t-lstm", "sfe", lambda s: TLSTM(
                  feature_dim=s.feature_dim, d_model=4, heads=2, layers=1, ffn_dim=8, hidden=H, n_classes=s.n_classes))}
    first = run_models(cfg, features, models)
    again = run_models(cfg, features, models)
    assert first.reused == {name: [False] for name in models} and again.reused == {name: [True] for name in models}
    for name in models:
        np.testing.assert_array_equal(first.predictions[name][0].logits, again.predictions[name][0].logits)
        test_ids = first.predictions[name][0].sample_ids
        assert set(clips.set_index("sample_id").loc[test_ids, "speaker"]) == {"s5"}
    model, _ = load_checkpoint(dfer_model_path(cfg.run_dir, "cremad", MOEDE_ID, 1))
    renamed = run_models(cfg, features, {f"{label}, renamed": model for label, model in models.items()})
    assert all(renamed.reused[f"{label}, renamed"] == [True] for label in models), "a row's label is not its key"
    test = first.predictions["MoEDE with auxiliary (FFE)"][0]
    x, lengths, _ = collate_clips([(torch.from_numpy(caches["ffe"].clip(i).astype(np.float32)), 0)
                                   for i in test.sample_ids])
    with torch.no_grad():
        np.testing.assert_allclose(model(x, lengths).logits.numpy(), test.logits, atol=1e-5)
    tests = compute_significance(first)
    assert "Auxiliary Contempt" in tests and tests["MoEDE with auxiliary (FFE)"].n == 5
    assert tests["T-LSTM"].n == 5, "each published baseline is tested against the SFE, as the paper's VAVL star"
    first.significance = tests
    versus = moede_versus_baselines(first, "MoEDE with auxiliary (FFE)")
    assert list(versus) == ["T-LSTM"] and versus["T-LSTM"].n == 5
    first.versus_baselines = versus
    frame = versus_baselines_frame(first)
    assert list(frame.index) == ["T-LSTM"] and frame.loc["T-LSTM", "pairs"] == 5
    table = table5(first)
    assert "significant" in table.columns and "T-LSTM" in table.index
    assert table.loc["T-LSTM", "p (vs SFE)"] == pytest.approx(tests["T-LSTM"].p, nan_ok=True)  # nan: equal scores
    spread = run_seed_spread(cfg.with_(seed_spread=2), features, first)
    assert list(spread.index) == ["seed 0 (Table 5's models)", "seed 1", "mean over seeds", "sd over seeds",
                                  "max - min"]
    assert dfer_model_path(cfg.run_dir, "cremad", f"{MOEDE_ID}_seed_1", 1).is_file()
    assert run_models(cfg, features, models).reused == {name: [True] for name in models}, "Table 5's kept"


@pytest.mark.shared_data
def test_real_cremad_partitions_keep_every_actor_in_one_set(shared_data: Path) -> None:
    from moede.data.cremad import cremad_partitions, find_partitions_dir, read_cremad

    root = shared_data / "crema-d"
    clips = read_cremad(root)
    partitions = cremad_partitions(clips, find_partitions_dir(root), n=5)
    assert len(partitions) == 5
    for part in partitions:
        sets = {s: set(part.loc[part["split"] == s, "speaker"]) for s in ("train", "dev", "test")}
        assert all(sets.values()), "every partition has train, dev and test actors"
        assert not (sets["train"] & sets["dev"]) and not (sets["train"] & sets["test"])
        assert not (sets["dev"] & sets["test"])
        assert set(part["label"]) == set(CREMAD)
    tests = [set(p.loc[p["split"] == "test", "speaker"]) for p in partitions]
    assert len(set.union(*tests)) > len(tests[0]), "the five partitions test different actors"


def test_factories_follow_the_settings() -> None:
    from moede.stages.dynamic import ClipShape, table5_models

    shape = ClipShape(n_classes=4, feature_dim=12, longest_clip=37)
    models = table5_models(RunConfig.for_profile("demo", readout="after_padding"))
    assert [n for n in models if n in BASELINES] == list(BASELINES)
    assert len({model.id for model in models.values()}) == len(models), "every row has its own checkpoints"
    assert models["MoEDE with auxiliary (FFE)"].factory(shape).spec()["padded_length"] == 37
    assert models["Single feature extractor"].factory(shape).spec()["padded_length"] == 37
    uavm = models["UAVM"].factory(shape).spec()
    assert uavm["max_frames"] == 37 and uavm["d_model"] == SMALL_SIZES["UAVM"]["d_model"]
    paper = table5_models(RunConfig.for_profile("full"))
    assert paper["MoEDE with auxiliary (FFE)"].factory(shape).spec()["padded_length"] is None
    assert paper["VAVL"].factory(shape).spec()["d_model"] == 512
    assert not set(BASELINES) & set(table5_models(RunConfig.for_profile("demo", baselines="none")))


def test_open_choice_variants_flip_one_setting_each_and_the_table_measures_against_the_first() -> None:
    from moede.tables.dynamic_tables import open_choices_table
    from moede.stages.dynamic import open_choice_variants

    cfg = RunConfig.for_profile("demo")
    variants = open_choice_variants(cfg)
    assert [(v.readout, v.aux_loss) for _, v, _ in variants] == [("last_valid", "sum"), ("after_padding", "sum"),
                                                                 ("last_valid", "mean")]
    assert len({row for row, _, _ in variants}) == 3 and len({model_id for _, _, model_id in variants}) == 3
    assert variants[0][2] == MOEDE_ID, "the first row is Table 5's MoEDE, reused"
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 40)
    good = Predictions([f"c{i}" for i in range(40)], y, np.eye(6)[y], None, np.zeros((40, 1, 2)))
    noisy = Predictions(good.sample_ids, y, np.eye(6)[rng.integers(0, 6, 40)], None, good.emo_last)
    table = open_choices_table({"ours": [good], "flipped": [noisy]})
    assert table.loc["ours", "F1-macro"] == 100 and table.loc["ours", "F1-macro change"] == 0
    change = table.loc["flipped", "F1-macro change"]
    assert change < 0 and change == pytest.approx(table.loc["flipped", "F1-macro"] - 100)


def _actor_results(rng: np.random.Generator) -> DFERResults:
    """MoEDE and SFE on two partitions of 30 clips each, three clips per actor (20 actors)."""
    predictions = {}
    for row, quality in (("MoEDE with auxiliary (FFE)", 0.8), ("Single feature extractor", 0.5)):
        parts = [_predictions(rng, 6, quality, n=30) for _ in range(2)]
        for k, p in enumerate(parts):
            p.sample_ids = [f"p{k}_{i}" for i in range(30)]
        predictions[row] = parts
    units = {f"p{k}_{i}": f"actor{10 * k + i // 3}" for k in range(2) for i in range(30)}
    return DFERResults("cremad", CREMAD, predictions, {}, units=units)


def test_tables_carry_actor_bootstrap_intervals_and_paired_differences() -> None:
    results = _actor_results(np.random.default_rng(2))
    ours = table5(results)
    assert ours.attrs["interval"].startswith("95% intervals: percentile bootstrap over the 20 actors")
    assert "2,000 resamples, seed 0" in ours.attrs["interval"]
    for row in ("MoEDE with auxiliary (FFE)", "Single feature extractor"):
        low, high = map(float, ours.loc[row, INTERVALS["F1-macro"]].strip("[]").split(", "))
        assert low < ours.loc[row, "F1-macro"] < high
    difference = ours.loc["MoEDE with auxiliary (FFE)", f"{DIFFERENCE} vs SFE"]
    gap = ours.loc["MoEDE with auxiliary (FFE)", "F1-macro"] - ours.loc["Single feature extractor", "F1-macro"]
    assert float(difference.split(" [")[0]) == pytest.approx(gap, abs=0.06)
    pooled = pooled_table(results, {})
    assert pooled.loc["MoEDE with auxiliary (FFE)", INTERVALS["Accuracy"]].startswith("[")
    assert pd.isna(pooled.loc["Chance", INTERVALS["Accuracy"]])


def test_power_table_needs_more_clips_than_here_for_the_papers_gap() -> None:
    results = _actor_results(np.random.default_rng(4))
    power = power_table(results)
    row = power.loc["MoEDE with auxiliary (FFE) vs Single feature extractor"]
    assert row["paper's gap (F1-macro)"] == pytest.approx(3.6)
    assert (row["clips here"], row["actors here"]) == (60, 20)
    assert row["clips needed"] == pytest.approx(row["clips needed if independent"] * row["design effect"], rel=1e-2)
    assert row["clips needed"] > row["clips here"] and "80% power" in power.attrs["caption"]
