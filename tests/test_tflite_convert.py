"""The shipped ImageNet TFLite MobileNetV2 -> torchvision conversion: shapes, batch-norm un-folding, TF padding, the
cache, and agreement with the LiteRT interpreter running the original file."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

import moede.models.tflite_convert as convert
from moede.models.backbone import BackboneClassifier, build_backbone
from moede.models.mobilenet import SamePadConv2d, padding_of, use_padding
from moede.models.pretrained import (MINUS_ONE_TO_ONE, SHIPPED_TFLITE, Initialisation, calibration_images,
                                     resolve_initialisation)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    """The shipped file converted once for this module (the package's own calibration crops)."""
    init = resolve_initialisation("imagenet", None, tmp_path_factory.mktemp("cache"))
    return init.state_dict()


def _imagenet_model(state: dict[str, torch.Tensor]) -> nn.Module:
    model = torchvision.models.mobilenet_v2(weights=None)
    model.load_state_dict(state)
    return use_padding(model, "tf_same").eval()


def test_converter_output_loads_into_torchvision_without_mismatch(converted: dict[str, torch.Tensor]) -> None:
    expected = torchvision.models.mobilenet_v2(weights=None).state_dict()
    assert set(converted) == set(expected)
    assert all(converted[k].shape == expected[k].shape for k in expected)
    assert converted["classifier.1.weight"].shape == (1000, 1280)  # background row dropped
    model = torchvision.models.mobilenet_v2(weights=None)
    model.load_state_dict(converted, strict=True)
    assert all(torch.isfinite(v.float()).all() for v in converted.values())


def test_unfolded_batch_norm_keeps_the_folded_function_and_trains_from_it() -> None:
    folded = torchvision.models.mobilenet_v2(weights=None)
    convert.load_folded(folded, convert.read_tflite_convolutions(SHIPPED_TFLITE))
    unfolded = use_padding(torchvision.models.mobilenet_v2(weights=None), "tf_same")
    unfolded.load_state_dict(folded.state_dict())
    images = calibration_images(MINUS_ONE_TO_ONE, n=8, size=96)
    convert.unfold_batch_norm(unfolded, images)
    use_padding(folded, "tf_same")
    with torch.no_grad():
        reference = folded.eval()(images)
        after = unfolded.eval()(images)
        batch_stats = unfolded.features.train()(images)  # batch norm with the batch's own statistics
        pretrained = unfolded.features.eval()(images)
    assert torch.allclose(after, reference, atol=1e-3, rtol=1e-3)
    bn = unfolded.features[1].conv[0][1]
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))  # real statistics, not identity
    # in training mode, on the calibration batch, the features are the pretrained ones, not a rescaled version
    assert (batch_stats - pretrained).norm() / pretrained.norm() < 0.02


