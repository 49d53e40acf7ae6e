"""Mixed precision of the static models' training: fp32 (the paper's), or autocast to bf16 (CPU or GPU) or fp16
(CUDA only, with a gradient scaler)."""

from __future__ import annotations

import contextlib

import torch

from moede.errors import SettingError

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def checked_precision(precision: str, device: str | torch.device) -> str:
    """`precision` after refusing one the device cannot train in (fp16 needs CUDA)."""
    if precision not in PRECISIONS:
        raise SettingError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    kind = torch.device(device).type
    if precision == "fp16" and kind != "cuda":
        raise SettingError(f"precision=fp16 needs a CUDA GPU (autocast with a gradient scaler), not {kind}; "
                           "use --set precision=bf16 or fp32")
    return precision


def autocast(precision: str, device: str | torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of `precision` on `device` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=_DTYPES[precision])


def grad_scaler(precision: str, device: str | torch.device) -> torch.amp.GradScaler:
    """A gradient scaler, enabled for fp16 only (otherwise it passes the loss and the step through unchanged)."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=precision == "fp16")
