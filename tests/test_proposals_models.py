"""The paper's proposals as models: LoRA experts (merged and unmerged) and the k-of-8 expert gate."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from moede.evaluation.complexity import executed_flops
from moede.models.backbone import BackboneClassifier
from moede.models.checkpoint import load_checkpoint, save_checkpoint
from moede.models.dfer import MoEDE, dfer_loss
from moede.models.experts import ExpertBank
from moede.models.gating import GatedMoEDE, GatedPipeline, top_k_mask
from moede.models.lora import LoRAConv2d, LoRAExpert, lora_adapters, lora_expert_from_sfer

D, H = 12, 6


def _sfer(seed: int = 0) -> BackboneClassifier:
    torch.manual_seed(seed)
    model = BackboneClassifier("mobilenet_v2", 8).eval()
    with torch.no_grad():  # batch norms with non-trivial statistics, so that a wrong one shows
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


def _pooled(model: BackboneClassifier, x: torch.Tensor) -> torch.Tensor:
    """The pooled features (B, D) the expert bank and the feature caches hold."""
    return model.forward_head(model.forward_features(x), pre_logits=True)


def _trained(expert: LoRAExpert) -> LoRAExpert:
    with torch.no_grad():
        for adapter in lora_adapters(expert):
            adapter.up.normal_(0, 0.05)
    return expert.eval()


@pytest.mark.parametrize("start", [0, 14])
def test_a_lora_expert_with_zero_updates_gives_the_sfers_features(start: int) -> None:
    sfer = _sfer()
    expert = lora_expert_from_sfer(sfer, rank=4, start=start).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(_pooled(expert, x), _pooled(sfer, x), atol=1e-5, rtol=1e-5)
    adapted = lora_adapters(expert)
    assert adapted and all(a.base.kernel_size == (1, 1) for a in adapted)
    assert not any(isinstance(m, LoRAConv2d) for m in expert.features[:start].modules())


def test_merged_and_unmerged_lora_give_the_same_outputs_and_the_bank_runs_them_merged() -> None:
    expert = _trained(lora_expert_from_sfer(_sfer(), rank=2, start=14))
    merged = expert.merged()
    assert not lora_adapters(merged)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(merged(x), expert(x), atol=1e-4, rtol=1e-4)
        assert not torch.allclose(_pooled(expert, x), _pooled(_sfer(), x), atol=1e-3)
        bank = ExpertBank([expert, expert]).freeze()
        torch.testing.assert_close(bank(x)[:, 1], _pooled(expert, x), atol=1e-4, rtol=1e-4)


def test_only_the_adapters_and_the_head_train_and_batch_norms_stay_in_eval() -> None:
    expert = lora_expert_from_sfer(_sfer(), rank=4).train()
    trainable = {name for name, p in expert.named_parameters() if p.requires_grad}
    assert trainable and all(".down" in n or ".up" in n or n.startswith("classifier.") for n in trainable)
    assert all(not m.training for m in expert.modules() if isinstance(m, nn.BatchNorm2d))


def test_a_lora_expert_round_trips_through_a_checkpoint(tmp_path) -> None:
    expert = _trained(lora_expert_from_sfer(_sfer(), rank=3, start=14))
    path = save_checkpoint(expert, tmp_path / "e.pt", config={}, classes=("other", "x"), metrics={}, source=None)
    loaded, meta = load_checkpoint(path)
    assert isinstance(loaded, LoRAExpert) and meta["spec"]["rank"] == 3
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), expert(x))


def _gated(k: int, seed: int = 0) -> GatedMoEDE:
    torch.manual_seed(seed)
    return GatedMoEDE(feature_dim=D, hidden=H, n_classes=6, gate_k=k).eval()


def test_the_gate_with_k8_reproduces_the_ungated_moedes_logits() -> None:
    gated = _gated(8)
    plain = MoEDE(feature_dim=D, hidden=H, n_classes=6).eval()
    state = {k: v for k, v in gated.state_dict().items() if not k.startswith(("gate.", "standardize."))}
    plain.load_state_dict(state, strict=False)
    x, lengths = torch.randn(4, 7, 9, D), torch.tensor([7, 3, 5, 1])
    with torch.no_grad():
        out, reference = gated(x, lengths), plain(x[:, :, :8], lengths)
    assert torch.equal(out.logits, reference.logits) and torch.equal(out.aux_logits, reference.aux_logits)
    assert bool(out.experts_run.all())


@pytest.mark.parametrize("k", [1, 2, 4])
def test_k_lstm_emo_run_per_clip_and_the_rest_are_zero(k: int) -> None:
    model = _gated(k)
    calls: list[int] = []
    for lstm in model.lstm_emo:
        lstm.register_forward_hook(lambda m, args, out: calls.append(int(args[0].batch_sizes[0])))
    x, lengths = torch.randn(1, 5, 9, D), torch.tensor([5])
    with torch.no_grad():
        out = model(x, lengths)
    assert len(calls) == k and int(out.experts_run.sum()) == k
    assert torch.all(out.emo_last[0, ~out.experts_run[0]] == 0)


def test_top_k_mask_picks_the_highest_scores() -> None:
    mask = top_k_mask(torch.tensor([[0.1, 0.9, 0.5, 0.2], [3.0, 1.0, 2.0, 0.0]]), 2)
    assert mask.tolist() == [[False, True, True, False], [True, False, True, False]]
    with pytest.raises(ValueError, match="k must be"):
        top_k_mask(torch.zeros(1, 4), 5)


def test_the_gate_learns_through_the_loss_and_skipped_auxiliary_heads_do_not_count() -> None:
    model = _gated(2).train()
    x, lengths, y = torch.randn(3, 4, 9, D), torch.tensor([4, 4, 2]), torch.tensor([0, 1, 2])
    out = model(x, lengths)
    dfer_loss(out, y).backward()
    assert model.gate.weight.grad is not None and float(model.gate.weight.grad.abs().sum()) > 0
    unused = [i for i in range(8) if not bool(out.experts_run[:, i].any())]
    assert unused and all(model.aux_classifiers[i].weight.grad is None or
                          float(model.aux_classifiers[i].weight.grad.abs().sum()) == 0 for i in unused)


def _pipeline(k: int) -> GatedPipeline:
    torch.manual_seed(1)
    experts = [BackboneClassifier("mobilenet_v2", 2).eval() for _ in range(8)]
    model = GatedMoEDE(feature_dim=1280, hidden=H, n_classes=6, gate_k=k).eval()
    return GatedPipeline(_sfer(), experts, model).eval()


@pytest.mark.parametrize("k", [1, 3, 8])
def test_the_gated_pipeline_executes_k_experts(k: int) -> None:
    pipeline = _pipeline(k)
    calls = []
    for e, expert in enumerate(pipeline.experts):
        expert.features.register_forward_hook(lambda m, args, out, e=e: calls.append(e))
    with torch.no_grad():
        pipeline(torch.randn(2, 3, 32, 32))
    assert len(calls) == k == len(set(calls))


def test_executed_flops_grow_by_one_expert_per_k_and_by_the_same_per_frame() -> None:
    one, two = _pipeline(1), _pipeline(2)
    frames = torch.randn(4, 3, 32, 32)
    f1, f2 = executed_flops(one, frames), executed_flops(two, frames)
    expert = executed_flops(BackboneClassifier("mobilenet_v2", 2).features, frames)
    assert f2 - f1 == pytest.approx(expert + 4 * 4 * 2 * H * (1280 + H), rel=1e-6)  # one backbone + one LSTM_emo
    f_2, f_6 = executed_flops(one, frames[:2]), executed_flops(one, torch.cat([frames, frames[:2]]))
    assert f1 - f_2 == f_6 - f1 > 0  # per frame the same; the gate and the heads once per clip


def test_lora_experts_store_the_sfer_once_plus_their_adapters_and_heads() -> None:
    from moede.tables.proposals import expert_storage

    sfer = _sfer()
    lora = [_trained(lora_expert_from_sfer(sfer, rank=2, start=14)) for _ in range(8)]
    full = [BackboneClassifier("mobilenet_v2", 2) for _ in range(8)]
    for expert in full:
        expert.features.load_state_dict(sfer.features.state_dict())
        with torch.no_grad():
            expert.features[17:].apply(lambda m: m.weight.mul_(1.01) if isinstance(m, nn.Conv2d) else None)
    a, b = expert_storage(lora, sfer, 14), expert_storage(full, sfer, 14)
    assert a["separate (MB)"] == pytest.approx(b["separate (MB)"])  # merged, a LoRA expert is a whole network
    adapters = sum(p.numel() for x in lora_adapters(lora[0]) for p in (x.down, x.up)) + 2 * 1280 + 2
    assert a["trainable per expert"] == adapters
    sfer_mb = sum(t.numel() * t.element_size() for t in sfer.features.state_dict().values()) / 1e6
    assert a["base + own tensors (MB)"] == pytest.approx(sfer_mb + 8 * 4 * adapters / 1e6)
    assert sfer_mb < b["base + own tensors (MB)"] < b["separate (MB)"]


def test_the_verdict_names_the_rank_that_keeps_quality_within_one_point() -> None:
    from moede.tables.proposals import FULL_ROW, seven_x_verdict, size_quality_table

    rows = [{"experts": FULL_ROW, "separate (MB)": 72.0, "base + own tensors (MB)": 72.0, "MoEDE F1-macro": 50.0},
            {"experts": "LoRA rank 2", "separate (MB)": 72.0, "base + own tensors (MB)": 9.5, "MoEDE F1-macro": 49.5},
            {"experts": "LoRA rank 8", "separate (MB)": 72.0, "base + own tensors (MB)": 11.0, "MoEDE F1-macro": 47.0}]
    table = size_quality_table(rows)
    assert "holds: LoRA rank 2" in seven_x_verdict(table)
    table.loc["LoRA rank 2", "MoEDE F1-macro"] = 45.0
    assert "not at less than 1" in seven_x_verdict(table) and "LoRA rank 2" in seven_x_verdict(table)


def test_joined_features_put_the_sfers_features_after_the_experts(tmp_path) -> None:
    import numpy as np
    import pandas as pd

    from moede.features.cache import FeatureCache
    from moede.stages.proposals import JoinedFeatures

    index = pd.DataFrame({"offset": [0], "length": [3]}, index=pd.Index(["a"], name="sample_id"))
    ffe = FeatureCache(tmp_path / "f.json", {}, index, np.ones((3, 8, 4), dtype=np.float16))
    sfe = FeatureCache(tmp_path / "s.json", {}, index, np.full((3, 1, 4), 2, dtype=np.float16))
    joined = JoinedFeatures(ffe, sfe)
    clip = joined.clip("a")
    assert clip.shape == (3, 9, 4) and (clip[:, :8] == 1).all() and (clip[:, 8] == 2).all() and "a" in joined
