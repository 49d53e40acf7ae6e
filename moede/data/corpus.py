"""The registry of video corpora: each corpus is a plug-in, one `VideoCorpus` declaration registered by name.

A declaration says everything the rest of the package asks of a corpus: its name (the dataset name of its feature
caches and models, the root setting '<name>_root' and the option --<name>), its label set, how a root is checked and
read, where its published partition files are and how partitions are made, its generated demo corpus and the expert
banks its features need. Resolution, preflight, the command line and the stages look corpora up here instead of
naming them. The built-in declarations are in moede.data.corpora (how to add one: that package's docstring).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ClipReader = Callable[..., "pd.DataFrame"]  # (root, **read_settings) -> the clips with video, `split` unset
Partitioner = Callable[..., "list[pd.DataFrame]"]  # (clips, partitions_dir or None, **partition_settings)


@dataclass(frozen=True)
class VideoCorpus:
    """One video corpus: what it is called, its classes, and the functions that check, read and partition it."""

    name: str  # 'cremad': dataset name, root setting cremad_root (a RunConfig field, else extra['cremad_root'])
    title: str  # as the tables and messages name it, e.g. 'CREMA-D'
    classes: tuple[str, ...]  # canonical emotion names in class-index order (moede.data.emotions)
    read: ClipReader  # a root -> its clip table (columns of moede.data.schema, `landmarks` where known)
    check: Callable[[Path], "pd.DataFrame"]  # a root -> every labelled clip after reading every label and partition
    # file (media not checked): the preflight's layout check
    find_partitions: Callable[[Path], Path | None]  # a root -> the folder of its published partition files, or None
    partitions: Partitioner  # the clips -> its partitions, each with `split` filled (from the files when given)
    demo: Callable[[Path, int], Path]  # (folder, seed) -> the root of a generated demo corpus in its layout
    demo_title: str  # how the tables name the demo corpus
    banks: tuple[str, ...] = ("ffe", "sfe")  # the expert banks whose features its stages read ('ffe', 'ftfe',
    # 'sfe', 'imagenet': moede.stages.dynamic)
    read_settings: Mapping[str, str] = field(default_factory=dict)  # read's keyword -> the setting giving it
    partition_settings: Mapping[str, str] = field(default_factory=dict)  # partitions' keyword -> its setting
    shared: Callable[[Path], Path | None] | None = None  # ../shared/data -> a real copy inside it, or None
    demo_setting: str | None = None  # a setting whose value 'demo' always picks the demo corpus (video_corpus)
    chapters: str = ""  # the chapters of the book that read it, for `moede info`
    help: str = ""  # the help of its root option

    @property
    def root_setting(self) -> str:
        """The setting naming its root: '<name>_root' (a RunConfig field, or a key of RunConfig.extra)."""
        return f"{self.name}_root"

    @property
    def option(self) -> str:
        """The command-line option giving its root, e.g. '--msp-improv'."""
        return "--" + self.name.replace("_", "-")


CORPORA: dict[str, VideoCorpus] = {}
"""Every registered video corpus by name, in registration order."""


def register_corpus(corpus: VideoCorpus) -> VideoCorpus:
    """Add `corpus` to the registry (replacing one of the same name) and return it."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", corpus.name):
        raise ValueError(f"a corpus name is lower-case letters, digits and _ (it names settings), not {corpus.name!r}")
    CORPORA[corpus.name] = corpus
    return corpus


def video_corpora() -> tuple[VideoCorpus, ...]:
    """The registered video corpora, in registration order."""
    return tuple(CORPORA.values())


def find_corpus(name: str) -> VideoCorpus:
    """The registered video corpus `name`; a ValueError naming the registered ones otherwise."""
    if name not in CORPORA:
        raise ValueError(f"no video corpus {name!r} is registered; registered: {', '.join(CORPORA) or 'none'}")
    return CORPORA[name]
