"""A per-dataset cache of frozen expert features: every clip's (T, E, 1280) float16 features in one file, plus an index.

On disk a cache is two files next to each other:
- `<name>.json` (the path you give): the key, its digest, the array shape and dtype, the index (sample_id, offset,
  length: rows `offset .. offset+length` of the array are the clip's frames), the clips that could not be aligned,
  and the data file's name and SHA-256;
- `<name>.<digest16>.f16`: all clips' features back to back, a raw C-order float16 array (n_frames, E, D) that is
  memory-mapped on load. Its name carries the key digest, so an index can never point at another key's data.

Both are written atomically (temporary file, then rename; the index last) without timestamps, clips in sample_id
order, so rebuilding from the same inputs gives byte-identical files, also under torchrun, where each rank extracts
a contiguous share of the clips into a part file and rank 0 concatenates them. The key is what the features depend on:
the experts' checkpoint digests, the alignment settings and a hash of the clip list; `build_or_load` reuses a cache
whose stored key equals the requested one (and says so) and rebuilds a stale one (and says why).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from moede.distributed import current, gather_objects, run_on_main
from moede.features.extract import FramesFn, extract_clip_features, fast_extractor, joint_extractor
from moede.io import atomic_path, digest, file_sha256, write_json
from moede.models.pretrained import IMAGENET_STATS, Normalisation

FORMAT = "moede-feature-cache/1"
DTYPE = "float16"
NOT_ALIGNED_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError)
"""Errors of one clip's alignment (NoFaceError is a ValueError, VideoReadError an OSError): the clip is dropped and
listed in the index instead of stopping the whole build."""


def clip_list_hash(clips: pd.DataFrame) -> str:
    """SHA-256 of the sorted clip ids with their video file sizes (a missing file counts as size -1)."""
    items = []
    for sample_id, path in sorted(zip(clips["sample_id"].astype(str), clips["path"].astype(str))):
        file = Path(path)
        items.append([sample_id, file.stat().st_size if file.is_file() else -1])
    return digest(items)


def full_key(clips: pd.DataFrame, key: dict) -> dict:
    """The key stored in a cache: the caller's key (experts, alignment) plus the format and the clip list hash."""
    stored = {**key, "format": FORMAT, "clips": clip_list_hash(clips)}
    return json.loads(json.dumps(stored, sort_keys=True, default=str))  # as it reads back from the index


@dataclass
class FeatureCache:
    """The cached features of one dataset for one expert bank; `clip(sample_id)` returns (T, E, D) float16."""

    path: Path
    key: dict
    index: pd.DataFrame  # sample_id (index), offset, length
    features: np.ndarray  # (n_frames, E, D) float16, memory-mapped
    dropped: dict[str, str] = field(default_factory=dict)  # sample_id -> why it has no features
    reused: bool = False

    @functools.cached_property
    def _spans(self) -> dict[str, tuple[int, int]]:
        """sample_id -> (first row, number of rows) in `features` (a dict: read once per clip and epoch)."""
        return {str(sample_id): (int(offset), int(length))
                for sample_id, offset, length in zip(self.index.index, self.index["offset"], self.index["length"])}

    def clip(self, sample_id: str) -> np.ndarray:
        """Return the (T, E, D) float16 features of one clip."""
        span = self._spans.get(sample_id)
        if span is None:
            why = self.dropped.get(sample_id, "it is not in the clip list the cache was built from")
            raise KeyError(f"clip {sample_id!r} has no features in {self.path}: {why}")
        offset, length = span
        return np.asarray(self.features[offset:offset + length])

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self.index.index

    def __len__(self) -> int:
        return len(self.index)

    @property
    def n_experts(self) -> int:
        """Number of experts E in the features."""
        return int(self.features.shape[1])

    @property
    def feature_dim(self) -> int:
        """Size D of each expert's feature vector (the backbone's num_features)."""
        return int(self.features.shape[2])

    @property
    def sample_ids(self) -> list[str]:
        """The cached clip ids, in storage order."""
        return list(self.index.index)


@dataclass(frozen=True)
class CacheSpec:
    """One cache to build: the expert bank (frames (B,3,H,W) -> (B,E,D)), or a function returning it (called only
    when the cache must be built), the caller's key, the index path and the frames' normalisation (stored in the
    key)."""

    bank: nn.Module | Callable[[], nn.Module]
    key: dict
    path: Path
    normalisation: Normalisation = IMAGENET_STATS  # of the frames fed to the bank: the experts' Initialisation's

    def module(self) -> nn.Module:
        """The expert bank itself."""
        return self.bank if isinstance(self.bank, nn.Module) else self.bank()


def data_path(index_path: Path, key_digest: str) -> Path:
    """The data file of the cache whose index is `index_path` and whose key digest is `key_digest`."""
    return index_path.with_name(f"{index_path.stem}.{key_digest[:16]}.f16")


