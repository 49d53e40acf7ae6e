"""Emotion vocabularies, dataset adapters, the registry of video corpora and the embedded demo corpora (which corpus
a run uses: moede.stages.resolve). The demo writers are imported when first asked for: they draw with OpenCV."""

from typing import Any

from moede.data import corpora  # noqa: F401  (registers the built-in video corpora)
from moede.data.affectnet import read_affectnet
from moede.data.corpus import VideoCorpus, find_corpus, register_corpus, video_corpora
from moede.data.cremad import cremad_label_agreement, cremad_partitions, find_partitions_dir, read_cremad
from moede.data.imagefolder import read_image_folder
from moede.data.mspimprov import msp_improv_partitions, read_msp_improv
from moede.data.schema import existing_media, validate_frame
from moede.data.splits import assign_speaker_splits, check_speaker_independent, speaker_partitions

DEMO_WRITERS = ("demo_cremad", "demo_msp_improv", "demo_static")


def __getattr__(name: str) -> Any:
    """The demo writers (DEMO_WRITERS), imported from moede.data.demo on first use."""
    if name in DEMO_WRITERS:
        from moede.data import demo

        return getattr(demo, name)
    raise AttributeError(f"module 'moede.data' has no attribute {name!r}")


__all__ = [
    "VideoCorpus", "assign_speaker_splits", "check_speaker_independent", "cremad_label_agreement",
    "cremad_partitions", "demo_cremad", "demo_msp_improv", "demo_static", "existing_media", "find_corpus",
    "find_partitions_dir", "msp_improv_partitions", "read_affectnet", "read_cremad", "read_image_folder",
    "read_msp_improv", "register_corpus", "speaker_partitions", "validate_frame", "video_corpora",
]
