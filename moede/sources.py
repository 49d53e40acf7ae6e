"""Where the data of a run comes from, so that every output can say it (demo, shared stand-in, or the real corpus)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from moede.paths import REPO_ROOT, shown


KINDS = {
    "demo": "embedded synthetic demo corpus (generated, no download): NOT the paper's data",
    "shared": "real stand-in data from ../shared/data: NOT the paper's corpus",
    "corpus": "the paper's corpus, read from a user-given path",
    "public": "a real public corpus read from a user-given path: NOT the paper's corpus",
}


@dataclass(frozen=True)
class DataSource:
    """A record of which corpus a result was computed on."""

    corpus: str
    kind: str
    root: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"data source kind must be one of {sorted(KINDS)}, got {self.kind!r}")

    def banner(self) -> str:
        """One line naming the corpus and warning when the numbers are not comparable with the paper."""
        where = f" at {shown(self.root)}" if self.root else ""
        return f"Data: {self.corpus}{where} ({KINDS[self.kind]})"

    def as_dict(self) -> dict[str, str | None]:
        """Return the record as a plain dict (for JSON metadata)."""
        return asdict(self)


def shared_data_root() -> Path | None:
    """Return ../shared/data next to the repository (or $MOEDE_SHARED_DATA) when it exists, else None."""
    candidate = Path(os.environ.get("MOEDE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    return candidate if candidate.is_dir() else None
