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

#: The demo's sizes (RunConfig.baselines = "small"): each baseline's structure kept, its widths and depths cut so
#: that the four train in about as long as the demo's MoEDE on a 2-core CPU. The full profile uses the defaults
#: (the sizes of each paper's released code, see each class).
SMALL_SIZES: dict[str, dict[str, object]] = {
    TLSTM.name: dict(d_model=64, heads=4, layers=1, ffn_dim=128, hidden=64),
    AuxFormerVisual.name: dict(layers=2, passes=1),
    UAVMVisual.name: dict(d_model=128, heads=4, specific_layers=1, shared_layers=1),
    VAVLVisual.name: dict(d_model=128, specific_layers=1, shared_layers=1, heads=4, kernel_size=7, head_hidden=128),
}
