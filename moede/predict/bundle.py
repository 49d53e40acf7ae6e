"""A trained run as ONE file to hand on (in the spirit of torchvision's weights enums): every model's spec and weights
with what goes with them (classes, input size and normalisation, alignment settings, data sources, metrics,
initialisation, package version), wrapped with the sha256 of its payload; plus a markdown model card beside it."""

from __future__ import annotations

import datetime
import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from moede.align.face import EYE_POSITIONS
from moede.align.video import DETECT_EVERY, DETECT_SCALE
from moede.data.emotions import CANONICAL, CREMAD
from moede.errors import InputDataError
from moede.io import file_sha256, write_bytes
from moede.models.pretrained import Normalisation
from moede.predict.run_models import read_run_models, rebuild
from moede.sources import DataSource

FORMAT = "moede-bundle/1"
SUFFIX = ".moede"


class BundleError(InputDataError):
    """A bundle file is missing, corrupt, of another format version or fails its hash."""


@dataclass
class Bundle:
    """The models of a bundle, rebuilt and in eval mode, with the bundle's metadata."""

    experts: list[nn.Module]  # eight 2-class MobileNetV2s, CANONICAL order: the experts the MoEDE learned from
    moede: nn.Module
    sfer: nn.Module
    ftfe: nn.Module | None  # the static chapters' fusion, shipped when the MoEDE's experts are another set
    meta: dict[str, Any] = field(repr=False)
    path: Path | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        """The MoEDE's (video) classes."""
        return tuple(self.meta["classes"])

    @property
    def photo_classes(self) -> tuple[str, ...]:
        """The SFER's (photo) classes."""
        return tuple(self.meta["photo_classes"])

    @property
    def colour(self) -> str:
        """What the experts, SFER and FTFE see of a face: 'rgb', or 'grey' when they learned from grey photos."""
        return str(self.meta["input"].get("colour", "rgb"))

    @property
    def image_size(self) -> int:
        """Side of the aligned face crops the models take."""
        return int(self.meta["input"]["image_size"])

    @property
    def fill(self) -> str:
        """How the crops were painted outside the photo when the models learned (moede.align.face.FILLS)."""
        return str(self.meta["alignment"].get("fill", "black"))

    def normalisation(self, model: str) -> Normalisation:
        """The input normalisation of 'experts', 'sfer' or 'ftfe'."""
        stats = self.meta["input"]["normalisation"][model]
        return Normalisation(tuple(stats["mean"]), tuple(stats["std"]))

    @property
    def experts_note(self) -> str | None:
        """A line saying the MoEDE learned from other experts than the static chapters' (None when the same)."""
        if self.meta["experts_same_as_static"]:
            return None
        return (f"note: the video model (MoEDE) learned from the experts in {self.meta['experts_dir']} "
                f"({DataSource(**self.meta['sources']['experts']).banner()}), not from the photo models' data "
                f"({DataSource(**self.meta['sources']['sfer']).banner()}); the per-frame FTFE column is the static "
                "chapters' fusion")


def _cremad_source(moede: dict[str, Any]) -> dict[str, Any]:
    """The CREMA-D source the MoEDE learned from (recorded in its checkpoint), without the exporting machine's path."""
    source = moede["source"] or DataSource("CREMA-D", "corpus").as_dict()
    return {**source, "root": None}


def _experts_storage(experts: list[dict[str, Any]]) -> dict[str, Any]:
    """How the experts are stored: full networks, or LoRA adapters and heads on the SFER's weights (their rank), and
    the megabytes their tensors take in the bundle."""
    spec = experts[0]["spec"]
    stored = sum(t.numel() * t.element_size() for entry in experts for t in entry["state_dict"].values())
    return {"kind": "lora" if spec["architecture"] == "lora_expert" else "full", "rank": spec.get("rank"),
            "megabytes": round(stored / 2**20, 2)}


