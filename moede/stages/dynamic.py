"""Dynamic-FER stages for the notebooks: expert features of the clips, Table 5 (+ t-test, Table 6), the Table 7
ablation and Table 8 (MSP-IMPROV).

Every stage works in `cfg.run_dir` and reuses what exists:
- the static stages' checkpoints models/expert_<emotion>.pt (FFE bank), models/ftfe.pt (its fine-tuned bank = FTFE)
  and models/sfer.pt (SFE), trained or reused by `moede.stages.static.train_fusion_stage` on the configuration
  `experts_config` picks (demo_experts/ holds a second set when the demo clips need experts of the demo faces);
- features/<dataset>_<bank>.json + .f16: the feature caches (moede.features.cache), keyed by checkpoint digests and
  the settings the `features` stage of moede.stages.keys declares (alignment size, max_frames, frame_step, colour...);
- dfer/<dataset>/<model id>/partition_<k>.pt: each trained DFER model with its history and test predictions, in the
  folder of its stable id (VideoModel.id, not its table row), keyed by the settings the `dfer` stage declares plus
  its inputs (the features' key, the model's spec, the partition's split);
- results/: table5.csv, significance.csv, table6.csv, table7.csv, table8.csv, complexity.csv, dfer_runs.csv.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from torch import nn

from moede.config import RunConfig, seed_everything
from moede.data.corpus import find_corpus
from moede.data.emotions import CANONICAL, SHORT_NAMES, class_index
from moede.data.schema import landmarks_from
from moede.distributed import run_on_main
from moede.evaluation.floors import frame_vote_predictions, probe_predictions
from moede.evaluation.stats import matched_pair_test
from moede.features.cache import CacheSpec, FeatureCache, build_or_load_many
from moede.features.extract import aligned_frames_fn
from moede.features.frames import FRAMES_FORMAT
from moede.io import digest
from moede.models.baselines import BASELINES, SMALL_SIZES, UAVMVisual
from moede.models.checkpoint import checkpoint_digest, load_checkpoint
from moede.models.dfer import MoEDE, SingleExtractorLSTM
from moede.models.experts import ExpertBank
from moede.models.run_layout import DEMO_EXPERTS, MOEDE_ID, dfer_model_path, static_checkpoints
from moede.tables.dynamic_tables import (ABLATION_FULL, DIFFERENCE, MOEDE_ROW, SFE_ROW, auxiliary_results,
                                          clip_resampling, clip_units, colour_table, complexity_table, f1_differences,
                                          open_choices_table, pooled_table, scores, seed_spread_table, table5, table6,
                                          table7, table8)
from moede.paths import shown
from moede.sources import DataSource
from moede.stages.keys import STAGES, checked
from moede.stages.outputs import save_result
from moede.training.dynamic import feature_statistics, predict_clips, train_dfer
from moede.evaluation.predictions import Predictions
from moede.training.outcomes import DFERResults
from moede.training.resume import EpochCheckpoint
from moede.training.reuse import Job, Trained, train_or_reuse_all

FORMAT = "moede-dfer-run/1"
DRAWN_FACE_SIZE = 96  # the second expert set's faces: drawn at 128 px in flat shapes, they need no more (a third of
# the 160-px compute: about a minute of chapter 7 with ../shared)
IMAGENET_BANK = "imagenet"  # the untrained backbone, whose features the linear-probe floor reads
PROBE_ROW = "Linear probe on ImageNet features"
VOTE_ROW = "SFER per-frame vote (zero-shot)"
TABLE5_CORPUS = "cremad"  # the paper's Table 5 corpus: its chapter-5 tables keep the paper's names
TABLE8_CORPUS = "msp_improv"  # the corpus of the paper's generalization table (Table 8, chapter 7)
ModelFactory = Callable[["ClipShape"], nn.Module]  # what the clips look like -> an untrained model


class VideoModel(NamedTuple):
    """A video model trained per partition: its stable id (the folder of its checkpoints: renaming a table row
    retrains nothing), the feature bank it reads and the factory that builds it."""

    id: str
    bank: str
    factory: ModelFactory


@dataclass(frozen=True)
class ClipShape:
    """What a DFER model must be built for: the number of classes, the per-frame feature size and the longest clip
    (in frames) of the corpus' feature cache."""

    n_classes: int
    feature_dim: int
    longest_clip: int


@dataclass
class DFERFeatures:
    """One corpus' clips, its partitions and the feature caches of each expert bank ('ffe', 'ftfe', 'sfe')."""

    dataset: str
    classes: tuple[str, ...]
    clips: pd.DataFrame
    partitions: list[pd.DataFrame]
    caches: dict[str, FeatureCache]
    source: DataSource | None
    experts: str = ""  # which static run's experts made the features (experts_config)
    colour: str = "rgb"  # what the experts saw of the frames (moede.stages.resolve.frame_colour)
    checkpoints: dict[str, list[Path]] = field(default_factory=dict)  # the static models behind each bank


