"""Static-FER stages for the notebooks: align, train the SFER, the eight experts, and the FFE/FTFE fusion.

Each stage works in `cfg.run_dir` and reuses its checkpoint + metrics JSON when they exist and were made with
the same key: the settings its stage in moede.stages.keys declares it reads, plus its inputs' digests (the aligned
faces, the checkpoints it starts from), so notebooks can run separately and be re-run cheaply.
Layout: aligned/static/ (crops, manifest.csv, frame.csv), frozen/{train,dev}.pt (the frozen blocks' activations
when trainable_from > 0: moede.training.activation_cache), models/<name>.pt, results/<name>/{metrics.json,
history.csv, dev_predictions.csv}, results/table{1,2,3,4}.csv.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from moede.config import RunConfig, seed_everything
from moede.data.emotions import AFFECTNET, class_index
from moede.data.ferplus import VOTE_COLUMNS, vote_shares
from moede.distributed import run_on_main
from moede.evaluation.metrics import summary
from moede.evaluation.similarity import expert_cosine_matrix
from moede.features.extract import SequentialExperts, shared_prefix_length
from moede.io import write_csv, write_json
from moede.models.backbone import build_backbone
from moede.models.checkpoint import checkpoint_digest
from moede.models.experts import ExpertBank
from moede.models.fusion import ExpertFusion
from moede.models.lora import lora_expert_from_sfer
from moede.models.mobilenet import replace_head
from moede.models.run_layout import expert_name
from moede.sources import DataSource
from moede.stages.keys import STAGES, checked
from moede.stages.outputs import save_result
from moede.training.activation_cache import cached_block_activations
from moede.training.frozen import FromBlock, FusionFromBlock
from moede.data.face_store import FaceFiles
from moede.training.images import FaceImageDataset, FeatureDataset
from moede.training.outcomes import ExpertsResult, FusionResult, StaticResult, TrainResult
from moede.training.sampling import BalancedEpochSampler
from moede.training.static import class_weights, train_classifier
from moede.training.resume import EpochCheckpoint
from moede.training.reuse import Job, Trained, train_or_reuse_all

log = logging.getLogger(__name__)

FRAME_COLUMNS = ["sample_id", "path", "label", "speaker", "split"]


def _frame_source(frame: pd.DataFrame) -> DataSource:
    """Return the DataSource recorded in a sample table's attrs (a clear error when absent)."""
    source = frame.attrs.get("source")
    if not isinstance(source, DataSource):
        raise ValueError("the sample table has no attrs['source'] DataSource; build it with moede.data")
    return source


