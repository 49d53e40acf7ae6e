"""Emotion vocabularies, dataset adapters and the embedded demo corpora (which corpus a run uses:
moede.stages.resolve)."""

from moede.data.affectnet import read_affectnet
from moede.data.cremad import cremad_label_agreement, cremad_partitions, find_partitions_dir, read_cremad
from moede.data.demo import demo_cremad, demo_msp_improv, demo_static
from moede.data.imagefolder import read_image_folder
from moede.data.mspimprov import msp_improv_partitions, read_msp_improv
from moede.data.schema import existing_media, validate_frame
from moede.data.splits import assign_speaker_splits, check_speaker_independent, speaker_partitions

__all__ = [
    "assign_speaker_splits", "check_speaker_independent", "cremad_label_agreement", "cremad_partitions",
    "demo_cremad", "demo_msp_improv", "demo_static", "existing_media", "find_partitions_dir", "msp_improv_partitions",
    "read_affectnet", "read_cremad", "read_image_folder", "read_msp_improv", "speaker_partitions", "validate_frame",
]
