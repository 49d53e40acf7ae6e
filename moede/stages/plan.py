"""A measured plan of a profile's whole protocol (`moede plan`): per stage, the images or clips x epochs, the cost
per item measured on the chosen device by a short warm-up of the actual model at the profile's image and batch size
(the training loop's own pass: augmentation on the device, precision, memory format, recomputed activations; timed
after a first untimed step), the projected hours, the peak RAM of that warm-up (faces are read from their files, so
it does not grow with the corpus) and the disk (face crops and compressed clip frames at their measured sizes).

The corpora's counts are the user's corpora's when given; otherwise the paper's corpora's published counts (the
AffectNet, CREMA-D and MSP-IMPROV papers'; the MoEDE text gives only some of them), while the warm-up runs on what is
found (../shared's real faces and clips, else the demo's). A stage whose cost could not be measured (no real clip to
count frames in, an unsupported setting) is shown as not measured and left out of the total: nothing is promised that
was not measured.
"""

from __future__ import annotations

import math
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from moede.config import RunConfig
from moede.data.emotions import AFFECTNET, CREMAD, MSP_IMPROV
from moede.models.backbone import BackboneClassifier
from moede.models.dfer import collate_clips, dfer_loss
from moede.models.experts import ExpertBank
from moede.models.fusion import ExpertFusion
from moede.models.mobilenet import replace_head
from moede.models.recompute import recomputing
from moede.training.augment import BatchAffine
from moede.training.images import FaceImageDataset
from moede.training.optimizers import make_optimizer
from moede.training.static import train_pass

NOT_MEASURED = "not measured"
COLUMNS = ["stage", "item", "items", "epochs", "seconds_per_item", "hours", "ram_gb", "disk_gb", "cost", "note"]

# AffectNet's manually annotated training faces of the eight classes (Mollahosseini et al., IEEE TAC 2019, Table 2:
# 287,651 in all; reference [31] of the MoEDE paper, whose text gives only "approximately 440,000 manually annotated
# images", Sec. IV.A.1) and its validation set: 500 per class (MoEDE paper Sec. V.A, "500 samples per class"; the
# released set has 3,999: one contempt face short).
AFFECTNET_TRAIN = {"neutral": 74874, "happy": 134415, "sad": 25459, "surprise": 14090, "fear": 6378,
                   "disgust": 3803, "anger": 24882, "contempt": 3750}
AFFECTNET_DEV = 3999
# CREMA-D: 7,442 clips (MoEDE paper Sec. IV.A.2), five participant-independent splits of 70/15/15 percent
# (ibid.); MSP-IMPROV: 8,438 turns (Busso et al., IEEE TAC 2017; the MoEDE text gives no count, Sec. V.E), six
# session-independent runs.
PAPER_CLIPS = {"cremad": 7442, "msp_improv": 8438}
TRAIN_SHARE = 0.70  # of a partition's clips (MoEDE paper Sec. IV.A.2)
FEATURE_DIM = 1280  # MobileNetV2's pooled features, what each expert gives a DFER model per frame


@dataclass
class Corpora:
    """What the plan projects: training faces per AffectNet class, dev faces, training clips per partition and frames
    per clip of each video corpus (None: not measured), and a line per count saying where it comes from."""

    train_faces: dict[str, int]
    dev_faces: int
    train_clips: dict[str, int]
    frames_per_clip: dict[str, float | None]
    sample_faces: list[str] = field(default_factory=list)  # real photos the alignment warm-up reads
    sample_clips: list[str] = field(default_factory=list)  # a real clip the video alignment warm-up reads
    lines: list[str] = field(default_factory=list)


