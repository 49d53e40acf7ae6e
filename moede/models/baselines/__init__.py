"""Vision-only versions of Table 5's published baselines (T-LSTM, AuxFormer, UAVM, VAVL) over the cached per-frame
features, with the SFE baseline's input/output contract (moede.models.baselines.base) so that the DFER training loop
trains them unchanged. Each is registered under its `name` (moede.models.registry), so checkpoints rebuild it.
`DEPARTURES` says, per baseline, how it differs from the published model."""

from __future__ import annotations

from moede.models.baselines import auxformer, t_lstm, uavm, vavl
from moede.models.baselines.auxformer import AuxFormerVisual
from moede.models.baselines.base import FrameBaseline
from moede.models.baselines.t_lstm import TLSTM
from moede.models.baselines.uavm import UAVMVisual
from moede.models.baselines.vavl import VAVLVisual
from moede.models.registry import register_model

BASELINES: dict[str, type[FrameBaseline]] = {cls.name: register_model(cls.name)(cls)
                                             for cls in (TLSTM, AuxFormerVisual, UAVMVisual, VAVLVisual)}

DEPARTURES: dict[str, str] = {TLSTM.name: t_lstm.DEPARTURE, AuxFormerVisual.name: auxformer.DEPARTURE,
                              UAVMVisual.name: uavm.DEPARTURE, VAVLVisual.name: vavl.DEPARTURE}
