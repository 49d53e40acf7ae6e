"""Training only the last MobileNetV2 blocks on cached activations of the frozen ones, and experts sharing them."""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision

from moede.config import RunConfig
from moede.features.extract import SequentialExperts, shared_prefix_length
from moede.models import ExpertBank, ExpertFusion
from moede.models.backbone import BackboneClassifier
from moede.models.pretrained import MINUS_ONE_TO_ONE
from tiny_models import sharing_blocks
from moede.training.frozen import FromBlock, FusionFromBlock, block_activations
from moede.training.images import FaceImageDataset
from moede.training.static import train_classifier

START = 14


def _experts_sharing_blocks(n: int, start: int) -> list[torch.nn.Module]:
    """n tiny-input MobileNetV2 experts whose blocks before `start` are identical and later blocks differ."""
    torch.manual_seed(0)
    return [expert.eval() for expert in sharing_blocks(BackboneClassifier("mobilenet_v2", 2, "tf_same").eval(), n,
                                                       start)]


def test_from_block_is_the_whole_model_on_cached_activations() -> None:
    model = _experts_sharing_blocks(1, START)[0]
    x = torch.randn(3, 3, 48, 48)
    with torch.no_grad():
        assert torch.allclose(FromBlock(model, START).eval()(model.features[:START](x)), model(x), atol=1e-5)
    assert not any(p.requires_grad for p in model.features[:START].parameters())
    assert all(p.requires_grad for p in model.features[START:].parameters())


def test_training_from_block_changes_only_the_trained_blocks() -> None:
    torch.manual_seed(0)
    model = BackboneClassifier("mobilenet_v2", 3)
    frozen_before = copy.deepcopy(model.features[:START].state_dict())
    images = FaceImageDataset(torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8), [0, 1, 2] * 4,
                              MINUS_ONE_TO_ONE)
    activations = block_activations(model.features[:START], images, batch_size=5)
    assert activations.features.shape[0] == 12 and not activations.features.requires_grad
    trained_before = copy.deepcopy(model.features[-1].state_dict())
    train_classifier(FromBlock(model, START), activations, activations, n_classes=3, epochs=2, batch_size=4)
    after = model.features[:START].state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen_before.items())  # weights and BN statistics kept
    assert not torch.equal(model.features[-1].state_dict()["0.weight"], trained_before["0.weight"])


def test_bank_from_block_matches_the_bank_on_images() -> None:
    experts = _experts_sharing_blocks(3, START)
    bank = ExpertBank(experts).freeze()
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        shared = experts[0].features[:START](x)
        assert torch.allclose(bank.forward_from(shared, START), bank(x), atol=1e-4)
        fusion = ExpertFusion(bank, n_classes=8, fine_tune=True).eval()
        assert torch.allclose(FusionFromBlock(fusion, START)(shared), fusion(x), atol=1e-4)


def test_training_in_turn_equals_training_the_grouped_bank_and_finishes_grouped() -> None:
    experts = _experts_sharing_blocks(3, START)
    shared = experts[0].features[:START](torch.randn(6, 3, 40, 40)).detach()
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    fusions = []
    for in_turn in (False, True):
        torch.manual_seed(1)
        fusion = ExpertFusion(ExpertBank(copy.deepcopy(experts)), n_classes=3, fine_tune=True)
        view = FusionFromBlock(fusion, START, in_turn=in_turn).train()
        assert fusion.bank.mode == ("sequential" if in_turn else "grouped")
        optimizer = torch.optim.SGD([p for p in view.parameters() if p.requires_grad], lr=0.1)
        for _ in range(2):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(view(shared), targets).backward()
            optimizer.step()
        fusions.append(view.finish().eval())
    grouped, in_turn = fusions
    assert in_turn.bank.mode == "grouped" and in_turn.state_dict().keys() == grouped.state_dict().keys()
    for name, value in grouped.state_dict().items():  # grouped and per-expert convolutions sum in other orders; two
        # SGD steps at lr 0.1 turn that into a 1.7e-3 difference on one of 1,728 batch-norm biases on some CPUs
        # (relative norm 7e-4); a wrong path differs by far more than 1%
        gap = torch.linalg.vector_norm(in_turn.state_dict()[name].float() - value.float())
        assert gap <= 5e-3 * torch.linalg.vector_norm(value.float()) + 1e-6, name
    before = ExpertBank(experts)
    assert torch.equal(before.rebuilt(grouped=False).rebuilt().stacked[0][0].weight, before.stacked[0][0].weight)


