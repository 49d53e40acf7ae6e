"""Ending the whole process tree on SIGTERM or SIGINT: every descendant (pool workers, a notebook's kernel and its
own workers, multiprocessing's resource tracker) is stopped, and no temporary file is left behind."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Iterator

import psutil

from moede.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from moede.io import remove_pending

PR_SET_PDEATHSIG = 1  # Linux prctl option: the signal a process gets when its parent dies


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the command: its process tree is already stopped; `code` is the exit code."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.code = EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED


def _is_resource_tracker(process: psutil.Process) -> bool:
    """Whether a process is multiprocessing's resource tracker (it ignores SIGTERM and ends by itself, after cleaning
    up, once every process holding its pipe has ended)."""
    with contextlib.suppress(psutil.Error):
        return "multiprocessing.resource_tracker" in " ".join(process.cmdline())
    return False


def end_descendants(grace_s: float = 3.0) -> int:
    """Terminate every descendant of this process but resource trackers (all found before the first is signalled,
    so the workers of a kernel are not orphaned first), kill those still alive after `grace_s`; return how many
    were stopped."""
    children = [child for child in psutil.Process().children(recursive=True) if not _is_resource_tracker(child)]
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=grace_s)
    return len(children)


def _interrupt(signum: int, _frame: object) -> None:
    """Signal handler of a command: ignore further signals, stop the process tree, unwind with Interrupted."""
    for name in (signal.SIGTERM, signal.SIGINT):
        signal.signal(name, signal.SIG_IGN)
    end_descendants()
    raise Interrupted(signum)


@contextlib.contextmanager
def ending_tree_on_signals() -> Iterator[None]:
    """While the block runs (in the main thread), SIGTERM and SIGINT stop every descendant and raise Interrupted
    (a KeyboardInterrupt) in it; the previous handlers are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {name: signal.signal(name, _interrupt) for name in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(name, handler)


def _worker_exit(signum: int, _frame: object) -> None:
    """SIGTERM in a pool worker: delete the file it is writing and exit at once."""
    remove_pending()
    os._exit(128 + signum)


def worker_signals() -> None:
    """In a pool worker: SIGTERM deletes the file being written and exits, SIGINT (a terminal's Ctrl-C reaches the
    whole group) is left to the parent, which stops the pool, and on Linux the worker gets SIGTERM when the parent
    dies, however it dies."""
    signal.signal(signal.SIGTERM, _worker_exit)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
