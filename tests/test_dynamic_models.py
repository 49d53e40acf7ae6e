"""MoEDE / SFE models: padding invariance, auxiliary gradients, leave-one-expert-out, training and the t-test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from moede.evaluation.stats import f1_macro_present, matched_pair_test, paired_t_test, split_test_set
from moede.models.dfer import MoEDE, SingleExtractorLSTM, collate_clips, dfer_loss
from moede.models.registry import build_model
from moede.training.dynamic import train_dfer

D, H = 12, 6  # tiny feature and hidden sizes keep the tests fast; the paper's are 1280 and 256


def _moede(**kwargs) -> MoEDE:
    torch.manual_seed(0)
    return MoEDE(feature_dim=D, hidden=H, n_classes=6, **kwargs).eval()


@pytest.mark.parametrize("make", [lambda: _moede(), lambda: _moede(auxiliary=False),
                                  lambda: SingleExtractorLSTM(feature_dim=D, hidden=H, n_classes=6).eval()])
def test_a_clip_gives_the_same_output_alone_and_padded_next_to_a_longer_clip(make) -> None:
    model = make()
    n_experts = 8 if isinstance(model, MoEDE) else 1
    short, long = torch.randn(3, n_experts, D), torch.randn(9, n_experts, D)
    x, lengths, _ = collate_clips([(short, 0), (long, 1)])
    assert x.shape == (2, 9, n_experts, D) and lengths.tolist() == [3, 9]
    assert torch.all(x[0, 3:] == 0), "post-padding must be zeros"
    with torch.no_grad():
        alone = model(short.unsqueeze(0), torch.tensor([3]))
        batched = model(x, lengths)
        x_garbage = x.clone()
        x_garbage[0, 3:] = 1e3  # whatever sits in the padding must not matter
        garbage = model(x_garbage, lengths)
    for out in (batched, garbage):
        torch.testing.assert_close(out.logits[0], alone.logits[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(out.emo_last[0], alone.emo_last[0], atol=1e-5, rtol=0)
        if alone.aux_logits is not None:
            torch.testing.assert_close(out.aux_logits[0], alone.aux_logits[0], atol=1e-5, rtol=0)


def _emo_grads(model: MoEDE, aux_weight: float) -> list[float]:
    model.zero_grad()
    torch.manual_seed(1)
    x, lengths, y = collate_clips([(torch.randn(t, 8, D), t % 6) for t in (4, 6, 5)])
    dfer_loss(model(x, lengths), y, aux_weight).backward()
    return [float(sum(p.grad.abs().sum() for p in lstm.parameters())) for lstm in model.lstm_emo]


def test_auxiliary_losses_reach_every_lstm_emo_even_one_the_mixer_ignores() -> None:
    model = _moede().train()
    with torch.no_grad():  # make LSTM_mix blind to expert 3: no gradient can reach LSTM_emo 3 through it
        model.lstm_mix.weight_ih_l0[:, 3 * H:4 * H] = 0
    without = _emo_grads(model, aux_weight=0.0)
    with_aux = _emo_grads(model, aux_weight=1.0)
    assert without[3] == 0.0, "without auxiliary losses the ignored expert's LSTM gets no gradient"
    assert all(g > 0 for g in with_aux), f"auxiliary losses must reach all eight LSTM_emo, got {with_aux}"
    assert sum(p.grad.abs().sum() for p in model.aux_classifiers.parameters()) > 0


def test_without_auxiliary_the_loss_is_the_main_cross_entropy() -> None:
    model = _moede(auxiliary=False)
    x, lengths, y = collate_clips([(torch.randn(4, 8, D), 2), (torch.randn(2, 8, D), 5)])
    out = model(x, lengths)
    assert out.aux_logits is None and model.aux_classifiers is None
    torch.testing.assert_close(dfer_loss(out, y), torch.nn.functional.cross_entropy(out.logits, y))


def test_auxiliary_loss_is_the_plain_sum_of_the_eight_cross_entropies() -> None:
    model = _moede()
    x, lengths, y = collate_clips([(torch.randn(4, 8, D), 2), (torch.randn(2, 8, D), 5)])
    out = model(x, lengths)
    expected = torch.nn.functional.cross_entropy(out.logits, y) + sum(
        torch.nn.functional.cross_entropy(out.aux_logits[:, k], y) for k in range(8))
    torch.testing.assert_close(dfer_loss(out, y, aux_weight=1.0), expected)


def test_leave_one_expert_out_model_has_seven_lstm_emo_and_ignores_the_left_out_features() -> None:
    model = _moede(experts_kept=[0, 1, 2, 4, 5, 6, 7])
    assert len(model.lstm_emo) == 7 and len(model.aux_classifiers) == 7
    assert model.lstm_mix.input_size == 7 * H
    x = torch.randn(2, 5, 8, D)
    lengths = torch.tensor([5, 3])
    changed = x.clone()
    changed[:, :, 3] = torch.randn(2, 5, D)
    with torch.no_grad():
        torch.testing.assert_close(model(x, lengths).logits, model(changed, lengths).logits)
        assert model(x, lengths).emo_last.shape == (2, 7, H)
    rebuilt = build_model(model.spec())
    assert rebuilt.experts_kept == (0, 1, 2, 4, 5, 6, 7)
    with pytest.raises(ValueError, match="experts_kept"):
        MoEDE(feature_dim=D, hidden=H, experts_kept=[0, 8])


def test_training_keeps_the_best_dev_epoch_and_learns_a_separable_problem() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    class Source:  # class c has its features shifted by +3 on dimension c of every expert
        def __init__(self) -> None:
            self.data = {}

        def clip(self, sample_id: str) -> np.ndarray:
            return self.data[sample_id]

    source, ids, ys = Source(), [], []
    for i in range(36):
        y = i % 3
        feats = rng.normal(size=(int(rng.integers(2, 6)), 8, D)).astype(np.float16)
        feats[:, :, y] += 3
        source.data[f"c{i}"] = feats
        ids.append(f"c{i}")
        ys.append(y)
    model = MoEDE(feature_dim=D, hidden=H, n_classes=3)
    result = train_dfer(model, source, ids[:24], ys[:24], ids[24:], ys[24:], epochs=6, learning_rate=1e-2, batch_size=8)
    history = result.history
    assert list(history["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert result.best_dev_score == history["dev_accuracy"].max()
    assert result.best_epoch == int(history.loc[history["dev_accuracy"].idxmax(), "epoch"])
    assert result.best_dev_score > 60, history
    assert (history["train_total_loss"] > history["train_loss"]).all(), "objective includes the auxiliary losses"


def test_one_tailed_paired_t_test_agrees_with_scipy_and_points_the_right_way() -> None:
    rng = np.random.default_rng(0)
    b = rng.normal(70, 3, size=25)
    a = b + rng.normal(1.0, 1.0, size=25)
    better = paired_t_test(a, b)
    reference = stats.ttest_rel(a, b)
    assert better.t == pytest.approx(reference.statistic)
    assert better.p == pytest.approx(reference.pvalue / 2)  # one tail of a two-sided test with t > 0
    assert better.significant and better.p < 0.05
    worse = paired_t_test(b, a)
    assert worse.p == pytest.approx(1 - reference.pvalue / 2) and not worse.significant
    with pytest.raises(ValueError):
        paired_t_test([1.0, 2.0], [1.0])


def test_matched_pair_test_uses_five_disjoint_subsets_per_partition() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 6, size=120)
    subsets = split_test_set(y, 5, seed=0)
    assert sorted(np.concatenate(subsets).tolist()) == list(range(120))
    partitions = []
    for _ in range(5):
        y = rng.integers(0, 6, size=90)
        good = np.where(rng.random(90) < 0.8, y, (y + 1) % 6)
        poor = np.where(rng.random(90) < 0.5, y, (y + 1) % 6)
        partitions.append((y, good, poor))
    result = matched_pair_test(partitions)
    assert result.n == 25 and result.significant and result.mean_a > result.mean_b
    assert not matched_pair_test([(y, b, a) for y, a, b in partitions]).significant


def test_subset_f1_macro_is_scikit_learns_to_the_last_bit() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(2)
    for _ in range(500):
        n = int(rng.integers(1, 25))
        y, pred = rng.integers(0, 6, n), rng.integers(0, 6, n)
        expected = 100 * f1_score(y, pred, labels=np.unique(y), average="macro", zero_division=0)
        assert f1_macro_present(y, pred) == expected


def test_standardizer_equals_feeding_standardized_features_and_keeps_padding_invariance() -> None:
    torch.manual_seed(0)
    model = MoEDE(n_experts=2, feature_dim=6, hidden=4, n_classes=3).eval()
    x = torch.rand(2, 5, 2, 6) * 4
    lengths = torch.tensor([5, 3])
    x[1, 3:] = 0.0
    mean, std = x[0].mean(0), x[0].std(0)
    plain = model(((x - mean) / std), lengths).logits
    model.standardize.fit(mean, std)
    assert torch.allclose(model(x, lengths).logits, plain, atol=1e-6)
    alone = model(x[1:, :3], lengths[1:]).logits
    assert torch.allclose(alone, model(x, lengths).logits[1:], atol=1e-6)
    restored = MoEDE(n_experts=2, feature_dim=6, hidden=4, n_classes=3).eval()
    restored.load_state_dict(model.state_dict())
    assert torch.equal(restored.standardize.std, model.standardize.std)


def test_feature_statistics_pool_every_frame_of_the_clips() -> None:
    from moede.training.dynamic import feature_statistics

    clips = {"a": np.arange(12, dtype=np.float16).reshape(3, 1, 4), "b": np.ones((1, 1, 4), dtype=np.float16)}

    class Source:
        def clip(self, sample_id: str) -> np.ndarray:
            return clips[sample_id]

    mean, std = feature_statistics(Source(), ["a", "b"])
    frames = np.concatenate([clips["a"], clips["b"]]).astype(np.float64)
    assert np.allclose(mean.numpy(), frames.mean(0)) and np.allclose(std.numpy(), frames.std(0))


def test_auxiliary_mean_weighs_the_eight_together_like_the_main_task() -> None:
    model = _moede()
    x, lengths, y = collate_clips([(torch.randn(4, 8, D), 2), (torch.randn(2, 8, D), 5)])
    out = model(x, lengths)
    main = torch.nn.functional.cross_entropy(out.logits, y)
    aux = [torch.nn.functional.cross_entropy(out.aux_logits[:, k], y) for k in range(8)]
    torch.testing.assert_close(dfer_loss(out, y, 1.0, "mean"), main + sum(aux) / 8)
    torch.testing.assert_close(dfer_loss(out, y, 0.5, "sum"), main + 0.5 * sum(aux))
    with pytest.raises(ValueError, match="aux_reduction"):
        dfer_loss(out, y, 1.0, "max")


def test_after_padding_readout_reads_past_zero_frames_whatever_the_batch() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 8, D)
    lengths = torch.tensor([5, 2])
    x[1, 2:] = 0.0
    last_valid = _moede()
    after = _moede(padded_length=7)
    after.load_state_dict(last_valid.state_dict())
    with torch.no_grad():
        padded = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, 2))
        expected = last_valid(padded, torch.tensor([7, 7])).logits
        np.testing.assert_allclose(after(x, lengths).logits.numpy(), expected.numpy(), atol=1e-6)
        # the short clip alone (no batch padding) gets the same output: the padding is the model's, not the batch's
        np.testing.assert_allclose(after(x[1:, :2], lengths[1:]).logits.numpy(), expected[1:].numpy(), atol=1e-6)
        assert not torch.allclose(last_valid(x, lengths).logits[1], expected[1])
    with pytest.raises(ValueError, match="longer than the padded length 7"):
        after(torch.randn(1, 8, 8, D), torch.tensor([8]))


@pytest.mark.parametrize("select_by, kept", [("accuracy", 1), ("f1_macro", 2)])
def test_dfer_keeps_the_epoch_best_by_the_chosen_development_metric(monkeypatch, select_by: str, kept: int) -> None:
    from moede.training import dynamic

    scripted = iter([{"accuracy": 50.0, "f1_macro": 20.0}, {"accuracy": 40.0, "f1_macro": 35.0},
                     {"accuracy": 30.0, "f1_macro": 30.0}])  # epoch 1 wins on accuracy, epoch 2 on F1-macro
    monkeypatch.setattr(dynamic, "summary", lambda *args: next(scripted))

    class Source:
        def clip(self, sample_id: str) -> np.ndarray:
            return np.full((3, 1, D), float(sample_id), dtype=np.float16)

    torch.manual_seed(0)
    result = train_dfer(SingleExtractorLSTM(feature_dim=D, hidden=H, n_classes=2), Source(), ["0", "1"], [0, 1],
                        ["0", "1"], [0, 1], epochs=3, batch_size=2, select_by=select_by)
    assert result.best_epoch == kept and result.best_dev_score == result.history.loc[kept - 1, f"dev_{select_by}"]
    with pytest.raises(ValueError, match="select_by"):
        train_dfer(SingleExtractorLSTM(feature_dim=D, hidden=H), Source(), ["0"], [0], ["0"], [0], epochs=1,
                   select_by="loss")


def test_sfe_layers_stack_lstms_and_one_layer_keeps_the_spec_of_earlier_checkpoints() -> None:
    one, two = (SingleExtractorLSTM(feature_dim=D, hidden=H, layers=n) for n in (1, 2))
    assert "layers" not in one.spec(), "checkpoints made before sfe_layers existed keep their key"
    assert two.spec()["layers"] == 2 and two.lstm.num_layers == 2
    rebuilt = build_model(two.spec())
    rebuilt.load_state_dict(two.state_dict())
    x = torch.randn(2, 4, 1, D)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(x, torch.tensor([4, 2])).logits,
                                   two.eval()(x, torch.tensor([4, 2])).logits)
    assert sum(p.numel() for p in two.parameters()) > sum(p.numel() for p in one.parameters())
    with pytest.raises(ValueError, match="at least one LSTM layer"):
        SingleExtractorLSTM(layers=0)
