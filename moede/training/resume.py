"""Epoch checkpoints, so that a killed training continues from its last finished epoch and ends as an uninterrupted
one would, bit for bit.

After each epoch the one training loop (moede.training.loop.fit) writes, atomically, everything the next epochs
depend on: the weights, the optimiser's state, the best epoch so far (its weights, score and dev logits), the history
rows, the Python/NumPy/torch random states and the state of every stateful object of the run (samplers, data-loader
generators, anything with state_dict()/load_state_dict(), a torch or NumPy generator), per rank under torchrun.
The file sits beside the model's final checkpoint and carries the digest of the stage's reuse key in its name and
inside: a checkpoint made with other settings is never resumed. Only rank 0 writes; every rank reads.
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from moede.distributed import broadcast_from_main, current, gather_objects, run_on_main
from moede.io import digest, write_bytes

FORMAT = "moede-epoch-checkpoint/1"
SUFFIX = ".resume"  # not .pt: the globs of final checkpoints (moede.predict.run_models) never see these

log = logging.getLogger(__name__)


def is_stateful(obj: object) -> bool:
    """Whether `obj`'s position can be saved and restored: a torch.Generator, a NumPy Generator, or anything with
    state_dict() and load_state_dict()."""
    return isinstance(obj, (torch.Generator, np.random.Generator)) or (
        callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None)))


def check_stateful(objects: Mapping[str, object]) -> None:
    """Refuse an object of `objects` whose state cannot be saved (it would resume from the wrong position)."""
    for name, obj in objects.items():
        if not is_stateful(obj):
            raise TypeError(f"stateful object {name!r} ({type(obj).__name__}) has neither state_dict()/"
                            "load_state_dict() nor get_state()/set_state(); give it those or leave it out")


def state_of(obj: object) -> Any:
    """The saved state of a stateful object (see is_stateful)."""
    if isinstance(obj, torch.Generator):
        return obj.get_state()
    if isinstance(obj, np.random.Generator):
        return obj.bit_generator.state
    return obj.state_dict()


def restore(obj: object, state: Any) -> None:
    """Put a stateful object back into a state that `state_of` returned."""
    if isinstance(obj, torch.Generator):
        obj.set_state(state)
    elif isinstance(obj, np.random.Generator):
        obj.bit_generator.state = state
    else:
        obj.load_state_dict(state)


def rng_states() -> dict[str, Any]:
    """This process's Python, NumPy (legacy global) and torch (CPU and every CUDA device) random states, as values
    torch.load(weights_only=True) reads back."""
    legacy = np.random.get_state(legacy=False)
    legacy["state"] = {"key": torch.from_numpy(legacy["state"]["key"].astype(np.int64)), "pos": legacy["state"]["pos"]}
    return {"python": random.getstate(), "numpy": legacy, "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore the random states that `rng_states` returned."""
    random.setstate(states["python"])
    legacy = dict(states["numpy"])
    legacy["state"] = {"key": legacy["state"]["key"].numpy().astype(np.uint32), "pos": legacy["state"]["pos"]}
    np.random.set_state(legacy)
    torch.set_rng_state(states["torch"])
    if states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])


def local_state(stateful: Mapping[str, object]) -> dict[str, Any]:
    """This rank's random states and the states of its stateful objects."""
    return {"rng": rng_states(), "stateful": {name: state_of(obj) for name, obj in stateful.items()}}


def restore_local(state: dict[str, Any], stateful: Mapping[str, object]) -> None:
    """Put this rank's random states and stateful objects back as `local_state` saved them."""
    set_rng_states(state["rng"])
    for name, obj in stateful.items():
        restore(obj, state["stateful"][name])


def plain(value: Any) -> Any:
    """`value` with NumPy scalars and arrays turned into Python numbers and tensors (for weights_only loading)."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


@dataclass(frozen=True)
class EpochCheckpoint:
    """Where a training keeps its epoch checkpoint (`path`), the digest of the settings it is made with (`key`) and
    the name of the model it trains (`label`, for the line a resumed run prints)."""

    path: Path
    key: str
    label: str

    @classmethod
    def beside(cls, final: str | Path, key: Any, label: str) -> EpochCheckpoint:
        """The epoch checkpoint of the model whose final checkpoint is `final`, trained with reuse key `key`
        (JSON-able): <final's stem>.<key digest>.resume in the same folder."""
        key_digest = digest(key)
        final = Path(final)
        return cls(final.with_name(f"{final.stem}.{key_digest[:16]}{SUFFIX}"), key_digest, label)

    def _read(self, epochs: int, world_size: int, names: list[str]) -> dict[str, Any] | None:
        """The checkpoint when it exists, is readable and was made with this key, `epochs`, `world_size` processes
        and the stateful objects `names`."""
        if not self.path.is_file():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable file is started afresh, never trusted
            log.warning("%s: unreadable (%s); training %s from the start", self.path, error, self.label)
            return None
        ranks = saved.get("ranks") or [{"stateful": {}}]
        made = (saved.get("format"), saved.get("key"), saved.get("epochs"), len(ranks), sorted(ranks[0]["stateful"]))
        if made != (FORMAT, self.key, epochs, world_size, sorted(names)):
            log.warning("%s: made with other settings (%s); training %s from the start", self.path, made[2:],
                        self.label)
            return None
        return saved

    def load(self, epochs: int, stateful: Mapping[str, object]) -> dict[str, Any] | None:
        """The saved progress of a training of `epochs` epochs with `stateful` objects, on every rank (rank 0 decides
        whether it is usable; every rank then reads it), or None: start from the first epoch."""
        ctx = current()
        if ctx.is_main:  # a write a kill interrupted leaves its temporary file (moede.io.atomic_path): never read
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp{SUFFIX}"):
                stale.unlink(missing_ok=True)
        found = self._read(epochs, ctx.world_size, list(stateful)) if ctx.is_main else None
        if not broadcast_from_main(found is not None):
            return None
        if found is None:
            found = torch.load(self.path, map_location="cpu", weights_only=True)
        else:
            tqdm.write(f"resuming {self.label} from epoch {len(found['rows'])} of {epochs} ({self.path})")
        return found

    def save(self, progress: dict[str, Any], stateful: Mapping[str, object]) -> None:
        """Write `progress` (weights, optimiser, best epoch, rows, epochs...) with every rank's random and stateful
        states, atomically, on rank 0; every rank continues once it is written."""
        ranks = gather_objects(local_state(stateful))

        def write() -> None:
            buffer = io.BytesIO()
            torch.save(plain({"format": FORMAT, "key": self.key, **progress, "ranks": ranks}), buffer)
            write_bytes(buffer.getvalue(), self.path)

        run_on_main(write)

    def restore_rank(self, saved: dict[str, Any], stateful: Mapping[str, object]) -> None:
        """Restore this rank's random states and stateful objects from a loaded checkpoint."""
        restore_local(saved["ranks"][current().rank], stateful)

    def remove(self) -> None:
        """Delete the epoch checkpoint (training is over: the final checkpoint is what reuse reads)."""
        run_on_main(lambda: self.path.unlink(missing_ok=True))