def experts_config(cfg: RunConfig, clips_are_demo: bool) -> RunConfig:
    """The configuration whose static experts feed DFER: `cfg` itself, except when cfg.dfer_experts is 'auto', the
    clips are the generated demo (drawn faces) and the static chapters learned from real photos: features of experts
    trained on real photos do not transfer to drawn faces (the DFER models stay at chance), so the same static
    stages are run on the drawn-face demo corpus, in run_dir/demo_experts, at no more than DRAWN_FACE_SIZE pixels."""
    from moede.stages.resolve import static_kind

    if cfg.dfer_experts == "static" or not clips_are_demo or static_kind(cfg) == "demo":
        return cfg
    return cfg.with_(static_corpus="demo", run_dir=cfg.run_dir / DEMO_EXPERTS,
                     image_size=min(cfg.image_size, DRAWN_FACE_SIZE))


def _ensure_static(cfg: RunConfig, banks: tuple[str, ...]) -> dict[str, list[Path]]:
    """Return the static checkpoints of `cfg` that `banks` need, after training them, or reusing them when made with
    cfg's settings: the fusions are trained only when the FTFE bank is asked for (FFE and SFE need the experts and
    the SFER only)."""
    from moede.stages.static import lora_rank, train_experts_stage, train_fusion_stage

    (train_fusion_stage if "ftfe" in banks else train_experts_stage)(cfg)
    paths = static_checkpoints(cfg.run_dir, lora_rank(cfg))
    return {name: paths[name] for name in banks if name in paths}


def _experts_text(cfg: RunConfig, experts_cfg: RunConfig) -> str:
    """One line saying which experts made the DFER features."""
    if experts_cfg is cfg:
        return f"DFER experts: those of the static chapters ({shown(cfg.run_dir / 'models')})"
    return (f"DFER experts: trained as in chapters 2-4 but on the drawn-face demo corpus "
            f"({shown(experts_cfg.run_dir)}), because the clips are drawn faces and the static chapters' experts "
            "learned from real photos (set dfer_experts='static' to use those)")


def _bank(name: str, paths: list[Path]) -> ExpertBank:
    """Frozen expert bank for 'ffe' (the eight experts), 'ftfe' (the fine-tuned fusion's bank) or 'sfe' (SFER)."""
    if name == "ffe":
        return ExpertBank([load_checkpoint(p)[0] for p in paths]).freeze()
    model, _ = load_checkpoint(paths[0])
    return (model.bank if name == "ftfe" else ExpertBank([model])).freeze()


def _imagenet_bank(cfg: RunConfig) -> ExpertBank:
    """The run's backbone at its initial (ImageNet) weights, untrained: the features of the linear-probe floor."""
    from moede.models.backbone import build_backbone

    return ExpertBank([build_backbone(cfg.backbone, len(CANONICAL), cfg.initialisation()).module]).freeze()


def _bank_spec(static_cfg: RunConfig, name: str, paths: dict[str, list[Path]], alignment: dict,
               index: Path) -> CacheSpec:
    """The feature cache (index file `index`) of bank `name` of `static_cfg`'s models, keyed by what made its
    weights: the checkpoints, or for IMAGENET_BANK the initial weights."""
    if name == IMAGENET_BANK:
        init = static_cfg.initialisation()
        made_by = {"init": init.kind, "weights": init.sha256, "backbone": static_cfg.backbone}
        build = lambda: _imagenet_bank(static_cfg)  # noqa: E731
    else:
        made_by = {"checkpoints": [checkpoint_digest(p) for p in paths[name]]}
        build = lambda: _bank(name, paths[name])  # noqa: E731
    return CacheSpec(build, {"bank": name, **made_by, **alignment}, index, static_cfg.initialisation().normalisation)