def _meta(run: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The bundle's metadata, from the run's models."""
    models = run["models"]
    experts, sfer, moede = models["experts"], models["sfer"], models["moede"]
    config = sfer["config"]
    normalisation = {name: models[name]["metrics"]["normalisation"] for name in ("sfer", "ftfe") if name in models}
    normalisation["experts"] = experts[0]["metrics"]["normalisation"]
    return {
        "format": FORMAT, "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "package_version": run["code_version"], "profile": config["profile"], "run_dir": run_dir.resolve().name,
        "classes": list(CREMAD), "photo_classes": sfer["classes"],
        "expert_emotions": list(CANONICAL),
        "input": {"image_size": int(config["image_size"]), "normalisation": normalisation,
                  "colour": moede["colour"]},
        "alignment": {"aligner": "moede.align: dlib HOG face + 68 landmarks, largest face, eyes levelled",
                      "eye_positions": [list(p) for p in EYE_POSITIONS], "frame_step": int(config["frame_step"]),
                      "max_frames": config["max_frames"], "detect_every": DETECT_EVERY, "detect_scale": DETECT_SCALE,
                      "fill": config.get("align_fill", "black")},
        "sources": {"experts": experts[0]["source"], "sfer": sfer["source"], "moede": _cremad_source(moede)},
        "experts_dir": run["experts_dir"], "experts_same_as_static": "ftfe" not in models,
        "experts_storage": _experts_storage(experts),
        "init": sfer["init"], "moede_partition": moede["partition"], "moede_row": moede["row"],
        "metrics": {"sfer": sfer["metrics"].get("dev"), "moede": moede["metrics"],
                    "experts": {e: entry["metrics"].get("dev") for e, entry in zip(CANONICAL, experts)},
                    **({"ftfe": models["ftfe"]["metrics"].get("dev")} if "ftfe" in models else {})},
    }


def _rebuild(payload: dict[str, Any], path: Path | None) -> Bundle:
    """Rebuild the models of a bundle payload."""
    models = payload["models"]

    def make(entry: dict[str, Any]) -> nn.Module:
        base = models["sfer"]["state_dict"] if entry.get("base") == "sfer" else None
        return rebuild(entry["spec"], entry["state_dict"], base)

    return Bundle(experts=[make(e) for e in models["experts"]], moede=make(models["moede"]), sfer=make(models["sfer"]),
                  ftfe=make(models["ftfe"]) if "ftfe" in models else None, meta=payload["meta"], path=path)


def portable(value: Any, run_dir: Path) -> Any:
    """`value` (nested dicts and lists) with every absolute path of this machine made relative to the run directory,
    or cut to its last component when outside it (a bundle is handed to other machines)."""
    if isinstance(value, dict):
        return {k: v if isinstance(v, torch.Tensor) else portable(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, run_dir) for v in value]
    if isinstance(value, str) and os.path.isabs(value):
        path = Path(value)
        return path.relative_to(run_dir).as_posix() if path.is_relative_to(run_dir) else path.name
    return value


def _payload(run_dir: str | Path, partition: int) -> dict[str, Any]:
    """The bundle's metadata and models, free of the exporting machine's absolute paths."""
    run = read_run_models(run_dir, partition)
    return portable({"meta": _meta(run, Path(run_dir)), "models": run["models"]}, Path(run_dir).resolve())


def bundle_from_run(run_dir: str | Path, partition: int = 1) -> Bundle:
    """The bundle of a run directory, built in memory (what `export_bundle` would write)."""
    return _rebuild(_payload(run_dir, partition), None)


def export_bundle(run_dir: str | Path, target: str | Path, partition: int = 1) -> Path:
    """Write the run's models to the bundle file `target` and its model card beside it (both atomically)."""
    target = Path(target)
    payload = _payload(run_dir, partition)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    inner = buffer.getvalue()
    payload_bytes = torch.frombuffer(bytearray(inner), dtype=torch.uint8)  # a tensor is stored raw, bytes are not
    wrapper = io.BytesIO()
    torch.save({"format": FORMAT, "sha256": hashlib.sha256(inner).hexdigest(), "payload": payload_bytes}, wrapper)
    write_bytes(wrapper.getvalue(), target)
    write_bytes(model_card(payload["meta"], target.name, file_sha256(target)).encode(), card_path(target))
    return target


def card_path(bundle: str | Path) -> Path:
    """Where the model card of a bundle file goes."""
    return Path(bundle).with_suffix(".md")


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle written by `export_bundle`, checking its format version and its payload's sha256."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"bundle {path} does not exist; write one with `moede export RUN_DIR {path}`")
    redo = f"export it again with `moede export RUN_DIR {path}`"
    try:
        wrapper = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise BundleError(f"bundle {path} cannot be read ({type(error).__name__}): corrupt or not a bundle; "
                          f"{redo}") from None
    found = wrapper.get("format") if isinstance(wrapper, dict) else None
    if found != FORMAT:
        raise BundleError(f"bundle {path} has format {found!r}, this moede reads {FORMAT!r}; {redo}")
    inner = wrapper["payload"].numpy().tobytes()
    if hashlib.sha256(inner).hexdigest() != wrapper["sha256"]:
        raise BundleError(f"bundle {path} fails its sha256 check (the file was altered or damaged); {redo}")
    return _rebuild(torch.load(io.BytesIO(inner), map_location="cpu", weights_only=True), path)


def _percent(value: Any) -> str:
    """A percentage for the card ('n/a' when unknown)."""
    return "n/a" if value is None else f"{float(value):.1f} %"


def _storage_text(storage: dict[str, Any] | None) -> str:
    """One sentence on how the experts are stored in the bundle."""
    if storage is None:
        return ""
    if storage["kind"] == "lora":
        return (f"Stored as LoRA experts (rank {storage['rank']}): adapters and heads on the SFER's weights, "
                f"{storage['megabytes']:.1f} MB.")
    return f"Stored as eight full networks, {storage['megabytes']:.1f} MB."


def model_card(meta: dict[str, Any], name: str, sha256: str) -> str:
    """A short human-readable markdown description of a bundle."""
    sources = {k: DataSource(**v).banner() for k, v in meta["sources"].items()}
    stats = {k: list(v) for k, v in meta["input"]["normalisation"]["experts"].items()}
    moede = meta["metrics"]["moede"]
    test = moede.get("test", {})
    lines = [
        f"# Model card: {name}", "",
        f"- file sha256: `{sha256}`; bundle format `{meta['format']}`; moede {meta['package_version']}; "
        f"created {meta['created']}; profile `{meta['profile']}` (run dir `{meta['run_dir']}`)",
        f"- initialisation: {meta['init']}",
        f"- input: aligned faces {meta['input']['image_size']}x{meta['input']['image_size']}, (RGB in [0, 1] - "
        f"mean {stats['mean']}) / std {stats['std']}; alignment: {meta['alignment']['aligner']}; one video frame "
        f"in {meta['alignment']['frame_step']} is processed",
        "", "## Models and the data they learned from", "",
        f"- **MoEDE** (video, classes {', '.join(meta['classes'])}): {meta['moede_row']}, the model of partition "
        f"{meta['moede_partition']} (not the best of several). {sources['moede']}. Best dev accuracy "
        f"{_percent(moede.get('best_dev_accuracy'))}; test accuracy {_percent(test.get('Accuracy'))}, "
        f"F1-macro {_percent(test.get('F1-macro'))}.",
        f"- **Eight experts** ({', '.join(meta['expert_emotions'])}), from `{meta['experts_dir']}`: "
        f"{sources['experts']}. {_storage_text(meta.get('experts_storage'))}",
        f"- **SFER** (photos, classes {', '.join(meta['photo_classes'])}): {sources['sfer']}; dev "
        f"F1-macro {_percent((meta['metrics']['sfer'] or {}).get('f1_macro'))}.",
    ]
    if not meta["experts_same_as_static"]:
        lines.append("- **FTFE** (per-frame fusion of the static chapters' experts, 8 classes): shipped because the "
                     "MoEDE's experts learned from other faces than the photo models; `predict` says so.")
    lines += ["", "Numbers from the demo profile come from small settings and stand-in data: they are not the paper's."]
    return "\n".join(lines) + "\n"