def _frame_count(path: str) -> int:
    """The number of frames of a video file as its container states it (0 when unreadable)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()


def _mean_frames(paths: list[str]) -> float | None:
    """Mean frame count of up to 50 of the clips at `paths` that can be read (None: none can)."""
    counts = [n for n in (_frame_count(p) for p in paths[:50]) if n > 0]
    return float(np.mean(counts)) if counts else None


def _static_counts(cfg: RunConfig, corpora: Corpora) -> None:
    """AffectNet's counts: the user's corpus' (cfg.affectnet_root), else the published ones; sample photos for the
    alignment warm-up from the corpus found (the user's, ../shared's real faces, else none)."""
    from moede.stages.resolve import resolve_static, static_kind

    kind = static_kind(cfg)
    frame = resolve_static(cfg) if kind in ("corpus", "shared") else None
    if kind == "corpus":
        train = frame[frame["split"] == "train"]["label"].value_counts()
        corpora.train_faces = {e: int(train.get(e, 0)) for e in AFFECTNET}
        corpora.dev_faces = int((frame["split"] == "dev").sum())
        corpora.lines.append(f"AffectNet: {len(train)} training and {corpora.dev_faces} validation faces listed at "
                             f"{cfg.affectnet_root}")
    else:
        corpora.train_faces, corpora.dev_faces = dict(AFFECTNET_TRAIN), AFFECTNET_DEV
        corpora.lines.append(f"AffectNet: not given; the published counts ({sum(AFFECTNET_TRAIN.values()):,} "
                             f"training faces of the 8 classes, {AFFECTNET_DEV:,} validation: the AffectNet paper, "
                             "Table 2, and the MoEDE paper Sec. V.A); the warm-up runs on "
                             + ("../shared's real faces" if kind == "shared" else "generated images"))
    if frame is not None:
        corpora.sample_faces = list(frame["path"].head(64))


def _video_counts(cfg: RunConfig, corpus: str, corpora: Corpora) -> None:
    """A video corpus' training clips per partition and frames per clip: the user's corpus' when its root is given,
    else the paper's count (and ../shared's real clips' frames, when it has some)."""
    from moede.data.corpus import find_corpus
    from moede.sources import shared_data_root
    from moede.stages.dynamic import given_partitions, load_corpus
    from moede.stages.resolve import corpus_settings

    declared = find_corpus(corpus)
    root = getattr(cfg, declared.root_setting, None) or cfg.extra.get(declared.root_setting)
    if root is not None:
        clips = load_corpus(cfg, corpus)
        partitions = declared.partitions(clips, given_partitions(cfg, clips, corpus),
                                         **corpus_settings(cfg, declared.partition_settings))
        corpora.train_clips[corpus] = int(np.mean([(p["split"] == "train").sum() for p in partitions]))
        corpora.frames_per_clip[corpus] = _mean_frames(list(clips["path"]))
        corpora.sample_clips = corpora.sample_clips or list(clips["path"].head(1))
        corpora.lines.append(f"{declared.title}: {len(clips)} clips at {root}, {corpora.train_clips[corpus]} "
                             f"training clips per partition")
        return
    corpora.train_clips[corpus] = round(PAPER_CLIPS[corpus] * TRAIN_SHARE)
    shared = shared_data_root()
    folder = shared / "crema-d" / "videos" if shared and corpus == "cremad" else None
    originals = sorted(str(p) for p in folder.glob("*.flv")) if folder and folder.is_dir() else []
    corpora.frames_per_clip[corpus] = _mean_frames(originals)
    corpora.sample_clips = corpora.sample_clips or originals[:1]
    frames = (f"frames per clip: the mean of {len(originals)} real clips in {folder}" if originals else
              "frames per clip: no real clip found, not measured")
    corpora.lines.append(f"{declared.title}: not given; the paper's {PAPER_CLIPS[corpus]:,} clips, "
                         f"{TRAIN_SHARE:.0%} of them training clips per partition; {frames}")


def find_corpora(cfg: RunConfig) -> Corpora:
    """The counts the plan projects for `cfg` (see Corpora)."""
    corpora = Corpora({}, 0, {}, {})
    _static_counts(cfg, corpora)
    for corpus in PAPER_CLIPS:
        _video_counts(cfg, corpus, corpora)
    return corpora


def _reset_peak_ram() -> None:
    """Start a new peak of this process's resident memory (Linux: /proc/self/clear_refs; elsewhere the peak stays
    the process's since its start, an upper bound)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_ram_gb() -> float:
    """This process's peak resident memory since the last `_reset_peak_ram`, in GB (the process's peak where the
    system keeps no resettable one)."""
    try:
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) * 1024 / 1e9
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _timed(step: Callable[[], None], steps: int, device: str) -> tuple[float, float]:
    """Seconds per call of `step` over `steps` calls, after one untimed call (the warm-up), and the peak RAM in GB
    of those calls."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    _reset_peak_ram()
    step()
    sync()
    began = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - began) / steps, _peak_ram_gb()


