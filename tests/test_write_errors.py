"""Writes that fail name their cause: out of space (with the free space and the size needed), permission denied,
a read-only file system, a path too long; the command exits 4 in one line and leaves no temporary file."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from moede.align import sample_photo
from moede.cli import main
from moede.errors import EXIT_OUTPUT, OutputWriteError
from moede.io import write_bytes, write_failure


def test_write_failure_names_each_cause(tmp_path: Path) -> None:
    target = tmp_path / "out" / "x.png"
    full = str(write_failure(OSError(errno.ENOSPC, "No space left on device"), target, needed=3 * 2**20))
    assert f"cannot write {target}: no space left on the device of {tmp_path}" in full
    assert "free, 3.0 MiB needed for this file" in full
    assert "permission denied in" in str(write_failure(PermissionError(errno.EACCES, "Permission denied"), target))
    assert "read-only file system" in str(write_failure(OSError(errno.EROFS, "Read-only file system"), target))


def test_a_name_too_long_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(OutputWriteError, match="path too long \\(a name of 300 characters.*allows 255 per name"):
        write_bytes(b"data", tmp_path / ("x" * 300))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder: permission cannot be denied")
def test_a_read_only_folder_is_permission_denied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), cv2.cvtColor(sample_photo(), cv2.COLOR_RGB2BGR))
    (tmp_path / "locked").mkdir(mode=0o555)
    assert main(["align", str(photo), str(tmp_path / "locked" / "out")]) == EXIT_OUTPUT
    assert "permission denied in" in capsys.readouterr().err


def _can_mount() -> bool:
    """Whether this user may mount a tmpfs in its own user and mount namespace (unshare)."""
    if shutil.which("unshare") is None:
        return False
    probe = "mkdir -p /tmp/moede-probe && mount -t tmpfs -o size=64k tmpfs /tmp/moede-probe"
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", probe],
                          capture_output=True).returncode == 0


def _align_on_tmpfs(tmp_path: Path, options: str) -> subprocess.CompletedProcess:
    """`moede align` of a photo into a tmpfs mounted with `options` over tmp_path/disk (a private mount namespace)."""
    photo, disk = tmp_path / "face.png", tmp_path / "disk"
    cv2.imwrite(str(photo), cv2.cvtColor(sample_photo(), cv2.COLOR_RGB2BGR))
    disk.mkdir()
    command = (f"mount -t tmpfs -o {options} tmpfs {disk} && {sys.executable} -m moede align {photo} {disk}/out "
               f"&& echo; code=$?; ls -A {disk}/out >&2; exit $code")
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", command],
                          capture_output=True, text=True, env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})


@pytest.mark.skipif(not _can_mount(), reason="this machine does not let the test mount a tmpfs (user namespaces off)")
def test_a_full_disk_names_the_free_space_and_the_size_needed(tmp_path: Path) -> None:
    done = _align_on_tmpfs(tmp_path, "size=16k")
    assert done.returncode == EXIT_OUTPUT, done.stderr
    line = [text for text in done.stderr.splitlines() if text.startswith("moede align:")]
    assert len(line) == 1 and "no space left on the device of" in line[0] and "KiB free" in line[0]
    assert "KiB needed for this file" in line[0] and "16.0 KiB free" in line[0]  # the partial file is gone
    assert "OpenCV could not write" not in done.stderr and "Traceback" not in done.stderr
    assert ".tmp" not in done.stderr  # `ls -A` of the output folder lists no temporary file


@pytest.mark.skipif(not _can_mount(), reason="this machine does not let the test mount a tmpfs (user namespaces off)")
def test_a_read_only_file_system_is_named(tmp_path: Path) -> None:
    done = _align_on_tmpfs(tmp_path, "ro")
    assert done.returncode == EXIT_OUTPUT, done.stderr
    assert "is on a read-only file system; write to another folder" in done.stderr and "Traceback" not in done.stderr
