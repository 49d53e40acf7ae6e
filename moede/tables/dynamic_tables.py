"""Tables 5-8 and the complexity table (Section IV.C) from DFER predictions, in the paper's row and column labels.

Scores are percent, the mean over partitions of each partition's test-set score. Per-emotion columns are per-class
F1: in the paper's Table 5 the six emotion columns average to its F1-macro column in every row (e.g. MoEDE FFE:
(82.3 + 95.6 + 47.6 + 77.5 + 67.4 + 76.7) / 6 = 74.5), which holds for per-class F1 and not for recall/precision.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from moede.data.corpus import CORPORA
from moede.data.emotions import CANONICAL, CREMAD, MSP_IMPROV, PAPER_NAMES, SHORT_NAMES
from moede.evaluation import bootstrap
from moede.evaluation.complexity import PAPER_BACKBONE, complexity_numbers
from moede.evaluation.power import ALPHA, POWER, bootstrap_items_needed, power_row
from moede.evaluation.metrics import confusion, per_class, summary
from moede.evaluation.similarity import expert_cosine_matrix, similarity_frame
from moede.evaluation.stats import TTestResult
from moede.tables.figures import confusion_matrix_figure, training_curves
from moede.tables.paper import paper_complexity, paper_table
from moede.evaluation.predictions import Predictions
from moede.training.outcomes import DFERResults
from moede.models.baselines import BASELINES
from moede.models.run_layout import MOEDE_ROW

OVERALL = ("F1-macro", "F1-weighted", "Accuracy")
SFE_ROW = "Single feature extractor"
ABLATION_FULL = "None (MoEDE)"
INTERVALS = {metric: f"{metric} [95% interval]" for metric in ("F1-macro", "Accuracy")}  # metric -> its column
DIFFERENCE = "F1-macro difference [95% interval]"  # a paired bootstrap difference beside a t-test


def scores(predictions: Predictions, classes: Sequence[str], y_pred: np.ndarray | None = None) -> dict[str, float]:
    """F1-macro, F1-weighted, accuracy and per-class F1 (columns named by PAPER_NAMES), in percent."""
    y_pred = predictions.y_pred if y_pred is None else y_pred
    overall = summary(predictions.y_true, y_pred, len(classes))
    f1 = per_class(confusion(predictions.y_true, y_pred, len(classes)))["F1-score"]
    row = {"F1-macro": overall["f1_macro"], "F1-weighted": overall["f1_weighted"], "Accuracy": overall["accuracy"]}
    row.update({PAPER_NAMES[c]: float(v) for c, v in zip(classes, f1)})
    return row


def score_table(results: Mapping[str, Sequence[Predictions]], classes: Sequence[str],
                columns: Sequence[str]) -> pd.DataFrame:
    """One row per entry of `results` (row name -> per-partition predictions): mean over partitions, 2 decimals."""
    rows = {}
    for name, partitions in results.items():
        if not partitions:
            raise ValueError(f"no partition results for row {name!r}")
        rows[name] = pd.DataFrame([scores(p, classes) for p in partitions]).mean()
    table = pd.DataFrame(rows).T[list(columns)].round(2)
    table.attrs["partitions"] = {name: len(p) for name, p in results.items()}
    return table


def auxiliary_results(partitions: Sequence[Predictions], experts: Sequence[str] = CANONICAL) -> dict[str, list]:
    """Turn a MoEDE-with-auxiliary model's predictions into one 'Auxiliary <Emotion>' entry per auxiliary classifier
    (each predicts from its own LSTM_emo's last valid step)."""
    out: dict[str, list[Predictions]] = {}
    for k, emotion in enumerate(experts):
        out[f"Auxiliary {PAPER_NAMES[emotion]}"] = [
            Predictions(p.sample_ids, p.y_true, p.aux_logits[:, k], None, p.emo_last[:, k:k + 1])
            for p in partitions]
    return out


Results = DFERResults | Mapping[str, Sequence[Predictions]]
Rows = Mapping[str, Sequence[Predictions]]


def clip_units(results: Results) -> dict[str, str] | None:
    """Clip id -> actor of a DFERResults that knows its clips' actors; None: each clip is its own unit."""
    return dict(results.units) if isinstance(results, DFERResults) and results.units else None


def _units_of(predictions: Predictions, units: Mapping[str, str] | None) -> list[Hashable]:
    """The resampled unit of each clip of `predictions`: its actor, or the clip itself."""
    return list(predictions.sample_ids) if units is None else [units[i] for i in predictions.sample_ids]


def clip_resampling(rows: Rows, units: Mapping[str, str] | None) -> bootstrap.Resampling:
    """The bootstrap draws of every actor (or clip, `units` None) of the clips of `rows`."""
    every = [u for partitions in rows.values() for p in partitions for u in _units_of(p, units)]
    return bootstrap.resampling(every, "clips" if units is None else "actors")


def _resampled(partitions: Sequence[Predictions], classes: Sequence[str], draws: bootstrap.Resampling,
               units: Mapping[str, str] | None) -> dict[str, np.ndarray]:
    """Accuracy and F1-macro (mean over partitions, as the tables) in each of `draws`' resamples."""
    sets = [(p.y_true, p.y_pred, _units_of(p, units)) for p in partitions]
    return bootstrap.resampled_scores(sets, len(classes), draws)


def with_intervals(table: pd.DataFrame, rows: Rows, classes: Sequence[str],
                   units: Mapping[str, str] | None) -> pd.DataFrame:
    """`table` (one row per entry of `rows`) with a 95% bootstrap interval column per metric of INTERVALS, resampling
    the clips' actors (moede.evaluation.bootstrap); attrs['interval'] says over how many, how often, which seed."""
    draws = clip_resampling(rows, units)
    samples = {name: _resampled(rows[name], classes, draws, units) for name in table.index if name in rows}
    for metric, column in INTERVALS.items():
        table[column] = [bootstrap.interval_text(*bootstrap.percentile_interval(samples[name][metric]))
                         if name in samples else None for name in table.index]
    table.attrs["interval"] = draws.describe()
    return table


def f1_differences(rows: Rows, pairs: Mapping[str, tuple[str, str]], classes: Sequence[str],
                   units: Mapping[str, str] | None) -> dict[str, str]:
    """Per entry (label -> rows A, B of `rows`): A's F1-macro minus B's (mean over partitions, as Table 5) with its
    95% paired bootstrap interval, the same actors drawn for both ('+1.2 [-8.0, +10.1]')."""
    draws = clip_resampling(rows, units)
    out = {}
    for label, (a, b) in pairs.items():
        point, resampled = _f1_gap(rows[a], rows[b], classes, draws, units)
        out[label] = f"{point:+.1f} {bootstrap.interval_text(*bootstrap.percentile_interval(resampled), signed=True)}"
    return out


def _f1_gap(a: Sequence[Predictions], b: Sequence[Predictions], classes: Sequence[str], draws: bootstrap.Resampling,
            units: Mapping[str, str] | None) -> tuple[float, np.ndarray]:
    """A's F1-macro minus B's (mean over partitions) and the same difference in each of `draws`' resamples."""
    f1 = lambda parts: np.mean([bootstrap.f1_macro(confusion(p.y_true, p.y_pred, len(classes))[None])[0]  # noqa: E731
                                for p in parts])  # metrics.summary's F1-macro, without its tables
    point = f1(a) - f1(b)
    resampled = _resampled(a, classes, draws, units)["F1-macro"] - _resampled(b, classes, draws, units)["F1-macro"]
    return float(point), resampled


def _unpack(results: Results) -> tuple[dict[str, Sequence[Predictions]], dict]:
    """Row -> predictions and extra attrs (data source) of a DFERResults or a plain mapping."""
    if isinstance(results, DFERResults):
        return dict(results.predictions), {"source": results.source, "dataset": results.dataset}
    return dict(results), {}


def table5(results: Results, significance: Mapping[str, TTestResult] | None = None,
           classes: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 5: DFER on CREMA-D (or the video corpus of a DFERResults), rows as in the paper (MoEDE variants,
    'Auxiliary <Emotion>', 'Single feature extractor'), mean over partitions, per-class F1 of `classes` (None: the
    DFERResults' classes, else CREMA-D's). `results` maps row names to per-partition predictions; the auxiliary rows
    are added from the MoEDE-with-auxiliary (FFE) predictions when not given. With `significance` (row -> one-tailed
    t-test against SFE; taken from a DFERResults' own tests when not given) the columns 'p (vs SFE)' and
    'significant' (p < 0.05, the paper's star) are added."""
    if significance is None and isinstance(results, DFERResults):
        significance = results.significance
    if classes is None:
        classes = results.classes if isinstance(results, DFERResults) else CREMAD
    title = _corpus_title(results.dataset) if isinstance(results, DFERResults) else "CREMA-D"
    original = results
    results, attrs = _unpack(results)
    if MOEDE_ROW in results and not any(name.startswith("Auxiliary") for name in results):
        results.update(auxiliary_results(results[MOEDE_ROW]))
    ordered = {name: results[name] for name in paper_table("table5").index if name in results}
    ordered.update({name: p for name, p in results.items() if name not in ordered})
    columns = [*OVERALL, *(PAPER_NAMES[c] for c in classes)]  # CREMA-D's: the paper's Table 5 columns
    table = _with_uncertainty(score_table(ordered, classes, columns), original, ordered, classes, SFE_ROW)
    table = _with_significance(table, significance)
    table.attrs.update(attrs, caption=f"DFER on {title} (this run), mean over partitions; per-emotion columns are F1")
    return table


def _with_uncertainty(table: pd.DataFrame, results: Results, rows: Rows, classes: Sequence[str],
                      baseline: str) -> pd.DataFrame:
    """`table` with the intervals of `with_intervals` and, when `baseline` is a row, each other row's paired F1-macro
    difference against it (`f1_differences`)."""
    units = clip_units(results)
    table = with_intervals(table, rows, classes, units)
    if baseline in rows:
        pairs = {name: (name, baseline) for name in table.index if name != baseline}
        differences = f1_differences(rows, pairs, classes, units)
        table[f"{DIFFERENCE} vs {'SFE' if baseline == SFE_ROW else baseline}"] = [
            differences.get(name) for name in table.index]
    return table


def _corpus_title(dataset: str) -> str:
    """The title of the registered video corpus named `dataset` (moede.data.corpus), or the name itself."""
    return CORPORA[dataset].title if dataset in CORPORA else dataset


def _with_significance(table: pd.DataFrame, significance: Mapping[str, TTestResult] | None) -> pd.DataFrame:
    """`table` with the columns 'p (vs SFE)' and 'significant' (p < 0.05, the paper's star) of `significance` (row ->
    one-tailed t-test against the SFE), when there are tests."""
    if significance:
        table["p (vs SFE)"] = [significance[n].p if n in significance else np.nan for n in table.index]
        table["significant"] = [bool(n in significance and significance[n].significant) for n in table.index]
        table.attrs["significant"] = [n for n in table.index if table.loc[n, "significant"]]
    return table


def pooled_table(results: Results, floors: Mapping[str, Sequence[Predictions]],
                 classes: Sequence[str] = CREMAD) -> pd.DataFrame:
    """Every test clip once: each row's test predictions of all partitions pooled (with folds by actor, every clip of
    the corpus, by models that never saw its actor), beside `floors` (row -> predictions, e.g. moede.evaluation.floors)
    and two references from the clips' labels: chance (1 / classes) and always answering the most frequent class."""
    rows, attrs = _unpack(results)
    pooled = {name: Predictions.pooled(partitions) for name, partitions in {**floors, **rows}.items()}
    kinds = {name: "floor" if name in floors else "trained on video" for name in pooled}
    clips = next(iter(pooled.values()))
    y_true = clips.y_true
    majority = int(np.bincount(y_true, minlength=len(classes)).argmax())
    pooled[f"Always '{classes[majority]}'"] = Predictions.from_scores(
        clips.sample_ids, y_true, np.eye(len(classes))[np.full(len(y_true), majority)])
    table = pd.DataFrame({name: {"kind": kinds.get(name, "reference"), "clips": len(p.y_true),
                                 **{k: v for k, v in scores(p, classes).items() if k in OVERALL}}
                          for name, p in pooled.items()}).T
    table.loc["Chance", ["kind", "clips", "Accuracy"]] = ["reference", len(y_true), 100 / len(classes)]
    numbers = ["Accuracy", "F1-macro", "F1-weighted"]
    table[numbers] = table[numbers].astype(float).round(2)
    table = with_intervals(table[["kind", *numbers, "clips"]], {name: [p] for name, p in pooled.items()}, classes,
                           clip_units(results))
    table.attrs.update(attrs, caption="Every test clip once (partitions pooled): the video models beside the floors")
    return table


def power_table(results: DFERResults, baselines: bool = False) -> pd.DataFrame:
    """How many clips and actors the paper's F1-macro gap of MoEDE over the SFE (and, with `baselines`, over each
    published baseline trained) would need for p < 0.05, one-tailed, at 80% power, beside how many are here: from
    the per-clip paired correctness differences of the pooled test clips (moede.evaluation.power, with the design
    effect of clips clustered by actor), and from the cluster bootstrap's standard error of the F1-macro gap."""
    moede, sfe, paper_name = ((MOEDE_ROW, SFE_ROW, "table5") if MOEDE_ROW in results.predictions
                              else ("MoEDE", "SFE", "table8"))
    paper = paper_table(paper_name)["F1-macro"]
    rows = results.predictions
    others = [sfe, *(name for name in BASELINES if baselines and name in rows)]
    units = clip_units(results)
    draws = clip_resampling(rows, units)
    table = {}
    for other in [name for name in others if name in rows]:
        a, b = Predictions.pooled(rows[moede]), Predictions.pooled(rows[other])
        if a.sample_ids != b.sample_ids:
            raise ValueError(f"{moede} and {other} were tested on different clips; rerun both")
        gap = float(paper[moede] - paper[other])
        difference = 100.0 * ((a.y_pred == a.y_true).astype(float) - (b.y_pred == b.y_true))
        here, resampled = _f1_gap(rows[moede], rows[other], results.classes, draws, units)
        table[f"{moede} vs {other}"] = {
            "paper's gap (F1-macro)": gap, "gap here (F1-macro)": here,
            **power_row(difference, None if units is None else _units_of(a, units), gap),
            "clips needed (bootstrap SE of the gap)": bootstrap_items_needed(float(np.nanstd(resampled)), gap,
                                                                             len(a.y_true))}
    frame = pd.DataFrame.from_dict(table, orient="index").round(2)
    frame.attrs.update(source=results.source, caption=(
        f"Clips (and actors) a one-tailed paired test at p < {ALPHA:g} with {100 * POWER:g}% power needs to find the "
        "paper's F1-macro gap, beside how many are here: n = ((z_0.95 + z_0.80) sd / gap)^2 from the per-clip "
        "difference 100 x (A right - B right) (the gap read as accuracy points), times the design effect "
        "1 + (clips per actor - 1) x intra-actor correlation (actors needed: at this run's clips per actor); the last "
        "column scales the actor bootstrap's standard "
        f"error of the F1-macro gap as 1 / sqrt(clips) ({draws.drawn()})"))
    return frame


def seed_spread_table(by_seed: Mapping[int, DFERResults], rows: Sequence[str] = (MOEDE_ROW, SFE_ROW)) -> pd.DataFrame:
    """The headline rows' pooled accuracy and F1-macro (every test clip once) per DFER seed, the first row's F1-macro
    gap over the second, then their mean, standard deviation and range over the seeds."""
    short = {MOEDE_ROW: "MoEDE", SFE_ROW: "SFE"}
    table = {}
    for seed, results in by_seed.items():
        row = {}
        for name in rows:
            pooled = scores(Predictions.pooled(results.predictions[name]), results.classes)
            row.update({f"{metric} ({short.get(name, name)})": pooled[metric] for metric in ("Accuracy", "F1-macro")})
        row["F1-macro gap"] = row[f"F1-macro ({short.get(rows[0], rows[0])})"] - row[
            f"F1-macro ({short.get(rows[1], rows[1])})"]
        table[f"seed {seed}" + (" (Table 5's models)" if not table else "")] = row
    frame = pd.DataFrame.from_dict(table, orient="index")
    summary_rows = pd.DataFrame({"mean over seeds": frame.mean(), "sd over seeds": frame.std(ddof=1),
                                 "max - min": frame.max() - frame.min()}).T
    first = next(iter(by_seed.values()))
    out = pd.concat([frame, summary_rows]).round(2)
    out.attrs.update(source=first.source, caption=(
        f"{' and '.join(rows)} trained with {len(by_seed)} DFER seeds (every test clip once, partitions pooled; gap: "
        f"{short.get(rows[0], rows[0])} - {short.get(rows[1], rows[1])}): only the DFER models' seed varies (their "
        "initial weights and batch order); the static models, the folds and the features are the run's"))
    return out


def colour_table(by_colour: Mapping[str, pd.DataFrame], this_run: str) -> pd.DataFrame:
    """One row per colour the frames were shown in (`pooled_table`s by colour), its rows' accuracy and F1-macro side
    by side; `this_run` marks the colour the run's other tables use."""
    rows = {}
    for colour, pooled in by_colour.items():
        models = pooled[pooled["kind"] != "reference"]
        rows[f"{colour} frames" + (" (this run)" if colour == this_run else "")] = {
            f"{metric} ({name})": pooled.loc[name, metric] for name in models.index for metric in ("Accuracy",
                                                                                                    "F1-macro")}
    table = pd.DataFrame(rows).T
    table.attrs.update(next(iter(by_colour.values())).attrs,
                       caption="The same clips and models with the frames shown in grey or in colour (pooled)")
    return table


def table6(results: Results | Sequence[Predictions], experts: Sequence[str] = CANONICAL) -> pd.DataFrame:
    """Table 6: 8x8 cosine similarity of the LSTM_emo last-valid-step outputs (256-d) on the test clips: per partition
    S[i, j] = mean over test clips of cos(h_i, h_j) (moede.evaluation.similarity.expert_cosine_matrix), then the mean
    over partitions. Takes the MoEDE-with-auxiliary (FFE) row of Table 5 results, or a list of its predictions."""
    attrs: dict = {}
    if isinstance(results, (DFERResults, Mapping)):
        rows, attrs = _unpack(results)
        if MOEDE_ROW not in rows:
            raise ValueError(f"table6 needs the {MOEDE_ROW!r} predictions; got rows {sorted(rows)}")
        partitions = rows[MOEDE_ROW]
    else:
        partitions = results
    if not partitions:
        raise ValueError("table6 needs the test predictions of at least one partition")
    matrix = np.mean([expert_cosine_matrix(p.emo_last) for p in partitions], axis=0)
    table = similarity_frame(matrix, experts)
    table.attrs.update(attrs, caption="Cosine similarity between the last-step outputs of the LSTM_emo (this run)")
    return table


def _rows_in_order(results: Results, order: Sequence[str], classes: Sequence[str], paper_name: str,
                   caption: str) -> pd.DataFrame:
    """Score table of the rows of `results` (all among `order`, shown in that order) in the paper's columns."""
    results, attrs = _unpack(results)
    unknown = sorted(set(results) - set(order))
    if unknown:
        raise ValueError(f"{paper_name} rows must be among {list(order)}, got {unknown}")
    table = score_table({n: results[n] for n in order if n in results}, classes,
                        list(paper_table(paper_name).columns))
    table.attrs.update(attrs, caption=caption)
    return table


def table7(results: Results, classes: Sequence[str] = CREMAD) -> pd.DataFrame:
    """Table 7: leave-one-expert-out ablation; rows are the excluded expert's short name ('Neu' ... 'Con') and
    'None (MoEDE)' for the full model, in the paper's order; the paper's columns (per-emotion F1)."""
    return _rows_in_order(results, [SHORT_NAMES[e] for e in CANONICAL] + [ABLATION_FULL], classes, "table7",
                          "Leave-one-expert-out ablation on CREMA-D (this run); row = excluded expert")


def table8(results: Results, classes: Sequence[str] = MSP_IMPROV) -> pd.DataFrame:
    """Table 8: MSP-IMPROV (4 classes), rows 'SFE', 'MoEDE' and the published baselines trained ('T-LSTM', 'UAVM',
    'VAVL', 'AuxFormer'), in the paper's order, mean over partitions, the paper's columns; with a DFERResults' tests
    against the SFE, the columns 'p (vs SFE)' and 'significant'."""
    significance = results.significance if isinstance(results, DFERResults) else None
    table = _rows_in_order(results, list(paper_table("table8").index), classes, "table8",
                           "Generalization to MSP-IMPROV (4 classes), this run, mean over partitions")
    return _with_significance(_with_uncertainty(table, results, _unpack(results)[0], classes, "SFE"), significance)


def open_choices_table(results: Results, classes: Sequence[str] = CREMAD) -> pd.DataFrame:
    """MoEDE (auxiliary, FFE) under this run's settings and with one unstated choice of the paper flipped per row:
    F1-macro, F1-weighted and accuracy, mean over partitions, and each row's change against the first."""
    rows, attrs = _unpack(results)
    table = score_table(rows, classes, list(OVERALL))
    table["F1-macro change"] = (table["F1-macro"] - table["F1-macro"].iloc[0]).round(2)
    table.attrs.update(attrs, caption="Two choices the paper leaves open, flipped one at a time (MoEDE with "
                                      "auxiliary classifiers, FFE; this run)")
    return table


def _banner(results: DFERResults) -> str | None:
    return results.source.banner() if results.source else None


def dfer_training_curves(results: DFERResults, row: str = MOEDE_ROW, partition: int = 1) -> Figure:
    """Training curves (main-classifier losses, dev accuracy and F1-macro) of one model on one partition (1-based)."""
    history = results.histories[row][partition - 1]
    return training_curves(history, title=f"{row}, partition {partition}", banner=_banner(results))


def dfer_confusion(results: DFERResults, row: str = MOEDE_ROW) -> Figure:
    """Confusion matrix of one model summed over the test sets of all partitions."""
    n = len(results.classes)
    matrix = sum(confusion(p.y_true, p.y_pred, n) for p in results.predictions[row])
    return confusion_matrix_figure(matrix, results.classes, title=f"{row}: test clips of all partitions",
                                   banner=_banner(results))


def _m(n: float) -> str:
    return f"{n / 1e6:.2f} M"


def complexity_table(n_classes: int = len(CREMAD), backbone: str = PAPER_BACKBONE) -> pd.DataFrame:
    """Section IV.C: the paper's complexity figures beside those of `backbone` experts (parameters from the models,
    FLOPs from torch.utils.flop_counter on a 60-frame 224x224 clip), with an explanation of every difference."""
    c = complexity_numbers(n_classes=n_classes, backbone=backbone)
    tera = 1e12
    rows = {
        "parameters per expert (M)": (
            c["expert_with_head"] / 1e6,
            f"torchvision MobileNetV2 with a 2-class head has {c['expert_with_head']:,} parameters "
            f"({_m(c['expert_with_head'])}); without the head {c['expert_backbone']:,}. The paper's 2.2 M is either, "
            "rounded to one decimal."),
        "parameters, eight experts (M)": (
            c["eight_backbones"] / 1e6,
            f"8 x {c['expert_backbone']:,} (feature extractor, no classification head) = {c['eight_backbones']:,} "
            f"= {_m(c['eight_backbones'])}, exactly the paper's 17.79 M: the paper counts the experts without "
            f"their 2-class heads, which DFER does not use (with heads: {c['eight_with_heads']:,})."),
        "parameters, fusion model (M)": (
            c["fusion"] / 1e6,
            f"8 LSTM_emo (1280->256) + LSTM_mix (2048->256) = {c['fusion_lstms']:,} (PyTorch LSTMs have two bias "
            f"vectors, b_ih and b_hh); + the {n_classes}-class main classifier and 8 auxiliary classifiers "
            f"(9 x 256 x {n_classes} + biases) = {c['fusion']:,} = {_m(c['fusion'])}. So the paper's 14.98 M must "
            f"include the LSTMs with both biases AND the auxiliary heads (without them: {c['fusion_without_aux']:,}; "
            f"one bias per LSTM, as in Keras: 14,951,424). The 0.01 M gap is rounding-level: with 8-class heads "
            f"it would be {c['fusion_8class_heads']:,} = 14.98 M."),
        "parameters, total (M)": (
            c["total"] / 1e6,
            f"{c['eight_backbones']:,} + {c['fusion']:,} = {c['total']:,}, which lies on the 32.765 M rounding "
            "boundary: 32.77 M rounded, 32.76 M truncated (the paper's own 17.79 + 14.98 = 32.77 differs from its "
            "32.76 by the same rounding)."),
        "storage at fp32 (MB)": (
            c["storage_mb"],
            f"{c['total']:,} x 4 bytes = {c['storage_mb']:.1f} MB (10^6 B) = {c['storage_mib']:.1f} MiB. The paper's "
            "122 MB is below both (its own 32.76 M x 4 B = 131.0 MB = 125.0 MiB); we cannot reproduce it from any "
            "parameter count it states (122 MiB would be 31.98 M parameters)."),
        "compute for a 60-frame clip (TFLOP)": (
            c["flops"] / tera,
            f"FlopCounterMode (2 FLOPs per multiply-accumulate, convolutions and matmuls only): 8 experts x "
            f"{c['frames']} frames at {c['size']}x{c['size']} = {c['expert_flops'] / tera:.4f} TFLOP, LSTMs "
            f"(counted on equivalent LSTMCell loops, since the counter reports 0 for nn.LSTM) "
            f"{c['lstm_flops'] / 1e9:.2f} GFLOP, heads {c['head_flops']:,} FLOP. The uncounted elementwise work "
            f"(batch norm, ReLU6, residual adds) adds about {c['elementwise_flops'] / tera:.3f} TFLOP, giving "
            f"{(c['flops'] + c['elementwise_flops']) / tera:.2f} TFLOP. The paper's 0.32 is "
            f"{100 * (0.32 * tera / c['flops'] - 1):.0f}% above the counted value and "
            f"{100 * (0.32 * tera / (c['flops'] + c['elementwise_flops']) - 1):.0f}% above the estimate with "
            "elementwise work; it is not a multiply-add vs FLOP convention difference (that would halve or double "
            "the number). The paper names neither its counting tool nor what it counts, so the rest of the gap is "
            "unexplained (a counter that also counts pooling, input normalisation or the LSTM gate arithmetic "
            "adds only a few GFLOP; a ~236x236 input instead of 224x224 would account for it)."),
    }
    if backbone != PAPER_BACKBONE:
        rows = {k: (value, f"counted from {backbone} experts (this run's backbone) as for MobileNetV2; the paper's "
                           "value is for its MobileNetV2 experts, so the two are not expected to agree")
                for k, (value, _) in rows.items()}
    paper = paper_complexity()
    table = pd.DataFrame({"paper": paper,
                          "this run": pd.Series({k: round(v[0], 2 if "TFLOP" not in k else 3)
                                                 for k, v in rows.items()}),
                          "explanation": pd.Series({k: v[1] for k, v in rows.items()})})
    table.attrs["caption"] = "Model complexity (Section IV.C): paper vs. counted from the models"
    table.attrs["numbers"] = c
    table.attrs["source"] = (f"counted from the model definitions ({backbone} experts, no data involved): the same "
                             "on every profile")
    return table