def load_cache(path: str | Path, expected_key: dict | None = None) -> FeatureCache:
    """Load the cache indexed by `path`; raise ValueError if it is damaged or its key differs from `expected_key`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no feature cache index at {path}; build it with moede.features.build_or_load")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} index (format {meta.get('format')!r}); delete it to rebuild")
    if expected_key is not None and meta["key"] != expected_key:
        changed = sorted(k for k in set(meta["key"]) | set(expected_key) if meta["key"].get(k) != expected_key.get(k))
        raise ValueError(f"feature cache {path} is stale: its key differs in {changed}")
    data = path.with_name(meta["data_file"])
    shape = tuple(meta["shape"])
    expected_bytes = int(np.prod(shape)) * np.dtype(DTYPE).itemsize
    if not data.is_file() or data.stat().st_size != expected_bytes:
        raise ValueError(f"feature cache data {data} is missing or truncated (expected {expected_bytes} bytes)")
    features = (np.memmap(data, dtype=DTYPE, mode="r", shape=shape) if expected_bytes
                else np.zeros(shape, dtype=DTYPE))
    index = pd.DataFrame(meta["index"], columns=["sample_id", "offset", "length"]).set_index("sample_id")
    return FeatureCache(path=path, key=meta["key"], index=index, features=features, dropped=meta["dropped"])


@dataclass
class Shard:
    """What one rank extracted for its share of the clips: per bank a part file of features back to back (or nothing
    when no clip of the share could be aligned), the clips' [sample_id, n_frames] in order and the dropped clips."""

    parts: list[Path]
    index: list[list] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    shapes: list[tuple[int, ...] | None] = field(default_factory=list)


def part_path(target: Path, rank: int) -> Path:
    """The part file of rank `rank` for the data file `target` (merged into it, then deleted)."""
    return target.with_name(f".{target.name}.part{rank}")


def _extract_shard(clips: pd.DataFrame, specs: Sequence[CacheSpec], targets: Sequence[Path], frames_fn: FramesFn,
                   batch_size: int, device: str | torch.device, rank: int) -> Shard:
    """Align each clip of `clips` once and stream every bank's features into this rank's part files."""
    names = ", ".join(s.path.stem for s in specs)
    shard = Shard([part_path(t, rank) for t in targets], shapes=[None] * len(specs))
    banks = [spec.module() for spec in specs]
    same_input = all(spec.normalisation == specs[0].normalisation for spec in specs)
    joint = joint_extractor(banks) if same_input and len(specs) > 1 else None
    extractors = [fast_extractor(bank).to(device) for bank in banks] if joint is None else []
    if joint is not None:
        joint, counts = joint[0].to(device), joint[1]
    with contextlib.ExitStack() as renames:
        tmps = [renames.enter_context(atomic_path(part)) for part in shard.parts]
        with contextlib.ExitStack() as files:
            handles = [files.enter_context(open(tmp, "wb")) for tmp in tmps]
            for _, row in tqdm(clips.iterrows(), total=len(clips), desc=f"features ({names})", unit="clip"):
                sample_id = str(row["sample_id"])
                try:
                    frames = frames_fn(row)
                except NOT_ALIGNED_ERRORS as error:
                    shard.dropped[sample_id] = f"{type(error).__name__}: {error}"
                    continue
                if joint is not None:  # one pass; each bank's experts are its slice of the joint output
                    every = extract_clip_features(joint, frames, batch_size, device, specs[0].normalisation)
                    per_bank = np.split(every, np.cumsum(counts)[:-1], axis=1)
                else:
                    per_bank = [extract_clip_features(extractor, frames, batch_size, device, spec.normalisation)
                                for spec, extractor in zip(specs, extractors)]
                for i, (spec, bank_features) in enumerate(zip(specs, per_bank)):
                    feats = np.ascontiguousarray(bank_features)
                    if shard.shapes[i] is not None and feats.shape[1:] != shard.shapes[i]:
                        raise ValueError(f"bank for {spec.path} returned {feats.shape[1:]} features, "
                                         f"earlier {shard.shapes[i]}")
                    shard.shapes[i] = feats.shape[1:]
                    handles[i].write(feats.tobytes())
                shard.index.append([sample_id, len(frames)])
    return shard


def _merge(parts: Sequence[Path], target: Path) -> str:
    """Concatenate the part files into `target` atomically, deleting them; return the data's SHA-256."""
    if len(parts) == 1:  # one process: the part is the data file already
        os.replace(parts[0], target)
        return file_sha256(target)
    sha = hashlib.sha256()
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 24), b""):
                    sha.update(block)
                    out.write(block)
    for part in parts:
        part.unlink()
    return sha.hexdigest()


