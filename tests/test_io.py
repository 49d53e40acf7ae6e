"""Atomic writes: all or nothing, with the permissions of a plain write (the process's umask)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from moede.io import atomic_path, current_umask, write_csv, write_json


@pytest.fixture
def umask_027():
    """Run the test under umask 027, then restore the previous one."""
    previous = os.umask(0o027)
    yield 0o027
    os.umask(previous)


def test_written_files_follow_the_umask_not_mkstemp(tmp_path: Path, umask_027: int) -> None:
    assert current_umask() == umask_027
    json_file = write_json({"a": 1}, tmp_path / "a.json")
    csv_file = write_csv(pd.DataFrame({"x": [1]}), tmp_path / "sub" / "x.csv")
    for path in (json_file, csv_file):
        assert path.stat().st_mode & 0o777 == 0o640
    os.umask(0o022)
    assert write_json({}, tmp_path / "b.json").stat().st_mode & 0o777 == 0o644


def test_a_failed_block_leaves_neither_target_nor_temporary(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "t.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
