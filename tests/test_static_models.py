"""MobileNetV2 construction, the batched expert bank, fusion (FFE/FTFE) and checkpoint round trips."""

from __future__ import annotations

import logging

import pytest
import torch
import torchvision

from moede.models import ExpertBank, ExpertFusion, build_backbone, checkpoint_digest, load_checkpoint, save_checkpoint
from moede.models.backbone import BackboneClassifier
from moede.models.mobilenet import padding_of
from moede.models.pretrained import Initialisation, resolve_initialisation
from moede.sources import DataSource
from tiny_models import one_by_one


def _random_experts(n: int, seed: int = 0) -> list[torch.nn.Module]:
    """n experts with distinct weights and non-trivial batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    experts = []
    for _ in range(n):
        model = BackboneClassifier("mobilenet_v2", 2)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.data.uniform_(0.5, 1.5)
        experts.append(model.eval())
    return experts


def test_build_without_weights_records_random(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        model = build_backbone("mobilenet_v2", 8).module
    assert model.moede_init.startswith("random")
    assert "random initialisation" in caplog.text
    assert model.classifier[-1].out_features == 8


def test_build_with_local_state_dict_loads_it(tmp_path) -> None:
    source = torchvision.models.mobilenet_v2(weights=None)
    path = tmp_path / "imagenet.pth"
    torch.save(source.state_dict(), path)
    model = build_backbone("mobilenet_v2", 8, resolve_initialisation("imagenet", path, None)).module
    assert model.moede_init.startswith("ImageNet (torchvision state dict: imagenet.pth, sha256 ")
    assert padding_of(model) == "symmetric"
    assert torch.equal(model.features[0][0].weight, source.features[0][0].weight)
    assert torch.equal(model.features[-1][1].running_var, source.features[-1][1].running_var)
    assert model.classifier[-1].out_features == 8


def test_build_rejects_wrong_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_backbone("mobilenet_v2", 8, Initialisation("imagenet", tmp_path / "absent.pth")).module
    wrong = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match="mobilenet_v2"):
        build_backbone("mobilenet_v2", 8, resolve_initialisation("imagenet", wrong, None)).module


def test_bank_matches_the_experts_run_one_by_one() -> None:
    experts = _random_experts(3)
    x = torch.randn(2, 3, 64, 64)
    bank = ExpertBank(experts).freeze()
    with torch.no_grad():
        expected = one_by_one(experts, x)
        batched = bank(x)
    assert batched.shape == (2, 3, 1280)
    assert torch.allclose(batched, expected, atol=1e-4)
    assert not torch.allclose(expected[:, 0], expected[:, 1], atol=1e-3)  # the experts really differ


def test_bank_subset_and_single_extractor() -> None:
    experts = _random_experts(3, seed=1)
    x = torch.randn(2, 3, 32, 32)
    bank = ExpertBank(experts).freeze()
    with torch.no_grad():
        full = bank(x)
        sub = bank.subset([2, 0]).freeze()(x)
        single = ExpertBank([experts[1]]).freeze()(x)
    assert torch.allclose(sub, full[:, [2, 0]], atol=1e-5)
    assert single.shape == (2, 1, 1280)
    assert torch.allclose(single[:, 0], full[:, 1], atol=1e-5)


def test_checkpoint_round_trip_identical_outputs(tmp_path) -> None:
    model = _random_experts(1)[0]
    path = save_checkpoint(model, tmp_path / "m.pt", config={"seed": 0}, classes=("other", "happy"),
                           metrics={"accuracy": 50.0}, source=DataSource("test", "demo"))
    loaded, meta = load_checkpoint(path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert meta["classes"] == ["other", "happy"]
    assert meta["metrics"] == {"accuracy": 50.0}
    assert meta["source"]["corpus"] == "test"
    assert meta["code_version"].startswith("0.")
    assert meta["sha256"] == checkpoint_digest(path) and len(meta["sha256"]) == 64


def test_checkpoint_round_trip_fusion(tmp_path) -> None:
    model = ExpertFusion(ExpertBank(_random_experts(2)), n_classes=8, fine_tune=True).eval()
    path = save_checkpoint(model, tmp_path / "f.pt", config={}, classes=list("abcdefgh"), metrics={}, source=None)
    loaded, meta = load_checkpoint(path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert meta["spec"]["fine_tune"] is True and meta["spec"]["n_experts"] == 2


def test_loading_a_checkpoint_draws_no_random_numbers_and_keeps_every_tensor_as_trained(tmp_path) -> None:
    from moede.models.dfer import MoEDE

    for model in (ExpertFusion(ExpertBank(_random_experts(2)), n_classes=8, fine_tune=True).eval(),
                  MoEDE(n_experts=2, feature_dim=6, hidden=4, n_classes=3).eval()):
        path = save_checkpoint(model, tmp_path / "m.pt", config={}, classes="abc", metrics={}, source=None)
        before = torch.random.get_rng_state()
        loaded, _ = load_checkpoint(path)
        assert torch.equal(torch.random.get_rng_state(), before)
        for (name, ours), theirs in zip(model.state_dict().items(), loaded.state_dict().values()):
            assert not theirs.is_meta and theirs.stride() == ours.stride() and torch.equal(theirs, ours), name
        assert [p.requires_grad for p in loaded.parameters()] == [p.requires_grad for p in model.parameters()]


def test_a_model_with_tensors_outside_its_state_dict_keeps_them(tmp_path, monkeypatch) -> None:
    from moede.models import registry

    class WithScratch(torch.nn.Linear):
        """A registered model holding a non-persistent buffer (not saved in checkpoints)."""

        def __init__(self) -> None:
            super().__init__(3, 2)
            self.register_buffer("scratch", torch.ones(2), persistent=False)

        def spec(self) -> dict:
            return {"architecture": "with_scratch"}

        @classmethod
        def from_spec(cls, spec: dict) -> "WithScratch":
            return cls()

    monkeypatch.setitem(registry.MODELS, "with_scratch", WithScratch)
    model = WithScratch()
    loaded, _ = load_checkpoint(save_checkpoint(model, tmp_path / "s.pt", config={}, classes="ab", metrics={},
                                                source=None))
    assert torch.equal(loaded.scratch, torch.ones(2)) and torch.equal(loaded.weight, model.weight)


def test_load_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a moede checkpoint"):
        load_checkpoint(other)


@pytest.mark.parametrize("fine_tune", [False, True])
def test_ffe_keeps_experts_ftfe_changes_them(fine_tune: bool) -> None:
    model = ExpertFusion(ExpertBank(_random_experts(2, seed=2)), n_classes=3, fine_tune=fine_tune)
    before = {k: v.clone() for k, v in model.bank.state_dict().items()}
    head_before = model.head.classifier.weight.clone()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    assert model.bank.training is fine_tune
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 0]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = model.bank.state_dict()
    unchanged = all(torch.equal(before[k], after[k]) for k in before)
    assert unchanged is (not fine_tune)
    assert not torch.equal(head_before, model.head.classifier.weight)


def test_fusion_head_on_precomputed_features_equals_the_whole_model() -> None:
    model = ExpertFusion(ExpertBank(_random_experts(2, seed=3)), n_classes=3).eval()
    images = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model.head(model.bank(images)), model(images))


@pytest.mark.parametrize("relu", [False, True])
def test_fusion_head_non_linearity_is_a_setting_kept_by_checkpoints(relu: bool, tmp_path) -> None:
    from moede.models.fusion import FusionHead

    torch.manual_seed(0)
    head = FusionHead(n_experts=2, n_classes=3, hidden=4, relu=relu)
    a, b = torch.randn(5, 2, 1280), torch.randn(5, 2, 1280)
    with torch.no_grad():
        additive = torch.allclose(head(a) + head(b) - head(torch.zeros_like(a)), head(a + b), atol=1e-4)
    assert additive == (not relu)  # without the ReLU the fusion is one affine map, as the paper's text reads
    fusion = ExpertFusion(ExpertBank(_random_experts(2)), n_classes=3, relu=relu)
    path = save_checkpoint(fusion, tmp_path / "fusion.pt", config={}, classes="abc", metrics={}, source=None)
    assert load_checkpoint(path)[0].head.relu == relu


def test_a_seeded_backbone_draws_its_weights_in_the_order_of_the_published_runs() -> None:
    """Same seed, same random weights as torchvision's network with its stride-2 padding replaced first and the
    head second (the order the book's numbers were made with): reordering changes every result of the book."""
    from moede.models.mobilenet import replace_head, use_padding

    torch.manual_seed(0)
    reference = replace_head(use_padding(torchvision.models.mobilenet_v2(weights=None), "tf_same"), 2)
    torch.manual_seed(0)
    ours = BackboneClassifier("mobilenet_v2", 2, "tf_same")
    for name, tensor in reference.state_dict().items():
        assert torch.equal(ours.state_dict()[name], tensor), name


def test_a_reused_model_is_read_from_its_checkpoint_only_when_asked_for(tmp_path) -> None:
    from moede.training.reuse import Job, Trained, train_or_reuse_all

    calls = []

    def train() -> Trained:
        calls.append(1)
        return Trained(_random_experts(1)[0], {"accuracy": 1.0}, {"test": [1, 2]})

    job = Job(tmp_path / "m.pt", {"epochs": 1}, train, config={}, classes=("other", "happy"), source=None)
    (first,) = train_or_reuse_all([job])
    (again,) = train_or_reuse_all([job])
    assert calls == [1] and again.reused and again.extra == {"test": [1, 2]}
    assert isinstance(again.stored, type(job.path)), "weights not read before the model is asked for"
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(again.model(x), first.model.eval()(x))
    (changed,) = train_or_reuse_all([Job(job.path, {"epochs": 2}, train, {}, ("other", "happy"), None)])
    assert calls == [1, 1] and not changed.reused
