"""Frozen expert features of video clips, computed once per dataset and cached (Section IV.B: the CNNs are frozen)."""

from moede.features.cache import CacheSpec, FeatureCache, build_or_load, build_or_load_many, load_cache
from moede.features.extract import aligned_frames_fn, extract_clip_features, frames_to_tensor

__all__ = [
    "CacheSpec",
    "FeatureCache",
    "aligned_frames_fn",
    "build_or_load",
    "build_or_load_many",
    "extract_clip_features",
    "frames_to_tensor",
    "load_cache",
]