def test_from_block_trains_channels_last_and_finishes_in_the_default_format() -> None:
    model = _experts_sharing_blocks(1, START)[0]
    view = FromBlock(model, START)
    channels = model.features[START].conv[0][0].weight.shape[1]  # a 1x1 convolution (O, I, 1, 1): its strides
    assert model.features[START].conv[0][0].weight.stride()[2:] == (channels, channels)  # say the memory format
    assert view.finish() is model and model.features[START].conv[0][0].weight.stride()[2:] == (1, 1)


def test_sequential_experts_run_shared_blocks_once() -> None:
    experts = _experts_sharing_blocks(3, START)
    assert shared_prefix_length([e.features for e in experts]) == START
    fast = SequentialExperts([e.features for e in experts]).eval()
    assert len(fast.prefix) == START and all(len(b) == len(experts[0].features) - START for b in fast.blocks)
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        assert torch.allclose(fast(x), ExpertBank(experts).freeze()(x), atol=1e-4)
    distinct = [torchvision.models.mobilenet_v2(weights=None).features for _ in range(2)]
    assert shared_prefix_length(distinct) == 0


def test_config_rejects_augmenting_cached_activations_and_silent_random_full_runs() -> None:
    with pytest.raises(ValueError, match="augment"):
        RunConfig.for_profile("demo", augment=True)
    assert RunConfig.for_profile("demo", augment=True, trainable_from=0).augment
    with pytest.raises(ValueError, match="init must be"):
        RunConfig.for_profile("demo", init="imagnet")
    with pytest.raises(ValueError, match="allow_random_init"):
        RunConfig.for_profile("full", init="random")
    assert RunConfig.for_profile("full", init="random", allow_random_init=True).init == "random"
    assert RunConfig.for_profile("full").init == "imagenet" and RunConfig.for_profile("full").trainable_from == 0


def test_optimiser_and_selection_metric_are_settings() -> None:
    from moede.training.optimizers import make_optimizer

    layer = torch.nn.Linear(2, 2)
    layer.bias.requires_grad_(False)
    nadam = make_optimizer("nadam", layer.parameters(), 1e-3)
    assert isinstance(nadam, torch.optim.NAdam) and len(nadam.param_groups[0]["params"]) == 1  # frozen bias left out
    assert isinstance(make_optimizer("adam", layer.parameters(), 1e-3), torch.optim.Adam)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("sgd", layer.parameters(), 1e-3)
    with pytest.raises(ValueError, match="optimizer"):
        RunConfig.for_profile("demo", optimizer="sgd")
    with pytest.raises(ValueError, match="static_select_by"):
        RunConfig.for_profile("demo", static_select_by="loss")
    full = RunConfig.for_profile("full")
    assert full.optimizer == "adam" and full.static_select_by == "f1_macro" and full.dfer_select_by == "accuracy"


def test_joint_extractor_runs_the_blocks_every_bank_shares_once_and_gives_each_bank_its_own_features() -> None:
    from moede.features.extract import fast_extractor, joint_extractor

    experts = _experts_sharing_blocks(3, START)
    banks = [ExpertBank(experts[:2]).freeze(), ExpertBank(experts[2:]).freeze()]
    joint, counts = joint_extractor(banks)
    assert counts == [2, 1] and len(joint.prefix) == START
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        together = joint(x)
        alone = [fast_extractor(bank)(x) for bank in banks]
    assert torch.equal(together[:, :2], alone[0]) and torch.equal(together[:, 2:], alone[1])
    assert joint_extractor([banks[0], torch.nn.Identity()]) is None