def _features(cfg: RunConfig, dataset: str, classes: tuple[str, ...], clips: pd.DataFrame,
              partitions: list[pd.DataFrame], banks: tuple[str, ...],
              checkpoints: Callable[[RunConfig, tuple[str, ...]], dict[str, list[Path]]] = _ensure_static,
              ) -> DFERFeatures:
    """Build or reuse the feature caches of `banks` for every clip of the partitions (each clip aligned once for all
    stale caches), from the static models `checkpoints` trains or reuses for the experts' configuration."""
    from moede.stages.resolve import frame_colour

    source = clips.attrs.get("source")
    static_cfg = experts_config(cfg, clips_are_demo=isinstance(source, DataSource) and source.kind == "demo")
    paths = checkpoints(static_cfg, banks)
    colour = frame_colour(static_cfg)
    clips = pd.concat(partitions).drop_duplicates("sample_id").drop(columns="split").reset_index(drop=True)
    clips = landmarks_from(clips, cfg.align_landmarks)
    alignment = STAGES["features"].key(static_cfg.with_(frame_colour=colour), aligner="moede.align.align_video",
                                       frames=FRAMES_FORMAT)  # features of frames stored another way are stale
    specs = [_bank_spec(static_cfg, name, paths, alignment, cfg.run_dir / "features" / f"{dataset}_{name}.json")
             for name in banks]
    store = cfg.run_dir / "aligned" / "video"
    frames = checked("features", static_cfg, lambda c: aligned_frames_fn(  # the settings it reads must key the caches
        c.image_size, c.max_frames, c.frame_step, colour, c.align_fill, store=store))()
    caches = build_or_load_many(clips, specs, frames, batch_size=cfg.batch_size, device=cfg.torch_device())
    return DFERFeatures(dataset, classes, clips, partitions, dict(zip(banks, caches)), source,
                        _experts_text(cfg, static_cfg), colour, paths)


def load_corpus(cfg: RunConfig, corpus: str) -> pd.DataFrame:
    """The clip table of video corpus `corpus` in this run (moede.stages.resolve.resolve_video: the user's corpus,
    a real copy in ../shared/data or the generated demo), attrs['source'] set."""
    from moede.stages.resolve import resolve_video

    return run_on_main(lambda: resolve_video(cfg, corpus))  # rank 0 generates a demo corpus


def load_clips(cfg: RunConfig) -> pd.DataFrame:
    """The CREMA-D clip table of this run (load_corpus)."""
    return load_corpus(cfg, TABLE5_CORPUS)


def load_msp_improv(cfg: RunConfig) -> pd.DataFrame:
    """The MSP-IMPROV clip table of this run (load_corpus)."""
    return load_corpus(cfg, TABLE8_CORPUS)


def given_partitions(cfg: RunConfig, clips: pd.DataFrame, corpus: str) -> str | None:
    """The one place that says where a corpus' published partition files are: the folder in
    cfg.extra['<corpus>_partitions_dir'] when given, else the one its reader found beside the clips
    (clips.attrs['partitions_dir']), else None (partitions are generated)."""
    return cfg.extra.get(f"{corpus}_partitions_dir") or clips.attrs.get("partitions_dir")


def corpus_features(cfg: RunConfig, corpus: str) -> DFERFeatures:
    """Video corpus `corpus`' clips, its partitions (its declaration's partition source, from the files
    `given_partitions` finds or generated, with the settings it names) and the feature caches of its banks."""
    from moede.stages.resolve import corpus_settings

    declared = find_corpus(corpus)
    clips = load_corpus(cfg, corpus)
    partitions = declared.partitions(clips, given_partitions(cfg, clips, corpus),
                                     **corpus_settings(cfg, declared.partition_settings))
    return _features(cfg, corpus, declared.classes, clips, partitions, declared.banks)


def cremad_features(cfg: RunConfig) -> DFERFeatures:
    """CREMA-D clips, their speaker-independent partitions (`cremad_partitions`: cfg.partitions of the
    label_consensus_{k}.csv files in cfg.extra['cremad_partitions_dir'] or beside the clips, cfg.actor_folds folds by
    actor when those leave too few clips to test, generated ones for the demo), and FFE/FTFE/SFE/ImageNet caches."""
    return corpus_features(cfg, TABLE5_CORPUS)


def msp_improv_features(cfg: RunConfig) -> DFERFeatures:
    """MSP-IMPROV clips, cfg.msp_improv_partitions session-independent partitions (the paper: six, each session the
    test set once; from the labels_consensus_{k}.csv files `given_partitions` finds, else generated),
    and FFE/SFE feature caches."""
    return corpus_features(cfg, TABLE8_CORPUS)


def _split(part: pd.DataFrame, cache: FeatureCache, classes: tuple[str, ...], split: str) -> tuple[list, list]:
    """Clip ids (with features) and class indices of one split of a partition."""
    rows = part[(part["split"] == split) & part["sample_id"].isin(cache.index.index)].sort_values("sample_id")
    return list(rows["sample_id"]), class_index(rows["label"], classes)


