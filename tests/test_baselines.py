"""Vision-only Table-5 baselines and the masked conformer: shapes, padding invariance, learning, specs and FLOPs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from moede.models.baselines import BASELINES, DEPARTURES
from moede.models.registry import build_model
from moede.models.baselines.base import FrameBaseline
from moede.models.baselines.conformer import ConformerEncoder
from moede.evaluation.baseline_flops import clip_flops
from moede.models.dfer import collate_clips, dfer_loss
from moede.training.dynamic import train_dfer

D, C = 12, 6  # tiny feature size; the paper's is 1280

TINY = {  # tiny versions of each baseline keep the tests fast
    "T-LSTM": dict(d_model=8, heads=2, layers=1, ffn_dim=16, hidden=6),
    "AuxFormer": dict(d_model=8, heads=2, layers=2, passes=3, mlp_dims=[16, 8]),
    "UAVM": dict(d_model=8, heads=2, specific_layers=1, shared_layers=1, max_frames=16),
    "VAVL": dict(projected_dim=6, d_model=8, specific_layers=1, shared_layers=1, heads=2, kernel_size=5,
                 head_hidden=6),
}
EMBEDDING = {"T-LSTM": 6, "AuxFormer": 8, "UAVM": 8, "VAVL": 8}


def _tiny(name: str, n_classes: int = C, seed: int = 0) -> FrameBaseline:
    torch.manual_seed(seed)
    return BASELINES[name](feature_dim=D, n_classes=n_classes, **TINY[name])


def test_every_baseline_has_a_tiny_configuration_and_a_departure_note() -> None:
    assert set(TINY) == set(BASELINES) == set(DEPARTURES)
    assert all(len(text) > 200 for text in DEPARTURES.values())


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_output_has_logits_per_clip_no_auxiliary_logits_and_the_clip_embedding(name: str) -> None:
    model = _tiny(name).eval()
    x, lengths, _ = collate_clips([(torch.randn(t, 1, D), 0) for t in (4, 7, 2)])
    out = model(x, lengths)
    assert out.logits.shape == (3, C) and out.aux_logits is None
    assert out.emo_last.shape == (3, 1, EMBEDDING[name])
    with pytest.raises(ValueError, match="expects features"):
        model(torch.randn(3, 7, 8, D), lengths)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_a_clip_gives_the_same_output_alone_and_padded_with_garbage_next_to_a_longer_clip(name: str) -> None:
    model = _tiny(name).eval()
    short, long = torch.randn(3, 1, D), torch.randn(9, 1, D)
    x, lengths, _ = collate_clips([(short, 0), (long, 1)])
    garbage = x.clone()
    garbage[0, 3:] = 1e3  # whatever sits in the padding must not matter
    with torch.no_grad():
        alone = model(short.unsqueeze(0), torch.tensor([3]))
        long_alone = model(long.unsqueeze(0), torch.tensor([9]))
        for out in (model(x, lengths), model(garbage, lengths)):
            torch.testing.assert_close(out.logits[0], alone.logits[0], atol=1e-5, rtol=0)
            torch.testing.assert_close(out.emo_last[0], alone.emo_last[0], atol=1e-5, rtol=0)
            torch.testing.assert_close(out.logits[1], long_alone.logits[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_a_few_adam_steps_on_a_tiny_batch_reduce_the_loss(name: str) -> None:
    model = _tiny(name)
    torch.manual_seed(1)
    x, lengths, y = collate_clips([(torch.randn(int(t), 1, D) + (t % 3), int(t) % 3)
                                   for t in torch.randint(2, 8, (8,))])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(dfer_loss(model(x, lengths), y))

    before = eval_loss()
    for _ in range(15):
        model.train()
        loss = dfer_loss(model(x, lengths), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert eval_loss() < 0.7 * before


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_spec_rebuilds_the_same_architecture_through_the_registry(name: str) -> None:
    model = _tiny(name, n_classes=4)
    spec = json.loads(json.dumps(model.spec()))
    assert spec["architecture"] == name and spec["n_classes"] == 4
    rebuilt = build_model(spec)
    assert type(rebuilt) is type(model)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
           {k: v.shape for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model({"architecture": "LSTM-T"})


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_the_dfer_training_loop_trains_each_baseline_unchanged(name: str) -> None:
    rng = np.random.default_rng(0)

    class Source:
        def __init__(self) -> None:
            self.data = {f"c{i}": rng.normal(size=(int(rng.integers(2, 6)), 1, D)).astype(np.float16)
                         for i in range(12)}

        def clip(self, sample_id: str) -> np.ndarray:
            return self.data[sample_id]

    ids = [f"c{i}" for i in range(12)]
    result = train_dfer(_tiny(name, n_classes=3), Source(), ids[:8], [i % 3 for i in range(8)], ids[8:],
                        [i % 3 for i in range(4)], epochs=2, learning_rate=1e-2, batch_size=4)
    assert list(result.history["epoch"]) == [1, 2]
    assert (result.history["train_total_loss"] == result.history["train_loss"]).all(), "no auxiliary losses"


def test_uavm_refuses_clips_longer_than_its_position_table() -> None:
    model = _tiny("UAVM").eval()
    with pytest.raises(ValueError, match="max_frames=16"):
        model(torch.randn(1, 17, 1, D), torch.tensor([17]))


def test_conformer_in_training_mode_keeps_padding_out_of_the_convolution_and_batch_norm() -> None:
    torch.manual_seed(0)
    encoder = ConformerEncoder(dim=8, layers=2, heads=2, kernel_size=5, dropout=0.0).train()
    x = torch.randn(2, 9, 8)
    padded = torch.arange(9)[None, :] >= torch.tensor([[4], [9]])
    garbage = x.clone()
    garbage[0, 4:] = 1e3
    clean = encoder(x, padded)
    batch_norm = encoder.blocks[0].convolution.batch_norm
    stats = batch_norm.running_mean.clone()
    dirty = encoder(garbage, padded)
    torch.testing.assert_close(dirty[~padded], clean[~padded], atol=1e-5, rtol=0)
    # running mean 0 -> 0.1 m -> 0.19 m only if the second batch's mean m (real frames only) equals the first's
    torch.testing.assert_close(batch_norm.running_mean, 1.9 * stats, atol=1e-6, rtol=0)


def test_clip_flops_counts_projection_attention_ffn_lstm_and_head() -> None:
    frames, d, f, h = 10, 8, 16, 6
    model = _tiny("T-LSTM").train()
    attention = 2 * frames * 4 * d * d + 2 * 2 * frames * frames * d  # q, k, v, out projections + QK^T and AV
    expected = (2 * frames * D * d + attention + 2 * frames * 2 * d * f + frames * 2 * 4 * h * (d + h)
                + 2 * h * C)
    assert clip_flops(model, frames) == expected
    assert model.training, "clip_flops restores the training mode"


def test_baseline_tables_name_every_baseline_and_count_moede_as_the_paper_does() -> None:
    from moede.tables.baselines import baseline_complexity, baseline_departures

    departures = baseline_departures()
    assert list(departures.index) == list(BASELINES)
    assert all(len(text) > 200 for text in departures.iloc[:, 0])
    paper, small = baseline_complexity(sizes="paper"), baseline_complexity(sizes="small")
    assert list(paper.index) == ["MoEDE", "Single feature extractor", *BASELINES]
    assert paper.loc["MoEDE", "total parameters (M)"] == pytest.approx(32.76, abs=0.01)  # the paper's 32.76 M
    baselines = list(BASELINES)
    assert (small.loc[baselines, "temporal parameters (M)"] < paper.loc[baselines, "temporal parameters (M)"]).all()
    # every single-extractor row carries one backbone, MoEDE eight
    front = paper["total GFLOPs"] - paper["temporal GFLOPs"]
    assert front["MoEDE"] == pytest.approx(8 * front["VAVL"], rel=1e-3)