def _data_digest(frame: pd.DataFrame) -> str:
    """Short digest of the sample ids, labels and splits (and FER+'s vote counts when soft targets keep them), and of
    the alignment that made the faces (attrs['alignment'], the static_alignment stage's key, when the table comes from
    prepare_static)."""
    text = frame[["sample_id", "label", "split", *_votes(frame)]].astype(str).to_csv(index=False)
    if "alignment" in frame.attrs:
        text += json.dumps(frame.attrs["alignment"], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _votes(frame: pd.DataFrame) -> list[str]:
    """The FER+ vote-count columns `frame` has (none for the other corpora)."""
    return [column for column in VOTE_COLUMNS if column in frame.columns]


def with_targets(frame: pd.DataFrame, labels: str) -> pd.DataFrame:
    """`frame` as the static training reads it: FER+'s vote counts kept for soft targets (cfg.ferplus_labels 'soft'),
    dropped for the majority labels, so that its table and data digest are those of any hard-labelled corpus."""
    if labels == "soft" or not _votes(frame):
        return frame
    kept = frame.drop(columns=_votes(frame))
    kept.attrs.update(frame.attrs)
    return kept


def prepare_static(cfg: RunConfig) -> pd.DataFrame:
    """Resolve the static corpus (user's AffectNet or FER+, shared facial_expressions, or demo) and align its faces.

    Crops go to run_dir/aligned/static at cfg.image_size and cfg.align_fill; the aligned table is cached as frame.csv
    there (frame.json records the size and the fill it was made with). FER+'s votes stay in it as cfg.ferplus_labels
    says (`with_targets`).
    """
    def cached_or_aligned() -> pd.DataFrame:
        frame = _aligned_static(cfg)
        return _align_static(cfg) if frame is None else frame

    return with_targets(run_on_main(cached_or_aligned), cfg.ferplus_labels)  # rank 0 aligns; every rank gets it


def _aligned_static(cfg: RunConfig) -> pd.DataFrame | None:
    """The aligned sample table cached in run_dir/aligned/static at cfg.image_size, or None."""
    out = cfg.run_dir / "aligned" / "static"
    cached, meta_file = out / "frame.csv", out / "frame.json"
    if not (cached.is_file() and meta_file.is_file()):
        return None
    meta = json.loads(meta_file.read_text())
    key = _alignment_key(cfg)
    if meta.get("key") != key:
        return None
    frame = pd.read_csv(cached, dtype={"sample_id": str, "speaker": str})
    frame.attrs.update(source=DataSource(**meta["source"]), no_face=meta["no_face"], alignment=key)
    return frame


def _alignment_key(cfg: RunConfig) -> dict[str, Any]:
    """The static_alignment stage's key (as JSON values): the settings that choose and align the static corpus'
    faces."""
    return json.loads(json.dumps(STAGES["static_alignment"].key(cfg), default=str))


def _align_static(cfg: RunConfig) -> pd.DataFrame:
    """Resolve the static corpus, align its faces into run_dir/aligned/static and cache the aligned table there."""
    from moede.align import align_images
    from moede.stages.resolve import resolve_static
    from moede.data.schema import landmarks_from

    def align(cfg: RunConfig) -> tuple[pd.DataFrame, DataSource, int]:
        raw = resolve_static(cfg)
        aligned = align_images(landmarks_from(raw, cfg.align_landmarks), cfg.run_dir / "aligned" / "static",
                               cfg.image_size, fill=cfg.align_fill)
        columns = FRAME_COLUMNS + _votes(aligned)
        return aligned[columns].reset_index(drop=True), _frame_source(raw), int(aligned.attrs.get("no_face", 0))

    out = cfg.run_dir / "aligned" / "static"
    frame, source, no_face = checked("static_alignment", cfg, align)()
    key = _alignment_key(cfg)
    write_csv(frame, out / "frame.csv")
    write_json({"key": key, "source": source.as_dict(), "no_face": no_face}, out / "frame.json")
    frame.attrs.update(source=source, no_face=no_face, alignment=key)
    return frame


def _dev_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The development rows of `frame`, after checking that it has training and development rows."""
    train, dev = frame[frame["split"] == "train"], frame[frame["split"] == "dev"].reset_index(drop=True)
    if train.empty or dev.empty:
        raise ValueError(f"the static corpus needs train and dev rows; got {len(train)} train, {len(dev)} dev")
    return dev


def _datasets(frame: pd.DataFrame, cfg: RunConfig) -> tuple[FaceImageDataset, FaceImageDataset]:
    """Return the 8-class train set (augmented when cfg.augment) and the dev set of `frame`, normalised as the run's
    initial weights expect, read from their files when a batch needs them (memory independent of their number). The
    train set's targets are FER+'s vote shares (N, 8) when `frame` keeps the votes (soft targets), else class
    indices."""
    train, dev = frame[frame["split"] == "train"], _dev_rows(frame)
    normalisation = cfg.initialisation().normalisation
    make = lambda part, augment: FaceImageDataset(FaceFiles(part["path"], cfg.image_size),  # noqa: E731
                                                  class_index(part["label"], AFFECTNET), normalisation, augment)
    train_set = make(train, cfg.augment)
    return train_set.relabel(vote_shares(train)) if _votes(frame) else train_set, make(dev, False)


def _loading(cfg: RunConfig) -> dict[str, Any]:
    """train_classifier's reading, precision and memory options of `cfg`."""
    return {"loader_workers": cfg.loader_workers, "precision": cfg.precision,
            "recompute_activations": cfg.recompute_activations}


def _frozen_blocks(cfg: RunConfig, model: nn.Module) -> nn.Module:
    """The frozen blocks `features[:cfg.trainable_from]` of a backbone classifier, or of the first expert of an
    ExpertFusion (its experts share them)."""
    features = model.bank.unstack()[0] if isinstance(model, ExpertFusion) else model.features
    return features[:cfg.trainable_from]


def _frozen_activations(cfg: RunConfig, blocks: nn.Module, paths: tuple[str, ...], role: str) -> FeatureDataset:
    """Output of the frozen `blocks` for the images at `paths` (targets unset: relabel), computed once per run and
    kept in run_dir/frozen/<role>.pt for every model and notebook trained on the same blocks
    (moede.training.activation_cache)."""
    normalisation = cfg.initialisation().normalisation
    images = FaceImageDataset(FaceFiles(paths, cfg.image_size), [0] * len(paths), normalisation)
    activations = cached_block_activations(blocks, images, paths, cfg.run_dir / "frozen" / f"{role}.pt",
                                           normalisation, cfg.image_size, cfg.torch_device())
    return FeatureDataset(activations, images.targets)


def _trainable(cfg: RunConfig, model: nn.Module, train: FaceImageDataset, dev: FaceImageDataset,
               paths: tuple[tuple[str, ...], tuple[str, ...]]) -> tuple[nn.Module, Any, Any]:
    """What `train_classifier` trains: `model` on images, or, when cfg.trainable_from > 0, the model run from that
    block (FromBlock / FusionFromBlock) on the frozen blocks' cached activations; `paths`: train and dev images."""
    if not cfg.trainable_from:
        return model, train, dev
    blocks = _frozen_blocks(cfg, model)
    fit_train, fit_dev = (_frozen_activations(cfg, blocks, p, role).relabel(d.targets)
                          for p, d, role in zip(paths, (train, dev), ("train", "dev")))
    if isinstance(model, ExpertFusion):
        in_turn = torch.device(cfg.torch_device()).type == "cpu"  # faster there (FusionFromBlock); GPUs not measured
        return FusionFromBlock(model, cfg.trainable_from, in_turn), fit_train, fit_dev
    return FromBlock(model, cfg.trainable_from), fit_train, fit_dev


def _finished(trained: nn.Module, model: nn.Module) -> nn.Module:
    """`model` after training `trained` (what `_trainable` returned for it) in its checkpoint form, on the CPU, in
    eval mode."""
    if isinstance(trained, (FromBlock, FusionFromBlock)):
        trained.finish()
    return model.cpu().eval()


def _key(cfg: RunConfig, stage: str, frame: pd.DataFrame, **inputs: Any) -> dict[str, Any]:
    """The reuse key of `stage` (moede.stages.keys.STAGES) trained on `frame`'s faces from `inputs` (digests)."""
    return STAGES[stage].key(cfg, data=_data_digest(frame), **inputs)


def _predictions(dev: pd.DataFrame, result: TrainResult, classes: tuple[str, ...]) -> pd.DataFrame:
    """Dev-set predictions table: ids, labels, integer target and prediction, class probabilities."""
    probs = torch.softmax(torch.from_numpy(result.dev_logits), dim=1).numpy()
    table = dev[["sample_id", "path", "label"]].copy()
    table["target"], table["prediction"] = result.dev_targets, result.dev_predictions
    for i, name in enumerate(classes):
        table[f"prob_{name}"] = probs[:, i]
    return table


def _job(cfg: RunConfig, name: str, key: dict[str, Any], classes: tuple[str, ...], source: DataSource,
         dev: pd.DataFrame, train: Callable[[RunConfig, EpochCheckpoint], TrainResult]) -> Job:
    """The training (or reuse) of run_dir/models/<name>.pt, made with `key` (`_key`), beside results/<name>/; `train`
    runs on a config that records the settings it reads (moede.stages.keys.checked: key's stage must declare them)
    and resumes from (and writes) the epoch checkpoint of `key` beside the model's."""
    folder = cfg.run_dir / "results" / name
    path = cfg.run_dir / "models" / f"{name}.pt"

    def fit(cfg: RunConfig) -> Trained:
        seed = seed_everything(cfg.seed)
        result = train(cfg, EpochCheckpoint.beside(path, key, name))
        log.info("%s: trained in %.1f s (seed %d), best dev epoch %d", name, result.seconds, seed, result.best_epoch)
        return Trained(result.model, {
            "seed": seed, "best_epoch": result.best_epoch, "seconds": result.seconds, "precision": cfg.precision,
            "init": getattr(result.model, "moede_init", None),
            "normalisation": {k: list(v) for k, v in asdict(cfg.initialisation().normalisation).items()},
            "n_dev": len(dev),
            "dev": summary(result.dev_targets, result.dev_predictions, len(classes))},
            outputs={"history": result.history, "predictions": _predictions(dev, result, classes)})

    return Job(path, key, checked(key["stage"], cfg, fit), cfg.as_dict(), classes, source,
               needs=(folder / "history.csv", folder / "dev_predictions.csv"))


def _static_result(name: str, job: Job, trained: Trained) -> StaticResult:
    """The StaticResult of a trained or reused model; rank 0 writes the history, predictions and metrics of one
    trained now, a reused one's are read back."""
    history_file, predictions_file = job.needs
    if trained.reused:
        made = {"history": pd.read_csv(history_file),
                "predictions": pd.read_csv(predictions_file, dtype={"sample_id": str})}
    else:
        made = trained.outputs

        def write() -> None:
            write_csv(made["history"], history_file)
            write_csv(made["predictions"], predictions_file)
            write_json(trained.metrics, history_file.parent / "metrics.json")

        run_on_main(write)
    return StaticResult(name, trained.model, job.classes, made["history"], made["predictions"], trained.metrics,
                        job.source, job.path, reused=trained.reused)


def _train_or_reuse(cfg: RunConfig, name: str, key: dict[str, Any], classes: tuple[str, ...], source: DataSource,
                    dev: pd.DataFrame, train: Callable[[RunConfig, EpochCheckpoint], TrainResult]) -> StaticResult:
    """Reuse run_dir/models/<name>.pt and results/<name>/ when made with `key`; otherwise train, save and return."""
    job = _job(cfg, name, key, classes, source, dev, train)
    return _static_result(name, job, train_or_reuse_all([job])[0])


def train_sfer_stage(cfg: RunConfig, frame: pd.DataFrame | None = None) -> StaticResult:
    """Train (or reuse) the 8-class SFER: MobileNetV2, weighted cross-entropy, Adam, best dev epoch; Table 2."""
    frame = prepare_static(cfg) if frame is None else frame
    source = _frame_source(frame)
    dev_rows = _dev_rows(frame)

    def fit(cfg: RunConfig, resume: EpochCheckpoint) -> TrainResult:
        train, dev = _datasets(frame, cfg)
        model = build_backbone(cfg.backbone, len(AFFECTNET), cfg.initialisation()).module
        trained, fit_train, fit_dev = _trainable(cfg, model, train, dev, _split_paths(frame))
        result = train_classifier(trained, fit_train, fit_dev, n_classes=len(AFFECTNET), epochs=cfg.sfer_epochs,
                                  learning_rate=cfg.learning_rate, batch_size=cfg.batch_size,
                                  device=cfg.torch_device(), loss_weights=class_weights(train.targets, len(AFFECTNET)),
                                  select_by=cfg.static_select_by, optimizer_name=cfg.optimizer, seed=cfg.seed,
                                  desc="SFER", resume=resume, **_loading(cfg))
        result.model = _finished(trained, model)
        return result

    sfer = _train_or_reuse(cfg, "sfer", _key(cfg, "sfer", frame), AFFECTNET, source, dev_rows, fit)
    from moede.tables.static_tables import table2

    save_result(table2(sfer), "table2", cfg)
    return sfer


def _split_paths(frame: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The image paths of the train and of the dev split, in `_datasets` order."""
    return tuple(frame.loc[frame["split"] == "train", "path"]), tuple(frame.loc[frame["split"] == "dev", "path"])


def lora_rank(cfg: RunConfig) -> int | None:
    """The rank of cfg's LoRA experts, or None for the full experts (cfg.experts)."""
    return cfg.lora_rank if cfg.experts == "lora" else None


def _train_expert(cfg: RunConfig, sfer: nn.Module, train: FaceImageDataset, dev: FaceImageDataset,
                  paths: tuple[tuple[str, ...], tuple[str, ...]], index: int, emotion: str,
                  resume: EpochCheckpoint | None = None) -> TrainResult:
    """Fine-tune a copy of the SFER (cfg.experts 'full'), or LoRA adapters on it ('lora'), with a 2-class head on
    balanced 'emotion vs rest' epochs (`resume`: its epoch checkpoint, see moede.training.loop.fit). With soft
    targets (`train`'s (N, 8) vote shares) the expert's target is (1 - share, share) of its emotion and the balanced
    epochs draw the faces whose plurality emotion it is."""
    if cfg.experts == "lora":
        model = lora_expert_from_sfer(sfer, cfg.lora_rank, cfg.trainable_from)
    else:
        model = replace_head(copy.deepcopy(sfer), 2)
    model.moede_init = f"sfer:{getattr(sfer, 'moede_init', None)}"
    if train.targets.dim() == 2:
        shares = train.targets[:, index]
        positive = (train.targets.argmax(dim=1) == index).long()
        binary_train = train.relabel(torch.stack([1 - shares, shares], dim=1))
    else:
        binary_train = train.relabel((train.targets == index).long())
        positive = binary_train.targets
    binary_dev = dev.relabel((dev.targets == index).long())
    if int(positive.sum()) == 0:
        raise ValueError(f"no '{emotion}' images in the training split: the {emotion} expert cannot be trained; "
                         "use a corpus (or split) with training samples of every AffectNet emotion")
    trained, fit_train, fit_dev = _trainable(cfg, model, binary_train, binary_dev, paths)
    sampler = BalancedEpochSampler(positive, positive=1, seed=cfg.seed + index)
    result = train_classifier(trained, fit_train, fit_dev, n_classes=2, epochs=cfg.expert_epochs,
                              learning_rate=cfg.expert_learning_rate, batch_size=cfg.batch_size,
                              device=cfg.torch_device(), sampler=sampler, select_by=cfg.static_select_by,
                              optimizer_name=cfg.optimizer, seed=cfg.seed + index, desc=f"expert {emotion}",
                              resume=resume, **_loading(cfg))
    result.model = _finished(trained, model)
    return result


@torch.no_grad()
def expert_features(bank: ExpertBank, dataset: FaceImageDataset, batch_size: int = 64,
                    device: str = "cpu") -> torch.Tensor:
    """Return the bank's features of every image of `dataset` (no augmentation): (N, n_experts, 1280)."""
    from moede.features.extract import fast_extractor

    extractor = fast_extractor(bank).to(device)
    loader = torch.utils.data.DataLoader(dataset.relabel(dataset.targets, augment=False), batch_size=batch_size)
    return torch.cat([extractor(images.to(device)).cpu() for images, _ in tqdm(loader, desc="expert features",
                                                                                 leave=False)])


@torch.no_grad()
def _bank_features(cfg: RunConfig, bank: ExpertBank,
                   parts: Sequence[tuple[FaceImageDataset, tuple[str, ...], str]]) -> list[torch.Tensor]:
    """The bank's features (N, n_experts, D) of each part's images (dataset, its image paths, its role 'train' or
    'dev'): when the experts share frozen blocks (cfg.trainable_from > 0), only their later blocks run, on the run's
    cached activations of those blocks (run_dir/frozen/<role>.pt); otherwise `expert_features` on the images."""
    device, start = cfg.torch_device(), cfg.trainable_from
    experts = bank.unstack() if start else []
    if not start or shared_prefix_length(experts) < start:
        return [expert_features(bank, dataset, cfg.batch_size, device) for dataset, _, _ in parts]
    tails = SequentialExperts([expert[start:] for expert in experts]).eval().requires_grad_(False).to(device)
    features = []
    for _, paths, role in parts:
        activations = _frozen_activations(cfg, experts[0][:start], paths, role).features
        features.append(torch.cat([tails(batch.to(device)).cpu() for batch in tqdm(
            activations.split(cfg.batch_size), desc="expert features", leave=False)]))
    return features


def train_experts(cfg: RunConfig, frame: pd.DataFrame) -> dict[str, StaticResult]:
    """Train (or reuse) the eight binary emotion experts of kind cfg.experts from the SFER (emotion -> result)."""
    sfer = train_sfer_stage(cfg, frame)
    dev_rows = _dev_rows(frame)
    parent = checkpoint_digest(sfer.checkpoint)
    names = [expert_name(emotion, lora_rank(cfg)) for emotion in AFFECTNET]
    jobs = [_job(cfg, name, _key(cfg, "expert", frame, emotion=emotion, sfer=parent),
                 ("other", emotion), sfer.source, dev_rows,
                 lambda cfg, resume, index=index, emotion=emotion: _train_expert(
                     cfg, sfer.model, *_datasets(frame, cfg), _split_paths(frame), index, emotion, resume))
            for index, (emotion, name) in enumerate(zip(AFFECTNET, names))]
    trained = train_or_reuse_all(jobs, spread=True)  # under torchrun: one expert per rank at a time
    return {emotion: _static_result(name, job, done) for emotion, name, job, done in zip(AFFECTNET, names, jobs,
                                                                                          trained)}


def train_experts_stage(cfg: RunConfig, frame: pd.DataFrame | None = None) -> ExpertsResult:
    """Train (or reuse) the eight binary emotion experts from the SFER; Table 1 and Table 4 (cosine similarity)."""
    frame = prepare_static(cfg) if frame is None else frame
    experts = train_experts(cfg, frame)
    sfer_source, dev_rows = experts[AFFECTNET[0]].source, _dev_rows(frame)
    similarity_file = cfg.run_dir / "results" / "experts_similarity.json"
    digests = [checkpoint_digest(e.checkpoint) for e in experts.values()]

    def similarity_matrix() -> np.ndarray:
        cached = json.loads(similarity_file.read_text()) if similarity_file.is_file() else {}
        if cached.get("experts") == digests:
            return np.asarray(cached["matrix"])
        bank = ExpertBank([e.model for e in experts.values()]).freeze()
        (features,) = _bank_features(cfg, bank, [(_datasets(frame, cfg)[1], _split_paths(frame)[1], "dev")])
        matrix = expert_cosine_matrix(features)
        write_json({"experts": digests, "emotions": list(AFFECTNET), "matrix": matrix.tolist()}, similarity_file)
        return matrix

    similarity = run_on_main(similarity_matrix)
    result = ExpertsResult(experts, similarity, sfer_source, dev_rows)
    from moede.tables.static_tables import table1, table4

    save_result(table1(result), "table1", cfg)
    save_result(table4(result), "table4", cfg)
    return result


def train_fusion_stage(cfg: RunConfig, frame: pd.DataFrame | None = None) -> FusionResult:
    """Train (or reuse) the FFE and FTFE fusions of the eight experts for 8-class recognition; Table 3.

    FFE's experts are frozen: without augmentation their features of the train and dev images are computed once and
    only the fusion head is trained on them; with it (the full profile: "trained similarly to the eight-class model")
    the frozen bank runs on every augmented batch. FTFE fine-tunes the experts end to end."""
    frame = prepare_static(cfg) if frame is None else frame
    experts = train_experts_stage(cfg, frame)
    dev_rows = _dev_rows(frame)
    parents = [checkpoint_digest(e.checkpoint) for e in experts.experts.values()]
    results = {}
    for name, fine_tune in (("ffe", False), ("ftfe", True)):
        def fit(cfg: RunConfig, resume: EpochCheckpoint, fine_tune: bool = fine_tune,
                name: str = name) -> TrainResult:
            train, dev = _datasets(frame, cfg)
            model = ExpertFusion(ExpertBank(experts.models()), n_classes=len(AFFECTNET), fine_tune=fine_tune,
                                 relu=cfg.fusion_relu)
            if fine_tune or cfg.augment:  # augmented images change every epoch: run the (frozen) bank on them
                trained, fit_train, fit_dev = _trainable(cfg, model, train, dev, _split_paths(frame))
            else:  # frozen experts, plain images: compute their features once, train only the head on them
                parts = list(zip((train, dev), _split_paths(frame), ("train", "dev")))
                fit_train, fit_dev = (FeatureDataset(features, dataset.targets) for features, (dataset, _, _)
                                      in zip(_bank_features(cfg, model.bank, parts), parts))
                trained = model.head
            result = train_classifier(trained, fit_train, fit_dev, n_classes=len(AFFECTNET),
                                      epochs=cfg.fusion_epochs, learning_rate=cfg.learning_rate,
                                      batch_size=cfg.batch_size, device=cfg.torch_device(),
                                      loss_weights=class_weights(train.targets, len(AFFECTNET)),
                                      select_by=cfg.static_select_by, optimizer_name=cfg.optimizer, seed=cfg.seed,
                                      desc=name.upper(), resume=resume, **_loading(cfg))
            result.model = _finished(trained, model)
            return result

        key = _key(cfg, "fusion", frame, fusion=name, experts=parents)
        results[name] = _train_or_reuse(cfg, name, key, AFFECTNET, experts.source, dev_rows, fit)
    fusion = FusionResult(results["ffe"], results["ftfe"])
    from moede.tables.static_tables import table3

    save_result(table3(fusion), "table3", cfg)
    return fusion