def partition_job(cfg: RunConfig, features: DFERFeatures, label: str, model: VideoModel, k: int) -> Job:
    """The training (or reuse, when trained with the same key) of `model` (table row `label`) on partition k
    (0-based) from its bank's features; its checkpoint's extra holds the test predictions and the training history."""
    cache, part = features.caches[model.bank], features.partitions[k]
    (train_ids, train_y), (dev_ids, dev_y), (test_ids, test_y) = (
        _split(part, cache, features.classes, s) for s in ("train", "dev", "test"))
    shape = ClipShape(len(features.classes), cache.feature_dim, int(cache.index["length"].max()))
    with torch.device("meta"):  # the spec only: no weights drawn (a MoEDE's 12.6M cost 0.13 s)
        spec = model.factory(shape).spec()
    key = STAGES["dfer"].key(cfg, format=FORMAT, features=digest(cache.key), model=spec, partition=k + 1,
                             split=digest([train_ids, train_y, dev_ids, dev_y, test_ids, test_y]))
    path = dfer_model_path(cfg.run_dir, features.dataset, model.id, k + 1)

    def fit(cfg: RunConfig) -> Trained:
        seed = seed_everything(cfg.seed + k)
        network = model.factory(shape)
        if cfg.standardize_features:
            network.standardize.fit(*feature_statistics(cache, train_ids))
        result = train_dfer(network, cache, train_ids, train_y, dev_ids, dev_y, epochs=cfg.dfer_epochs,
                            learning_rate=cfg.dfer_learning_rate, batch_size=cfg.clip_batch_size,
                            aux_weight=cfg.aux_weight, aux_reduction=cfg.aux_loss, optimizer_name=cfg.optimizer,
                            select_by=cfg.dfer_select_by,
                            seed=seed, device=cfg.torch_device(), desc=f"{label} [{k + 1}]",
                            resume=EpochCheckpoint.beside(path, key, f"{label} [{k + 1}]"))
        test = predict_clips(result.model, cache, test_ids, test_y, cfg.clip_batch_size, cfg.torch_device())
        best = result.history.loc[result.best_epoch - 1]  # the kept epoch's row (epochs count from 1)
        return Trained(result.model.cpu(), {"best_epoch": result.best_epoch,
                                            "best_dev_accuracy": float(best["dev_accuracy"])},
                       {"history": result.history.to_dict("list"), "test": test.to_payload()})

    config = {**cfg.as_dict(), "frame_colour": features.colour}  # as resolved: what predict shows the experts
    return Job(path, key, checked("dfer", cfg, fit), config, features.classes, features.source)


def clip_actors(features: DFERFeatures) -> dict[str, str]:
    """Each clip's actor (its `speaker`): the independent unit the tables' intervals resample; empty (clips then
    resampled one by one) for a clip table without speakers."""
    if "speaker" not in features.clips:
        return {}
    return dict(zip(features.clips["sample_id"], features.clips["speaker"].astype(str)))


def run_models(cfg: RunConfig, features: DFERFeatures, models: dict[str, VideoModel],
               n_partitions: int | None = None) -> DFERResults:
    """Train (or reuse) each model (table row -> VideoModel) on the first `n_partitions` partitions (None: all);
    collect test predictions. Under torchrun the models to train are dealt out one per rank."""
    results = DFERResults(features.dataset, features.classes, {}, {}, features.source, units=clip_actors(features))
    n = len(features.partitions) if n_partitions is None else min(n_partitions, len(features.partitions))
    jobs = [partition_job(cfg, features, label, model, k) for label, model in models.items() for k in range(n)]
    runs = iter(train_or_reuse_all(jobs, spread=True))
    for name in models:
        trained = [next(runs) for _ in range(n)]
        results.predictions[name] = [Predictions.from_payload(t.extra["test"]) for t in trained]
        results.histories[name] = [pd.DataFrame(t.extra["history"]) for t in trained]
        results.reused[name] = [t.reused for t in trained]
    return results


def _padded_length(readout: str, shape: ClipShape) -> int | None:
    """The models' padded length for RunConfig.readout: None reads the last real frame, else the longest clip."""
    return shape.longest_clip if readout == "after_padding" else None


def moede_factory(auxiliary: bool = True, experts_kept: list[int] | None = None,
                  readout: str = "last_valid") -> ModelFactory:
    """Factory of MoEDE models (8 experts, feature_dim -> 256 -> 256) with or without auxiliary classifiers."""
    return lambda shape: MoEDE(feature_dim=shape.feature_dim, n_classes=shape.n_classes, auxiliary=auxiliary,
                               experts_kept=experts_kept, padded_length=_padded_length(readout, shape))


def sfe_factory(readout: str = "last_valid", layers: int = 1) -> ModelFactory:
    """Factory of single-feature-extractor baselines with `layers` stacked LSTMs (RunConfig.sfe_layers)."""
    return lambda shape: SingleExtractorLSTM(feature_dim=shape.feature_dim, n_classes=shape.n_classes,
                                             padded_length=_padded_length(readout, shape), layers=layers)


