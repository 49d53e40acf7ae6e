"""Convert a quantised TFLite MobileNetV2 (1.0, 224, 1001 classes) into torchvision's `mobilenet_v2` state dict.

The TFLite graph runs the same network as torchvision's MobileNetV2 (52 convolutions + the 1x1 logits convolution,
in the same order), but with every batch norm folded into its convolution (weight and bias) and every weight stored
as integers. Conversion:

1. read the flatbuffer with the `tflite` package; keep the CONV_2D / DEPTHWISE_CONV_2D ops in graph order;
2. dequantise each weight and bias: `scale * (q - zero_point)`, per output channel where the file stores per-channel
   scales (TFLite layouts: convolution OHWI, depthwise 1HWC -> torch OIHW, C1HW);
3. map op k onto the k-th convolution of torchvision's model (shapes are checked), the logits convolution onto the
   classifier's Linear, dropping row 0 (TFLite's "background" class) to keep torchvision's 1000 ImageNet classes;
4. un-fold batch norm (`unfold_batch_norm`): with calibration images, each BatchNorm gets the per-channel mean and
   variance of its convolution's output as running statistics, and affine parameters chosen so that in eval mode
   `BN(conv(x)) = conv(x) + folded_bias` exactly. In training mode, BN then normalises with batch statistics close to
   these, so fine-tuning starts from the pretrained function instead of from a scale/offset it has to relearn.

The converted weights need TF's "SAME" padding in the stride-2 convolutions (no padding top/left, one row/column
bottom/right on even sizes; `moede.models.mobilenet.use_padding`): torchvision's symmetric padding shifts every
stride-2 layer by a pixel (measured: top-1 agreement with the interpreter falls from 81% to 26% on 73 images).
The one remaining difference from the TFLite interpreter is that activations are float here and int8 there
(`read_activation_quantisation` gives the interpreter's rounding; `tests/test_tflite_convert.py` measures both).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn

N_TFLITE_CLASSES = 1001  # TFLite ImageNet models put a "background" class at index 0


class TFLiteFormatError(ValueError):
    """The file is not a TFLite MobileNetV2 1.0 that this converter can map onto torchvision's model."""


@dataclass(frozen=True)
class FoldedConv:
    """One dequantised TFLite convolution: torch-layout weight (O, I/groups, kH, kW), bias (O,), stride, and the
    quantisation step of each weight (the weight's layout; a float weight's is 0)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int
    step: np.ndarray


def _quantisation(tensor, ndim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(scale, zero point) of a tensor with `ndim` dimensions, per-channel ones shaped to broadcast along its
    quantised dimension; None for a float tensor."""
    quant = tensor.Quantization()
    if quant is None or quant.ScaleLength() == 0:
        return None
    scale = quant.ScaleAsNumpy().astype(np.float64)
    zero = quant.ZeroPointAsNumpy().astype(np.float64) if quant.ZeroPointLength() else np.zeros_like(scale)
    if scale.size > 1:
        shape = [1] * ndim
        shape[quant.QuantizedDimension()] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return scale, zero


def _dequantise(tensor, data: np.ndarray) -> np.ndarray:
    """`scale * (q - zero_point)` with per-channel scales broadcast along the tensor's quantised dimension."""
    quantisation = _quantisation(tensor, data.ndim)
    if quantisation is None:
        return data.astype(np.float32)
    scale, zero = quantisation
    return (scale * (data.astype(np.float64) - zero)).astype(np.float32)


def _step(tensor, data: np.ndarray) -> np.ndarray:
    """The dequantisation step (scale) of every element of a weight tensor, in its TFLite layout (0: a float one)."""
    quantisation = _quantisation(tensor, data.ndim)
    step = np.zeros(data.shape) if quantisation is None else np.broadcast_to(quantisation[0], data.shape)
    return step.astype(np.float32)


def _tensor_array(model, graph, index: int) -> np.ndarray:
    """The constant data of tensor `index` as a numpy array of its TFLite type and shape."""
    import tflite

    tensor = graph.Tensors(index)
    dtypes = {tflite.TensorType.INT8: np.int8, tflite.TensorType.UINT8: np.uint8,
              tflite.TensorType.INT32: np.int32, tflite.TensorType.FLOAT32: np.float32}
    if tensor.Type() not in dtypes:
        raise TFLiteFormatError(f"tensor {tensor.Name()!r} has unsupported TFLite type {tensor.Type()}")
    raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
    if isinstance(raw, int):  # an empty buffer: not a constant
        raise TFLiteFormatError(f"tensor {tensor.Name()!r} holds no constant data")
    return np.frombuffer(raw.tobytes(), dtype=dtypes[tensor.Type()]).reshape(tensor.ShapeAsNumpy())


def read_tflite_convolutions(path: str | Path) -> list[FoldedConv]:
    """Read every CONV_2D / DEPTHWISE_CONV_2D op of a TFLite file, in graph order, as dequantised FoldedConv."""
    import tflite

    path = Path(path)
    try:
        model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
        graph = model.Subgraphs(0)
    except Exception as error:  # the flatbuffer reader raises assorted errors on foreign bytes
        raise TFLiteFormatError(f"{path} is not a readable TFLite model ({error})") from error
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    convs = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = codes[op.OpcodeIndex()]
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin not in (tflite.BuiltinOperator.CONV_2D, tflite.BuiltinOperator.DEPTHWISE_CONV_2D):
            continue
        depthwise = builtin == tflite.BuiltinOperator.DEPTHWISE_CONV_2D
        options = tflite.DepthwiseConv2DOptions() if depthwise else tflite.Conv2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        stored = _tensor_array(model, graph, op.Inputs(1))
        weight, step = _dequantise(graph.Tensors(op.Inputs(1)), stored), _step(graph.Tensors(op.Inputs(1)), stored)
        bias = _dequantise(graph.Tensors(op.Inputs(2)), _tensor_array(model, graph, op.Inputs(2)))
        # TFLite layouts: CONV_2D (O, kH, kW, I); DEPTHWISE_CONV_2D (1, kH, kW, C)
        order = (3, 0, 1, 2) if depthwise else (0, 3, 1, 2)
        convs.append(FoldedConv(np.ascontiguousarray(weight.transpose(order)), bias, options.StrideH(),
                                np.ascontiguousarray(step.transpose(order))))
    return convs