@pytest.mark.parametrize("size", [7, 8, 15, 16])
def test_same_pad_conv_pads_bottom_right_like_tensorflow(size: int) -> None:
    torch.manual_seed(0)
    conv = SamePadConv2d(3, 4, 3, stride=2, padding=0, bias=False)
    x = torch.randn(1, 3, size, size)
    total = max((-(-size // 2) - 1) * 2 + 3 - size, 0)
    manual = nn.functional.conv2d(nn.functional.pad(x, [total // 2, total - total // 2] * 2), conv.weight, stride=2)
    assert torch.equal(conv(x), manual)
    assert conv(x).shape[-1] == -(-size // 2)


def test_tf_padding_survives_checkpoint_spec_and_expert_stacking() -> None:
    from moede.models import ExpertBank
    from moede.models.registry import build_model

    model = BackboneClassifier("mobilenet_v2", 1000, "tf_same")
    assert padding_of(model) == "tf_same"
    assert sum(isinstance(m, SamePadConv2d) for m in model.modules()) == 5  # the five stride-2 convolutions
    assert padding_of(build_model(model.spec())) == "tf_same"
    assert ExpertBank([model.features, model.features]).padding == "tf_same"
    assert all(padding_of(part) == "tf_same" for part in ExpertBank([model.features] * 2).unstack())


def test_conversion_is_cached_and_never_repeated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = convert.convert_tflite_mobilenet_v2

    def counting(path: Path, calibration: torch.Tensor) -> dict[str, torch.Tensor]:
        calls.append(path)
        return real(path, calibration[:4])

    monkeypatch.setattr(convert, "convert_tflite_mobilenet_v2", counting)
    rng = torch.random.get_rng_state()
    first = Initialisation("imagenet", SHIPPED_TFLITE, tmp_path).state_dict()
    assert torch.equal(torch.random.get_rng_state(), rng)  # a cold cache draws nothing from the run's generator
    second = Initialisation("imagenet", SHIPPED_TFLITE, tmp_path).state_dict()  # a new run, same cache folder
    assert len(calls) == 1
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert [p.name for p in tmp_path.iterdir()] == [f"mobilenet_v2_imagenet_{_shipped_sha()[:16]}_v1.pt"]


def _shipped_sha() -> str:
    """sha256 of the shipped weights file."""
    return Initialisation("imagenet", SHIPPED_TFLITE).sha256


def test_build_from_shipped_weights_records_it_and_uses_tf_padding(converted: dict[str, torch.Tensor],
                                                                   tmp_path: Path) -> None:
    init = resolve_initialisation("imagenet", None, tmp_path)
    assert init.normalisation == MINUS_ONE_TO_ONE and init.padding == "tf_same"
    torch.save(converted, tmp_path / f"mobilenet_v2_imagenet_{init.sha256[:16]}_v1.pt")  # skip a conversion
    model = build_backbone("mobilenet_v2", 8, init).module
    assert model.moede_init.startswith("ImageNet (shipped TFLite, converted: tf2_mobilenet_v2_1.0_224_ptq.tflite")
    assert padding_of(model) == "tf_same" and model.classifier[-1].out_features == 8
    assert torch.equal(model.features[3].conv[1][0].weight, converted["features.3.conv.1.0.weight"])


def _litert_logits(photos: np.ndarray) -> np.ndarray:
    """Pre-softmax logits (N, 1001) of the original TFLite file, run by the LiteRT interpreter (int8)."""
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter",
                                             reason="ai-edge-litert (LiteRT) is not installed")
    with warnings.catch_warnings():  # preserving intermediate tensors is "for debugging": that is what we do
        warnings.simplefilter("ignore", UserWarning)
        interpreter = interpreter_module.Interpreter(model_path=str(SHIPPED_TFLITE),
                                                     experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    logits = next(d for d in interpreter.get_tensor_details()
                  if d["name"].startswith("MobileNetV2/top/SpatialSqueeze/Reshape;"))
    scale, zero = logits["quantization"]
    out = []
    for photo in photos:
        interpreter.set_tensor(source["index"], photo[None])
        interpreter.invoke()
        out.append(scale * (interpreter.get_tensor(logits["index"]).astype(np.float32) - zero))
    return np.concatenate(out)


def _int8_activations(model: torchvision.models.MobileNetV2) -> None:
    """Round every activation of `model` to the int8 grid the interpreter uses (forward hooks, graph order)."""
    quant = iter(convert.read_activation_quantisation(SHIPPED_TFLITE))

    def rounding(kind: str):
        _, scale, zero = next(quant)
        assert _ == kind

        def fake_quantise(x: torch.Tensor) -> torch.Tensor:
            return (torch.clamp(torch.round(x / scale) + zero, -128, 127) - zero) * scale
        return fake_quantise

    def after(module: nn.Module, kind: str) -> None:
        rounding_fn = rounding(kind)
        module.register_forward_hook(lambda _m, _i, out: rounding_fn(out))

    after(model.features[0], "conv")
    for block in model.features[1:18]:
        layers = list(block.conv)
        if len(layers) == 4:  # expansion 1x1 convolution first
            after(layers.pop(0), "conv")
        after(layers[0], "depthwise")
        after(layers[2], "conv")  # the batch norm after the projection
        if block.use_res_connect:
            after(block, "add")
    after(model.features[18], "conv")
    pool = rounding("mean")
    model.classifier.register_forward_pre_hook(lambda _m, inputs: (pool(inputs[0]),))
    after(model.classifier, "conv")


def _ours(state: dict[str, torch.Tensor], photos: np.ndarray, int8: bool = False) -> np.ndarray:
    """Our logits (N, 1000); `int8`: with the interpreter's input zero point (127) and int8-rounded activations."""
    model = _imagenet_model(state)
    if int8:
        _int8_activations(model)
        x = (torch.from_numpy(photos).permute(0, 3, 1, 2).float() - 127.0) / 127.5
    else:
        x = MINUS_ONE_TO_ONE.apply(torch.from_numpy(photos).permute(0, 3, 1, 2).float() / 255.0)
    with torch.no_grad():
        return model(x).numpy()


def _photo(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((224, 224), Image.BILINEAR))


def _further_images(shared: Path | None) -> np.ndarray:
    """60 crops of scikit-image's photos (not the calibration crops), plus 40 real faces when ../shared is there."""
    crops = (calibration_images(MINUS_ONE_TO_ONE, n=60, seed=1) * 0.5 + 0.5).mul(255).round()
    images = [crops.clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()]
    if shared is not None:
        faces = sorted((shared / "facial_expressions" / "images").iterdir())[:40]
        images.append(np.stack([_photo(p) for p in faces]))
    return np.concatenate(images)


def test_agrees_with_litert_on_further_images(converted: dict[str, torch.Tensor]) -> None:
    """On 60 photo crops (+ 40 faces with ../shared): with the interpreter's int8 rounding emulated, top-1 agrees on
    >= 95% (the conversion is right); in float, as the package trains, the interpreter's top-1 is in our top 5."""
    from moede.sources import shared_data_root

    images = _further_images(shared_data_root())
    reference = _litert_logits(images)[:, 1:]
    for int8 in (True, False):
        ours = _ours(converted, images, int8)
        agreement = float((reference.argmax(1) == ours.argmax(1)).mean())
        in_top5 = float(np.mean([r in t for r, t in zip(reference.argmax(1), np.argsort(-ours, axis=1)[:, :5])]))
        difference = np.abs(reference - ours)
        print(f"{'int8-emulated' if int8 else 'float'}: top-1 agreement {agreement:.1%} on {len(images)} images, "
              f"interpreter's top-1 in our top-5 {in_top5:.1%}; |logit difference| max {difference.max():.2f} "
              f"mean {difference.mean():.3f}")
        if int8:
            assert agreement >= 0.95
        else:
            assert in_top5 >= 0.95 and difference.mean() < 0.3


def test_agrees_with_litert_on_the_reference_photos(converted: dict[str, torch.Tensor], shared_data: Path) -> None:
    """The three photos shipped with the weights get the interpreter's labels."""
    folder = shared_data.parent / "weights" / "mobilenet_v2_imagenet"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the reference photos are not available")
    photos = np.stack([_photo(folder / name) for name in ("cat.bmp", "grace_hopper.bmp", "parrot.jpg")])
    reference, ours = _litert_logits(photos)[:, 1:], _ours(converted, photos)
    labels = (folder / "imagenet_labels.txt").read_text().splitlines()[1:]
    assert [labels[i] for i in ours.argmax(1)] == [labels[i] for i in reference.argmax(1)]
    assert [labels[i] for i in ours.argmax(1)] == ["Egyptian cat", "military uniform", "macaw"]


def test_each_converted_weight_lies_on_its_quantisation_step() -> None:
    convs = convert.read_tflite_convolutions(SHIPPED_TFLITE)
    for conv in convs:
        assert conv.step.shape == conv.weight.shape and (conv.step > 0).all()
        levels = conv.weight / conv.step  # int8 levels, symmetric per output channel: whole numbers in [-127, 127]
        np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
        assert np.abs(levels).max() <= 127.001
        per_channel = conv.step.reshape(len(conv.step), -1)
        assert np.allclose(per_channel, per_channel[:, :1]), "one step per output channel"