def baseline_factory(name: str, sizes: str) -> ModelFactory:
    """Factory of the vision-only baseline `name` (moede.models.baselines) at the `sizes` of RunConfig.baselines
    ('paper' or 'small'); UAVM's position table covers the longest clip."""
    chosen = SMALL_SIZES[name] if sizes == "small" else {}

    def build(shape: ClipShape) -> nn.Module:
        extra = {"max_frames": shape.longest_clip} if name == UAVMVisual.name else {}
        return BASELINES[name](feature_dim=shape.feature_dim, n_classes=shape.n_classes, **chosen, **extra)

    return build


def baseline_models(cfg: RunConfig) -> dict[str, VideoModel]:
    """The baselines to train beside MoEDE (row name -> VideoModel on the 'sfe' features, id its registered name);
    none when cfg.baselines is 'none'. They read the SFE's features: one per-frame extractor, as each published
    model has."""
    if cfg.baselines == "none":
        return {}
    return {name: VideoModel(name.lower(), "sfe", baseline_factory(name, cfg.baselines)) for name in BASELINES}


def sfe_model(cfg: RunConfig) -> VideoModel:
    """The single-feature-extractor baseline (SFER features) under cfg's readout and sfe_layers."""
    return VideoModel("sfe", "sfe", sfe_factory(cfg.readout, cfg.sfe_layers))


def moede_model(cfg: RunConfig) -> VideoModel:
    """Table 5's MoEDE (auxiliary classifiers, FFE features) under cfg's readout."""
    return VideoModel(MOEDE_ID, "ffe", moede_factory(True, readout=cfg.readout))


def table5_models(cfg: RunConfig) -> dict[str, VideoModel]:
    """Table 5's rows to train (row name -> VideoModel): MoEDE with/without auxiliary classifiers on FFE and FTFE
    features, the SFE and the baselines of cfg.baselines."""
    return {MOEDE_ROW: moede_model(cfg),
            "MoEDE without auxiliary (FFE)": VideoModel("moede_ffe", "ffe", moede_factory(False, readout=cfg.readout)),
            "MoEDE with auxiliary (FTFE)": VideoModel("moede_aux_ftfe", "ftfe",
                                                      moede_factory(True, readout=cfg.readout)),
            "MoEDE without auxiliary (FTFE)": VideoModel("moede_ftfe", "ftfe",
                                                         moede_factory(False, readout=cfg.readout)),
            SFE_ROW: sfe_model(cfg), **baseline_models(cfg)}


def _runs_frame(results: DFERResults, select_by: str) -> pd.DataFrame:
    """One row per (model, partition): scores, the dev epoch kept (best by `select_by`: RunConfig.dfer_select_by)
    and whether it was reused."""
    rows = []
    for name, partitions in results.predictions.items():
        for k, predictions in enumerate(partitions):
            history = results.histories[name][k]
            best = history.loc[history[f"dev_{select_by}"].idxmax()]
            rows.append({"model": name, "partition": k + 1, **scores(predictions, results.classes),
                         "best_epoch": int(best["epoch"]), "dev_accuracy": best["dev_accuracy"],
                         "n_test": len(predictions.y_true), "reused": results.reused[name][k]})
    return pd.DataFrame(rows)


def table5_name(name: str, dataset: str) -> str:
    """The result name of chapter 5's table `name` on `dataset`: the paper's name for TABLE5_CORPUS, else suffixed
    with the dataset ('table5_<dataset>')."""
    return name if dataset == TABLE5_CORPUS else f"{name}_{dataset}"


def run_table5(cfg: RunConfig, features: DFERFeatures | None = None) -> DFERResults:
    """Table 5 (chapter 5) on a video corpus, CREMA-D unless `features` (corpus_features) are of another: MoEDE
    with/without auxiliary classifiers on FFE and FTFE features (the banks the corpus has), the SFE baseline and
    cfg.baselines, one model per partition; t-tests of every other row against SFE; writes results/table5.csv,
    table6.csv, significance.csv, significance_baselines.csv and dfer_runs.csv (table5_name: '_<corpus>' appended
    for another corpus). Pass `features` to skip re-checking the caches."""
    start = time.perf_counter()
    features = cremad_features(cfg) if features is None else features
    models = {name: model for name, model in table5_models(cfg).items() if model.bank in features.caches}
    results = run_models(cfg, features, models)
    results.significance = compute_significance(results, seed=cfg.seed)
    results.versus_baselines = moede_versus_baselines(results, MOEDE_ROW, seed=cfg.seed)
    named = functools.partial(table5_name, dataset=features.dataset)
    save_result(table5(results), named("table5"), cfg)
    save_result(table6(results), named("table6"), cfg)
    save_result(significance_frame(results), named("significance"), cfg)
    save_result(versus_baselines_frame(results), named("significance_baselines"), cfg)
    save_result(_runs_frame(results, cfg.dfer_select_by), named("dfer_runs"), cfg, index=False)
    print(f"Table 5: {len(results.predictions)} models x {len(features.partitions)} partitions in "
          f"{time.perf_counter() - start:.1f} s")
    return results


