"""The published baselines of Tables 5 and 8 as this companion rebuilds them: how each departs from its paper, and
its size and cost per clip beside MoEDE's (Section IV.C's counting: parameters, FLOPs of a 60-frame clip)."""

from __future__ import annotations

import pandas as pd

from moede.data.emotions import CREMAD
from moede.evaluation.complexity import PAPER_FRAMES, complexity_numbers, count_parameters
from moede.models.baselines import BASELINES, DEPARTURES, SMALL_SIZES
from moede.evaluation.baseline_flops import clip_flops
from moede.models.dfer import SingleExtractorLSTM


def baseline_departures() -> pd.DataFrame:
    """One row per baseline: how the vision-only version trained here differs from the published model."""
    frame = pd.DataFrame({"how this version differs from the published model": DEPARTURES})
    frame.index.name = "baseline"
    frame.attrs["caption"] = "The baselines are rebuilt from their papers' visual branches, not the published models"
    return frame


def baseline_complexity(frames: int = PAPER_FRAMES, sizes: str = "paper") -> pd.DataFrame:
    """Parameters and GFLOPs per `frames`-frame clip of MoEDE, the SFE and each baseline at `sizes` ('paper' or
    'small'): the temporal model alone and with its per-frame front-end (MoEDE: eight MobileNetV2 backbones; every
    other row: one, as each reads one per-frame feature)."""
    moede = complexity_numbers(len(CREMAD), frames)
    backbone_params, backbone_flops = moede["expert_backbone"], moede["expert_flops"] // 8
    rows = {"MoEDE": (moede["fusion"], moede["lstm_flops"] + moede["head_flops"], moede["eight_backbones"],
                      moede["expert_flops"])}
    temporal = {"Single feature extractor": SingleExtractorLSTM(n_classes=len(CREMAD))}
    temporal.update({name: cls(n_classes=len(CREMAD), **(SMALL_SIZES[name] if sizes == "small" else {}))
                     for name, cls in BASELINES.items()})
    for name, model in temporal.items():
        rows[name] = (count_parameters(model), clip_flops(model, frames), backbone_params, backbone_flops)
    table = pd.DataFrame({name: {"temporal parameters (M)": p / 1e6, "temporal GFLOPs": f / 1e9,
                                 "total parameters (M)": (p + bp) / 1e6, "total GFLOPs": (f + bf) / 1e9}
                          for name, (p, f, bp, bf) in rows.items()}).T.round(3)
    table.attrs["caption"] = (f"Size and cost per {frames}-frame clip at 224x224 ({sizes} sizes); 'total' adds the "
                              "per-frame MobileNetV2 front-end(s)")
    return table