def _write_caches(clips: pd.DataFrame, specs: Sequence[CacheSpec], keys: Sequence[dict], frames_fn: FramesFn,
                  batch_size: int, device: str | torch.device) -> None:
    """Align each clip once and stream every bank's features into its data file; then write the indexes.

    Under torchrun each rank extracts a contiguous share of the clips (in sample_id order) into part files, and rank
    0 concatenates them: the files are byte for byte those of one process."""
    ordered = clips.sort_values("sample_id", kind="stable")
    ctx = current()
    digests = [digest(k) for k in keys]
    targets = [data_path(s.path, d) for s, d in zip(specs, digests)]
    share = np.array_split(np.arange(len(ordered)), ctx.world_size)[ctx.rank]
    shards = gather_objects(_extract_shard(ordered.iloc[share], specs, targets, frames_fn, batch_size, device,
                                           ctx.rank))
    index, dropped, offset = [], {}, 0
    for shard in shards:
        dropped.update(shard.dropped)
        for sample_id, length in shard.index:
            index.append([sample_id, offset, length])
            offset += length
    shapes = [next((s.shapes[i] for s in shards if s.shapes[i] is not None), None) for i in range(len(specs))]

    def merge_and_index() -> None:
        for i, (spec, key, key_digest, target) in enumerate(zip(specs, keys, digests, targets)):
            data_sha = _merge([s.parts[i] for s in shards], target)
            if not index:
                target.unlink()
                continue
            write_json({"format": FORMAT, "key": key, "key_digest": key_digest, "data_file": target.name,
                        "data_sha256": data_sha, "dtype": DTYPE, "shape": [offset, *shapes[i]],
                        "index": index, "dropped": dropped}, spec.path)
            for old in spec.path.parent.glob(f"{spec.path.stem}.*.f16"):
                if old != target:
                    old.unlink()

    run_on_main(merge_and_index)
    if not index:
        names = ", ".join(s.path.stem for s in specs)
        raise ValueError(f"no clip of {len(ordered)} could be aligned for {names}; first errors: "
                         f"{list(dropped.items())[:3]}")


def _stale(specs: Sequence[CacheSpec], keys: Sequence[dict], n_clips: int, log: Callable[[str], None]) -> list[int]:
    """The positions of the specs whose cache is missing, damaged or made with another key (saying why)."""
    stale = []
    for i, (spec, key) in enumerate(zip(specs, keys)):
        try:
            cache = load_cache(spec.path, key)
        except FileNotFoundError:
            log(f"building feature cache {spec.path} ({n_clips} clips)")
            stale.append(i)
        except ValueError as error:
            log(f"rebuilding feature cache: {error}")
            stale.append(i)
        else:
            log(f"reusing feature cache {spec.path} ({len(cache)} clips, key {digest(key)[:12]})")
    return stale


def build_or_load_many(clips: pd.DataFrame, specs: Sequence[CacheSpec], frames_fn: FramesFn, *,
                       batch_size: int = 64, device: str | torch.device = "cpu",
                       log: Callable[[str], None] = print) -> list[FeatureCache]:
    """Return one FeatureCache per spec, reusing each valid cache and rebuilding the missing or stale ones in ONE
    pass over the clips (each clip aligned once, then fed to every bank that needs it). Under torchrun rank 0
    decides what is stale and writes the caches; the clips are shared out between the ranks (`_write_caches`)."""
    if clips["sample_id"].duplicated().any():
        raise ValueError("clip sample_id values must be unique to build a feature cache")
    keys = [full_key(clips, {**spec.key, "normalisation": asdict(spec.normalisation)}) for spec in specs]
    stale = run_on_main(lambda: _stale(specs, keys, len(clips), log))
    if stale:
        _write_caches(clips, [specs[i] for i in stale], [keys[i] for i in stale], frames_fn, batch_size, device)
    caches = [load_cache(spec.path, key) for spec, key in zip(specs, keys)]
    for i, cache in enumerate(caches):
        cache.reused = i not in stale
        if cache.dropped and i in stale and current().is_main:
            log(f"{len(cache.dropped)} clip(s) without features in {cache.path}: {sorted(cache.dropped)[:5]}")
    return caches


def build_or_load(clips: pd.DataFrame, bank: nn.Module, key: dict, path: str | Path, frames_fn: FramesFn, *,
                  batch_size: int = 64, device: str | torch.device = "cpu",
                  log: Callable[[str], None] = print) -> FeatureCache:
    """Return the features of `clips` from `bank`, reusing the cache at `path` when its key matches, else building it.

    `key` must name everything the features depend on besides the clip list (e.g. the experts' checkpoint sha256
    digests and the alignment size/max_frames); `frames_fn(row)` returns a clip's aligned frames (T, H, W, 3) uint8.
    """
    return build_or_load_many(clips, [CacheSpec(bank, key, Path(path))], frames_fn, batch_size=batch_size,
                              device=device, log=log)[0]