def paired_test(model: list[Predictions], baseline: list[Predictions], names: tuple[str, str], n_subsets: int,
                 seed: int):
    """One-tailed matched-pair t-test of `model` against `baseline` over the partitions' test subsets."""
    pairs = []
    for a, b in zip(model, baseline):
        if a.sample_ids != b.sample_ids:
            raise ValueError(f"{names[0]} and {names[1]} were tested on different clips; rerun both")
        pairs.append((a.y_true, a.y_pred, b.y_pred))
    return matched_pair_test(pairs, n_subsets=n_subsets, seed=seed)


def compute_significance(results: DFERResults, baseline: str = SFE_ROW, n_subsets: int = 5,
                         seed: int = 0) -> dict:
    """One-tailed matched-pair t-test (F1-macro on n_subsets subsets of each partition's test set) of every other
    row against `baseline`, as the paper's stars are: the MoEDE rows, the auxiliary classifiers and the published
    baselines (MoEDE is also tested against each of those: `moede_versus_baselines`)."""
    if baseline not in results.predictions:
        raise ValueError(f"no {baseline!r} predictions to test against")
    rows = dict(results.predictions)
    if MOEDE_ROW in rows:
        rows.update(auxiliary_results(rows[MOEDE_ROW]))
    base = rows.pop(baseline)
    return {name: paired_test(partitions, base, (name, baseline), n_subsets, seed)
            for name, partitions in rows.items()}


def moede_versus_baselines(results: DFERResults, moede_row: str, n_subsets: int = 5, seed: int = 0) -> dict:
    """One-tailed matched-pair t-tests of MoEDE (row `moede_row`) against each published baseline trained in
    `results` (baseline name -> test), on the same test subsets as `compute_significance`."""
    if moede_row not in results.predictions:
        return {}
    return {name: paired_test(results.predictions[moede_row], partitions, (moede_row, name), n_subsets, seed)
            for name, partitions in results.predictions.items() if name in BASELINES}


