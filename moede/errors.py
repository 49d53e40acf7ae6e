"""The errors a user can meet, and the exit code the command line returns for each kind (see README, Exit codes)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # a notebook or the site build failed, or an internal error (traceback with --debug)
EXIT_USAGE = 2  # a command-line option or setting has a value it cannot take
EXIT_INPUT = 3  # an input file or folder is missing, unreadable or not in the expected layout
EXIT_INTERRUPTED = 130  # Ctrl-C


class SettingError(ValueError):
    """A setting (option, --set, papermill parameter or RunConfig field) has a value outside what it allows."""


class InputDataError(ValueError):
    """A user's input file or folder cannot be used; the message names it and says what to fix."""