def read_activation_quantisation(path: str | Path) -> list[tuple[str, float, int]]:
    """(op, scale, zero point) of the int8 output of every CONV_2D, DEPTHWISE_CONV_2D, ADD and MEAN op, in graph
    order: what the interpreter rounds each activation to (for measuring what float activations change)."""
    import tflite

    model = tflite.Model.GetRootAsModel(Path(path).read_bytes(), 0)
    graph = model.Subgraphs(0)
    names = {tflite.BuiltinOperator.CONV_2D: "conv", tflite.BuiltinOperator.DEPTHWISE_CONV_2D: "depthwise",
             tflite.BuiltinOperator.ADD: "add", tflite.BuiltinOperator.MEAN: "mean"}
    out = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin in names:
            quant = graph.Tensors(op.Outputs(0)).Quantization()
            out.append((names[builtin], float(quant.ScaleAsNumpy()[0]), int(quant.ZeroPointAsNumpy()[0])))
    return out


def _conv_bn_pairs(model: torchvision.models.MobileNetV2) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Each convolution of `model.features` with the batch norm that follows it, in forward order."""
    pairs, pending = [], None
    for module in model.features.modules():
        if isinstance(module, nn.Conv2d):
            pending = module
        elif isinstance(module, nn.BatchNorm2d) and pending is not None:
            pairs.append((pending, module))
            pending = None
    return pairs


def load_folded(model: torchvision.models.MobileNetV2, convs: list[FoldedConv]) -> None:
    """Copy the folded convolutions into `model` (1000-class head); every BatchNorm becomes `x + bias`."""
    pairs = _conv_bn_pairs(model)
    if len(convs) != len(pairs) + 1:
        raise TFLiteFormatError(f"expected {len(pairs) + 1} convolutions (MobileNetV2 1.0), found {len(convs)}")
    with torch.no_grad():
        for k, ((conv, bn), folded) in enumerate(zip(pairs, convs)):
            if tuple(conv.weight.shape) != folded.weight.shape or conv.stride[0] != folded.stride:
                raise TFLiteFormatError(f"convolution {k}: TFLite weight {folded.weight.shape} stride "
                                        f"{folded.stride} does not fit torchvision's {tuple(conv.weight.shape)} "
                                        f"stride {conv.stride[0]}")
            conv.weight.copy_(torch.from_numpy(folded.weight))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.weight.fill_(float(np.sqrt(1.0 + bn.eps)))
            bn.bias.copy_(torch.from_numpy(folded.bias))
        logits = convs[-1]
        linear = model.classifier[-1]
        if logits.weight.shape[:2] != (N_TFLITE_CLASSES, linear.in_features):
            raise TFLiteFormatError(f"logits layer has shape {logits.weight.shape}, expected "
                                    f"({N_TFLITE_CLASSES}, {linear.in_features}, 1, 1)")
        linear.weight.copy_(torch.from_numpy(logits.weight[1:, :, 0, 0]))
        linear.bias.copy_(torch.from_numpy(logits.bias[1:]))


@torch.no_grad()
def unfold_batch_norm(model: torchvision.models.MobileNetV2, images: torch.Tensor) -> None:
    """Give each folded BatchNorm running statistics from `images` (normalised, (N,3,H,W)), keeping eval outputs.

    Before: BN(z) = z + b (mean 0, var 1). After: running mean m and variance v of z over `images` (all positions),
    weight sqrt(v + eps) and bias b + m, so BN(z) = sqrt(v+eps) (z - m) / sqrt(v+eps) + b + m = z + b again.
    """
    pairs = _conv_bn_pairs(model)
    sums: dict[int, list[torch.Tensor]] = {}

    def record(index: int):
        def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            z = output.detach().double().transpose(0, 1).reshape(output.shape[1], -1)
            total = sums.setdefault(index, [torch.zeros(z.shape[0], dtype=torch.float64)] * 2 + [0])
            sums[index] = [total[0] + z.sum(1), total[1] + (z * z).sum(1), total[2] + z.shape[1]]
        return hook

    handles = [conv.register_forward_hook(record(k)) for k, (conv, _) in enumerate(pairs)]
    try:
        model.eval()
        for chunk in images.split(16):
            model(chunk)
    finally:
        for handle in handles:
            handle.remove()
    for k, (_, bn) in enumerate(pairs):
        total, squares, count = sums[k]
        mean = total / count
        var = (squares / count - mean * mean).clamp_min(0.0)
        bn.running_mean.copy_(mean.float())
        bn.running_var.copy_(var.float())
        bn.weight.copy_(torch.sqrt(var + bn.eps).float())
        bn.bias.add_(mean.float())


def convert_tflite_mobilenet_v2(path: str | Path, calibration: torch.Tensor) -> dict[str, torch.Tensor]:
    """Convert the TFLite MobileNetV2 at `path` into a torchvision `mobilenet_v2` (1000 classes) state dict.

    `calibration`: normalised images (N,3,H,W) whose pre-BN statistics set the un-folded batch norms."""
    model = torchvision.models.mobilenet_v2(weights=None)
    load_folded(model, read_tflite_convolutions(path))
    unfold_batch_norm(model, calibration)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
