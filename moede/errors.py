"""The errors a user can meet, and the exit code the command line returns for each kind (see README, Exit codes)."""

from __future__ import annotations

EXIT_OK = 0  # every input gave its result or is reported (faceless, unreadable) in the outputs' summary
EXIT_FAILED = 1  # a notebook or the site build failed, or an internal error (traceback with --debug)
EXIT_USAGE = 2  # a command-line option or setting has a value it cannot take
EXIT_INPUT = 3  # an input is missing, unreadable or not in the expected layout: nothing usable was produced
EXIT_OUTPUT = 4  # an output could not be written (no space left, permission denied, path too long)
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (a time limit, `kill`)


class SettingError(ValueError):
    """A setting (option, --set, papermill parameter or RunConfig field) has a value outside what it allows."""


class InputDataError(ValueError):
    """A user's input file or folder cannot be used; the message names it and says what to fix."""


class OutputWriteError(OSError):
    """An output file could not be written; the message names the file and the cause (moede.io.write_failure)."""