def _checkpoint_gb(model: nn.Module) -> float:
    """The bytes of `model`'s state dict's tensors (what a checkpoint holds, less its few KB of metadata), in GB."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values()) / 1e9


@dataclass
class Warmup:
    """Measures training steps of the run's models on generated inputs of the profile's shapes."""

    cfg: RunConfig
    steps: int
    device: str

    def images(self, n: int) -> FaceImageDataset:
        """n generated faces at the profile's image size."""
        data = torch.randint(0, 256, (n, 3, self.cfg.image_size, self.cfg.image_size), dtype=torch.uint8)
        return FaceImageDataset(data, [i % len(AFFECTNET) for i in range(n)],
                                self.cfg.initialisation().normalisation)

    def image_step(self, model: nn.Module, n_classes: int, batch_size: int | None = None) -> tuple[float, float]:
        """Seconds per training face of `model` and the peak RAM in GB of its steps: one batch of `batch_size`
        (default cfg.batch_size) faces through the training loop's pass (moede.training.static.train_pass:
        augmentation on the device when the profile augments, cfg.precision, channels-last, cfg's activation
        recomputation), weighted cross-entropy, backward, optimiser step."""
        batch_size = batch_size or self.cfg.batch_size
        model.to(self.device, memory_format=torch.channels_last).train()
        optimizer = make_optimizer(self.cfg.optimizer, model.parameters(), self.cfg.learning_rate)
        dataset = self.images(batch_size)
        dataset.targets %= n_classes
        loader = DataLoader(dataset, batch_size=batch_size)
        loss_fn = nn.CrossEntropyLoss(weight=torch.ones(n_classes, device=self.device))
        augmenter = BatchAffine(dataset.normalisation, self.cfg.seed) if self.cfg.augment else None
        with recomputing(model, self.cfg.recompute_activations):
            seconds, ram = _timed(lambda: train_pass(model, loader, loss_fn, self.device, optimizer, "plan",
                                                     augmenter, self.cfg.precision), self.steps, self.device)
        return seconds / batch_size, ram

    @torch.no_grad()
    def forward(self, model: nn.Module) -> tuple[float, float]:
        """Seconds per face of `model` in eval mode (dev scoring, feature extraction), batches of cfg.batch_size,
        and the peak RAM in GB of those passes."""
        model.to(self.device).eval()
        batch = self.images(self.cfg.batch_size)
        images = torch.stack([batch[i][0] for i in range(len(batch))]).to(self.device)
        seconds, ram = _timed(lambda: model(images), self.steps, self.device)
        return seconds / self.cfg.batch_size, ram

    def clip_step(self, model: nn.Module, experts: int, frames: int) -> tuple[float, float]:
        """Seconds per training clip of DFER `model` and the peak RAM in GB of its steps: cfg.clip_batch_size clips
        of `frames` frames of `experts` x 1280 features, forward, loss (auxiliary ones included), backward, optimiser
        step."""
        model.to(self.device).train()
        optimizer = make_optimizer(self.cfg.optimizer, model.parameters(), self.cfg.dfer_learning_rate)
        batch = [(torch.randn(frames, experts, FEATURE_DIM), i % 4) for i in range(self.cfg.clip_batch_size)]
        x, lengths, y = collate_clips(batch)
        x, y = x.to(self.device), y.to(self.device)

        def step() -> None:
            loss = dfer_loss(model(x, lengths), y, self.cfg.aux_weight, self.cfg.aux_loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        seconds, ram = _timed(step, self.steps, self.device)
        return seconds / self.cfg.clip_batch_size, ram


def _network(cfg: RunConfig, n_classes: int) -> nn.Module:
    """The run's backbone classifier with `n_classes` outputs, the padding of its initial weights and random weights
    (the weights do not change a step's cost; nothing is loaded)."""
    return BackboneClassifier(cfg.backbone, n_classes, cfg.initialisation().padding)


def _row(stage: str, item: str, items: float, epochs: int, seconds: float | None, ram_gb: float, disk_gb: float,
         note: str = "") -> dict[str, object]:
    """One row of the plan; `seconds` None: the stage's cost could not be measured (no hours)."""
    measured = seconds is not None
    return {"stage": stage, "item": item, "items": int(round(items)), "epochs": epochs,
            "seconds_per_item": seconds if measured else math.nan,
            "hours": int(round(items)) * epochs * seconds / 3600 if measured else math.nan,
            "ram_gb": ram_gb, "disk_gb": disk_gb, "cost": "measured" if measured else NOT_MEASURED, "note": note}


@dataclass
class AlignmentCost:
    """What the alignment warm-up measured: seconds per photo and per video frame (None: nothing to measure), the
    peak RAM, and the bytes of one aligned face crop (PNG) and of one stored clip frame (JPEG in the clip's .npz)."""

    photo_seconds: float | None
    frame_seconds: float | None
    ram_gb: float
    face_bytes: float
    frame_bytes: float


def _alignment_cost(cfg: RunConfig, corpora: Corpora, samples: int) -> AlignmentCost:
    """The alignment's cost (dlib, cfg.align_landmarks ignored: the full profile's dlib), measured on real photos
    and one real clip when found; sizes default to a share of the raw bytes where nothing was written."""
    from moede.align import align_images, align_video_to_folder
    from moede.features.frames import encode_frames
    from moede.align.batch import read_rgb

    photo = frame_seconds = None
    face_bytes = 3 * cfg.image_size ** 2 * 0.6  # a PNG crop's typical share of the raw bytes until one is written
    frame_bytes = 3 * cfg.image_size ** 2 * 0.11  # a JPEG q95 frame's (moede.features.frames) until one is written
    _reset_peak_ram()
    with tempfile.TemporaryDirectory() as out:
        if corpora.sample_faces:
            paths = corpora.sample_faces[:samples + 1]
            table = pd.DataFrame({"sample_id": [f"f{i}" for i in range(len(paths))], "path": paths})
            align_images(table.head(1), Path(out) / "warm", cfg.image_size, workers=1)
            began = time.perf_counter()
            aligned = align_images(table.iloc[1:], Path(out) / "faces", cfg.image_size, workers=1)
            photo = (time.perf_counter() - began) / max(len(paths) - 1, 1)
            if len(aligned):
                face_bytes = float(np.mean([Path(p).stat().st_size for p in aligned["path"]]))
        if corpora.sample_clips:
            began = time.perf_counter()
            frames = align_video_to_folder(corpora.sample_clips[0], Path(out) / "clip", cfg.image_size,
                                           max_frames=samples * 4)
            frame_seconds = (time.perf_counter() - began) / max(len(frames), 1)
            if len(frames):
                stored = encode_frames(np.stack([read_rgb(p) for p in frames["crop"]]))
                frame_bytes = float(sum(a.nbytes for a in stored.values())) / len(frames)
    return AlignmentCost(photo, frame_seconds, _peak_ram_gb(), face_bytes, frame_bytes)


def _static_rows(cfg: RunConfig, corpora: Corpora, warm: Warmup, alignment: AlignmentCost,
                 bank: tuple[float, float], fusion_batch: int) -> list[dict[str, object]]:
    """Alignment of the photos, the SFER, the eight experts and the two fusions (training and dev scoring; the
    fusions' training steps measured at `fusion_batch` faces, their scoring as the eight-expert bank's forward,
    `bank`: its seconds per face and peak RAM)."""
    n_train, n_dev = sum(corpora.train_faces.values()), corpora.dev_faces
    bank_seconds, bank_ram = bank
    rows = [_row("alignment (photos)", "photo", n_train + n_dev, 1, alignment.photo_seconds, alignment.ram_gb,
                 (n_train + n_dev) * alignment.face_bytes / 1e9,
                 "dlib detection, landmarks, rotation, crop; disk: the PNG crops training reads")]
    sfer = _network(cfg, len(AFFECTNET))
    if cfg.trainable_from:
        return rows + [_row("SFER", "face", n_train, cfg.sfer_epochs, None, 0.0, 0.0,
                            "trainable_from > 0 (cached frozen-block activations) is not measured by the plan")]
    (train_s, train_ram), (dev_s, dev_ram) = warm.image_step(sfer, len(AFFECTNET)), warm.forward(sfer)
    model_gb = _checkpoint_gb(sfer)
    checkpoints_gb = 5 * model_gb  # the final checkpoint + the epoch checkpoint (weights, Adam's two, best weights)
    rows += [_row("SFER", "face", n_train, cfg.sfer_epochs, train_s, train_ram, checkpoints_gb),
             _row("SFER dev scoring", "face", n_dev, cfg.sfer_epochs, dev_s, dev_ram, 0.0)]
    expert = replace_head(sfer, 2)
    expert_s, expert_ram = warm.image_step(expert, 2)
    for emotion, positives in corpora.train_faces.items():
        rows.append(_row(f"expert {emotion}", "face", positives + min(positives, n_train - positives),
                         cfg.expert_epochs, expert_s, expert_ram, checkpoints_gb,
                         "all positives + as many negatives, drawn each epoch"))
    rows.append(_row("experts dev scoring", "face", n_dev * len(AFFECTNET), cfg.expert_epochs, dev_s, dev_ram, 0.0,
                     "eight experts"))
    for name, fine_tune in (("FFE", False), ("FTFE", True)):
        fusion = ExpertFusion(ExpertBank([_network(cfg, 2) for _ in AFFECTNET]), n_classes=len(AFFECTNET),
                              fine_tune=fine_tune, relu=cfg.fusion_relu)
        if fine_tune or cfg.augment:  # the bank runs on every (augmented) batch
            seconds, ram = warm.image_step(fusion, len(AFFECTNET), fusion_batch)
            rows.append(_row(name, "face", n_train, cfg.fusion_epochs, seconds, ram, 5 * _checkpoint_gb(fusion),
                             f"steps and RAM of {fusion_batch} faces (the profile's batch: {cfg.batch_size})"))
        else:  # the head trains on the bank's features, computed once
            rows.append(_row(name, "face", n_train, 1, bank_seconds, bank_ram, 5 * _checkpoint_gb(fusion),
                             "the frozen bank's features of the training faces, once (the head's epochs on them: "
                             "negligible)"))
        rows.append(_row(f"{name} dev scoring", "face", n_dev, cfg.fusion_epochs, bank_seconds, bank_ram, 0.0,
                         "the eight-expert bank's forward (the head's is negligible)"))
        del fusion
    return rows


def _frames_used(cfg: RunConfig, frames: float) -> float:
    """Frames per clip after cfg.frame_step and cfg.max_frames."""
    kept = math.ceil(frames / cfg.frame_step)
    return float(min(kept, cfg.max_frames) if cfg.max_frames else kept)


def _video_rows(cfg: RunConfig, corpora: Corpora, warm: Warmup, alignment: AlignmentCost,
                banks_cost: dict[str, tuple[float, float]]) -> list[dict[str, object]]:
    """Per video corpus: frame alignment, feature extraction of each bank and every DFER model x partitions."""
    from moede.models.dfer import MoEDE
    from moede.stages.dynamic import (ClipShape, baseline_models, moede_factory, moede_model, sfe_model,
                                      table5_models)
    from moede.data.emotions import CANONICAL, SHORT_NAMES

    rows = []
    for corpus, classes, partitions in (("cremad", CREMAD, cfg.partitions),
                                        ("msp_improv", MSP_IMPROV, cfg.msp_improv_partitions)):
        title, frames = ("CREMA-D", "MSP-IMPROV")[corpus != "cremad"], corpora.frames_per_clip.get(corpus)
        all_clips = corpora.train_clips[corpus] / TRAIN_SHARE
        if frames is None:
            rows.append(_row(f"{title}: every stage", "clip", all_clips, 1, None, 0.0, 0.0,
                             "frames per clip unknown (no real clip): alignment, features, DFER not measured"))
            continue
        used = _frames_used(cfg, frames)
        frames_gb = all_clips * frames * alignment.frame_bytes / 1e9
        rows.append(_row(f"{title}: alignment (frames)", "frame", all_clips * frames, 1, alignment.frame_seconds,
                         alignment.ram_gb, frames_gb, f"{frames:.0f} frames per clip; disk: the clips' compressed "
                                                      f"frames, {alignment.frame_bytes / 1e3:.1f} KB each"))
        banks = {"ffe": 8, "ftfe": 8, "sfe": 1, "imagenet": 1} if corpus == "cremad" else {"ffe": 8, "sfe": 1}
        for bank, experts in banks.items():
            rows.append(_row(f"{title}: {bank} features", "frame", all_clips * used, 1, *banks_cost[bank],
                             all_clips * used * experts * FEATURE_DIM * 2 / 1e9,
                             f"{used:.0f} frames per clip after frame_step/max_frames; float16 cache"))
        shape = ClipShape(len(classes), FEATURE_DIM, int(used))
        models = dict(table5_models(cfg)) if corpus == "cremad" else {"SFE": sfe_model(cfg), "MoEDE": moede_model(
            cfg), **baseline_models(cfg)}
        if corpus == "cremad":
            models.update({f"ablation without {SHORT_NAMES[e]}": ("ffe", moede_factory(
                True, [j for j in range(len(CANONICAL)) if j != i], cfg.readout)) for i, e in enumerate(CANONICAL)})
        n_ablation = cfg.ablation_partitions or partitions
        for name, model in models.items():
            bank, factory = (model.bank, model.factory) if hasattr(model, "bank") else model
            network = factory(shape)
            seconds, ram = warm.clip_step(network, network.n_experts if isinstance(network, MoEDE) else 1,
                                          int(used))
            runs = min(n_ablation, partitions) if name.startswith("ablation") else partitions
            rows.append(_row(f"{title}: {name}", "clip", corpora.train_clips[corpus] * runs, cfg.dfer_epochs,
                             seconds, ram, runs * 5 * _checkpoint_gb(network),
                             f"{runs} partition(s) x {corpora.train_clips[corpus]} training clips; {bank} features"))
    return rows


def plan(cfg: RunConfig, steps: int = 2, corpora: Corpora | None = None, align_samples: int = 3,
         fusion_batch: int | None = None) -> pd.DataFrame:
    """The measured plan of `cfg`'s whole protocol (see the module docstring): one row per stage (COLUMNS) and a
    total of the measured ones; attrs['lines'] say where the counts come from and what is not measured.
    `steps`: timed training steps per model (after one untimed); `fusion_batch`: faces per measured step of the
    fusions, whose eight MobileNetV2s at the profile's batch may not fit a CPU's memory (default: the profile's
    batch on a GPU, at most 8 on a CPU)."""
    from moede.features.extract import fast_extractor

    torch.manual_seed(cfg.seed)
    corpora = find_corpora(cfg) if corpora is None else corpora
    device = cfg.torch_device()
    fusion_batch = fusion_batch or (cfg.batch_size if device.startswith("cuda") else min(cfg.batch_size, 8))
    warm = Warmup(cfg, steps, device)
    alignment = _alignment_cost(cfg, corpora, align_samples)
    experts = [_network(cfg, 2) for _ in AFFECTNET]
    single, bank = warm.forward(experts[0]), warm.forward(fast_extractor(ExpertBank(experts)))
    rows = _static_rows(cfg, corpora, warm, alignment, bank, fusion_batch)
    rows += _video_rows(cfg, corpora, warm, alignment, {"ffe": bank, "ftfe": bank, "sfe": single,
                                                         "imagenet": single})
    table = pd.DataFrame(rows, columns=COLUMNS)
    measured = table[table["cost"] == "measured"]
    total = {"stage": "total (measured stages)", "item": "", "items": int(measured["items"].sum()), "epochs": 0,
             "seconds_per_item": math.nan, "hours": float(measured["hours"].sum()),
             "ram_gb": float(table["ram_gb"].max()), "disk_gb": float(table["disk_gb"].sum()), "cost": "measured",
             "note": f"{int((table['cost'] == NOT_MEASURED).sum())} stage(s) not measured, not in the total"}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table.attrs["lines"] = [f"profile {cfg.profile} on {device} ({torch.get_num_threads()} CPU threads); "
                            f"{steps} timed step(s) after one warm-up step per model", *corpora.lines]
    return table


def plan_text(table: pd.DataFrame) -> str:
    """The plan as printed by `moede plan`: where the counts come from, then the table (hours and seconds per item
    'not measured' where they were not)."""
    shown = table.drop(columns="cost").copy()
    missing = table["cost"] == NOT_MEASURED
    shown["seconds_per_item"] = [NOT_MEASURED if m else ("" if math.isnan(v) else f"{v:.4g}")
                                 for m, v in zip(missing, table["seconds_per_item"])]
    shown["hours"] = [NOT_MEASURED if m else f"{v:,.2f}" if v >= 0.01 else f"{v:.2g}"
                      for m, v in zip(missing, table["hours"])]
    for column in ("ram_gb", "disk_gb"):
        shown[column] = [f"{v:.2f}" for v in table[column]]
    with pd.option_context("display.max_colwidth", 70, "display.width", 250):
        return "\n".join([*table.attrs.get("lines", []), shown.to_string(index=False)])