def _tests_frame(tests: dict, model: str, baseline: str, caption: str, results: DFERResults,
                 pairs: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """t-tests (row -> TTestResult) as a table: mean subset F1-macro of `model` and `baseline`, t, p, pairs, and
    beside them each row's paired bootstrap F1-macro difference (A, B rows of `pairs`) with its 95% interval."""
    columns = [f"F1-macro ({model})", f"F1-macro ({baseline})", "t", "p", "pairs", "significant", DIFFERENCE]
    if not tests:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({name: t.as_dict() for name, t in tests.items()}).T
    rows, units = dict(results.predictions), clip_units(results)
    if MOEDE_ROW in rows:
        rows.update(auxiliary_results(rows[MOEDE_ROW]))
    frame[DIFFERENCE] = pd.Series(f1_differences(rows, pairs, results.classes, units))
    frame = frame.rename(columns={"mean_a": columns[0], "mean_b": columns[1], "n": "pairs"})[columns]
    frame = frame.astype({columns[0]: float, columns[1]: float, "t": float, "p": float}).round(
        {columns[0]: 2, columns[1]: 2, "t": 2, "p": 4})
    frame.attrs.update(source=results.source, caption=caption,
                       interval=clip_resampling(rows, units).describe()
                       + "; the difference is of Table 5's F1-macro (mean over partitions), the t-test's of subsets")
    return frame


def significance_frame(results: DFERResults) -> pd.DataFrame:
    """The t-tests of `results` as a table: t, p (one-tailed), pairs, mean subset F1-macro of model and baseline,
    and the paired bootstrap F1-macro difference against the baseline."""
    baseline = SFE_ROW if SFE_ROW in results.predictions else "SFE"
    return _tests_frame(results.significance, "model", "SFE",
                        "One-tailed matched-pair t-test against the single feature extractor (p < 0.05 = *)",
                        results, {name: (name, baseline) for name in results.significance})


def versus_baselines_frame(results: DFERResults) -> pd.DataFrame:
    """MoEDE's one-tailed matched-pair t-tests against each published baseline trained in this run, with the paired
    bootstrap F1-macro difference MoEDE - baseline."""
    moede = MOEDE_ROW if MOEDE_ROW in results.predictions else "MoEDE"
    return _tests_frame(results.versus_baselines, "MoEDE", "baseline",
                        "One-tailed matched-pair t-test of MoEDE against each baseline (row), p < 0.05 = *",
                        results, {name: (moede, name) for name in results.versus_baselines})


def significance(cfg: RunConfig, results: DFERResults) -> pd.DataFrame:
    """The t-tests of the Table 5 models against SFE (computed by run_table5); also written to results/."""
    if not results.significance:
        results.significance = compute_significance(results, seed=cfg.seed)
    frame = significance_frame(results)
    save_result(frame, "significance", cfg)
    return frame


def run_ablation(cfg: RunConfig, features: DFERFeatures | None = None) -> DFERResults:
    """Table 7: MoEDE (auxiliary, FFE) without one expert at a time (rows 'Neu' ... 'Con') and the full model
    ('None (MoEDE)', the same trained models as Table 5's first row), on the first cfg.ablation_partitions
    partitions (None: all); writes results/table7.csv."""
    start = time.perf_counter()
    features = cremad_features(cfg) if features is None else features
    models = {SHORT_NAMES[e]: VideoModel(f"{MOEDE_ID}_without_{e}", "ffe", moede_factory(
        True, [j for j in range(len(CANONICAL)) if j != i], cfg.readout)) for i, e in enumerate(CANONICAL)}
    results = run_models(cfg, features, models, cfg.ablation_partitions)
    full = run_models(cfg, features, {MOEDE_ROW: moede_model(cfg)}, cfg.ablation_partitions)
    for store in ("predictions", "histories", "reused"):
        getattr(results, store)[ABLATION_FULL] = getattr(full, store)[MOEDE_ROW]
    save_result(table7(results), "table7", cfg)
    save_result(_runs_frame(results, cfg.dfer_select_by), "ablation_runs", cfg, index=False)
    print(f"Table 7: {len(models)} ablated models x {len(full.predictions[MOEDE_ROW])} partition(s) in "
          f"{time.perf_counter() - start:.1f} s")
    return results


def open_choice_variants(cfg: RunConfig) -> list[tuple[str, RunConfig]]:
    """MoEDE (auxiliary, FFE) under cfg's settings and with each of two choices the paper leaves open flipped: the
    readout (last real frame vs after the zero padding) and the auxiliary-loss combination (sum vs mean)."""
    other_readout = "after_padding" if cfg.readout == "last_valid" else "last_valid"
    other_aux = "mean" if cfg.aux_loss == "sum" else "sum"
    return [(f"this run's settings (readout {cfg.readout}, auxiliary loss {cfg.aux_loss})", cfg, MOEDE_ID),
            (f"readout {other_readout}", cfg.with_(readout=other_readout), f"{MOEDE_ID}_readout_{other_readout}"),
            (f"auxiliary loss {other_aux}", cfg.with_(aux_loss=other_aux), f"{MOEDE_ID}_aux_loss_{other_aux}")]


def run_open_choices(cfg: RunConfig, features: DFERFeatures | None = None) -> DFERResults:
    """MoEDE (auxiliary, FFE) trained with each of `open_choice_variants` on the partitions of the Table 7 ablation
    (cfg.ablation_partitions; the first row is Table 5's own models, reused), so the page shows how much the paper's
    unstated choices move Table 5's first row. Writes results/open_choices.csv."""
    features = cremad_features(cfg) if features is None else features
    results = DFERResults(features.dataset, features.classes, {}, {}, features.source, units=clip_actors(features))
    for row, variant, model_id in open_choice_variants(cfg):  # the first: Table 5's own models, reused
        model = VideoModel(model_id, "ffe", moede_factory(True, readout=variant.readout))
        trained = run_models(variant, features, {row: model}, cfg.ablation_partitions)
        for store in ("predictions", "histories", "reused"):
            getattr(results, store)[row] = getattr(trained, store)[row]
    table = open_choices_table(results)
    save_result(table, "open_choices", cfg)
    return results


def run_msp_improv(cfg: RunConfig, features: DFERFeatures | None = None) -> DFERResults:
    """Table 8: SFE, MoEDE (auxiliary, FFE) and the baselines of cfg.baselines on MSP-IMPROV's 4 classes with the
    CREMA-D hyperparameters, every row t-tested against the SFE and MoEDE against each baseline; writes
    results/table8.csv and significance_baselines_msp_improv.csv."""
    features = msp_improv_features(cfg) if features is None else features
    results = run_models(cfg, features, {"SFE": sfe_model(cfg), "MoEDE": moede_model(cfg), **baseline_models(cfg)})
    results.significance = compute_significance(results, "SFE", seed=cfg.seed)
    results.versus_baselines = moede_versus_baselines(results, "MoEDE", seed=cfg.seed)
    save_result(table8(results), "table8", cfg)
    save_result(versus_baselines_frame(results), "significance_baselines_msp_improv", cfg)
    save_result(_runs_frame(results, cfg.dfer_select_by), "msp_improv_runs", cfg, index=False)
    return results


def _sfer_vote(features: DFERFeatures) -> list[Predictions]:
    """The SFER's zero-shot per-frame vote over the corpus' classes, per partition (moede.evaluation.floors)."""
    sfer, meta = load_checkpoint(features.checkpoints["sfe"][0])
    return frame_vote_predictions(features.caches["sfe"], sfer.classifier, meta["classes"], features.partitions,
                                  features.classes)


def floor_predictions(features: DFERFeatures) -> dict[str, list[Predictions]]:
    """The floors of the video models on the same partitions (moede.evaluation.floors): a linear probe on the untrained
    backbone's features (when cached) and the SFER's zero-shot per-frame vote over the corpus' classes."""
    out = {}
    if IMAGENET_BANK in features.caches:
        out[PROBE_ROW] = probe_predictions(features.caches[IMAGENET_BANK], features.partitions, features.classes)
    out[VOTE_ROW] = _sfer_vote(features)
    return out


def run_pooled(cfg: RunConfig, features: DFERFeatures, results: DFERResults) -> pd.DataFrame:
    """Every test clip once: `results`' models pooled over partitions beside the floors; results/pooled.csv."""
    table = pooled_table(results, floor_predictions(features), features.classes)
    table.attrs["partitioning"] = features.partitions[0].attrs.get("partitioning")
    save_result(table, "pooled", cfg)
    return table


def run_seed_spread(cfg: RunConfig, features: DFERFeatures, results: DFERResults) -> pd.DataFrame:
    """Chapter 5's headline rows (MoEDE with auxiliary classifiers on FFE, the SFE) trained, or reused, with
    cfg.seed_spread DFER seeds: the run's seed (Table 5's models in `results`), then seed + 1, ... (each kept in a
    folder of its own, '<model id>_seed_<seed>', so Table 5's are never overwritten); the static models, folds and
    features stay the run's. Writes results/seed_spread.csv."""
    start = time.perf_counter()
    by_seed = {cfg.seed: results}
    for seed in range(cfg.seed + 1, cfg.seed + cfg.seed_spread):
        seeded = cfg.with_(seed=seed)
        models = {row: model._replace(id=f"{model.id}_seed_{seed}")
                  for row, model in ((MOEDE_ROW, moede_model(seeded)), (SFE_ROW, sfe_model(seeded)))}
        by_seed[seed] = run_models(seeded, features, models)
    table = seed_spread_table(by_seed)
    save_result(table, "seed_spread", cfg)
    print(f"Seed spread: {cfg.seed_spread} DFER seed(s) in {time.perf_counter() - start:.1f} s")
    return table


def colour_features(cfg: RunConfig, features: DFERFeatures) -> DFERFeatures:
    """The same clips and partitions with the experts shown frames in the other colour than `features`' (grey <->
    RGB): FFE and SFE caches of their own (dataset '<dataset>_<colour>')."""
    other = "rgb" if features.colour == "grey" else "grey"
    return _features(cfg.with_(frame_colour=other), f"{features.dataset}_{other}", features.classes, features.clips,
                     features.partitions, ("ffe", "sfe"))


def run_colour_comparison(cfg: RunConfig, features: DFERFeatures) -> pd.DataFrame:
    """What the colour of the frames costs: MoEDE (auxiliary, FFE) trained and tested, and the SFER's zero-shot
    per-frame vote, on the frames in this run's colour and in the other (each clip tested once, partitions pooled);
    this run's MoEDE is Table 5's, reused. Writes results/colour.csv."""
    by_colour = {}
    for variant in (features, colour_features(cfg, features)):
        trained = run_models(cfg, variant, {MOEDE_ROW: moede_model(cfg)})
        floors = {VOTE_ROW: _sfer_vote(variant)}  # the comparison reads only the vote
        by_colour[variant.colour] = pooled_table(trained, floors, variant.classes)
    table = colour_table(by_colour, this_run=features.colour)
    save_result(table, "colour", cfg)
    return table


def run_complexity(cfg: RunConfig) -> pd.DataFrame:
    """Section IV.C complexity table; written to results/complexity.csv."""
    table = complexity_table(backbone=cfg.backbone)
    save_result(table, "complexity", cfg)
    return table


def run_dynamic(cfg: RunConfig) -> dict[str, pd.DataFrame]:
    """Everything dynamic in one call: Tables 5-8, the t-tests and the complexity table (all written to results/)."""
    features = cremad_features(cfg)
    dfer = run_table5(cfg, features)
    return {"table5": table5(dfer), "significance": significance_frame(dfer), "table6": table6(dfer),
            "table7": table7(run_ablation(cfg, features)), "table8": table8(run_msp_improv(cfg)),
            "complexity": run_complexity(cfg)}
