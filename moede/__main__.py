"""`python -m moede ...`: the command line (see `python -m moede --help`)."""

from moede.cli import main

if __name__ == "__main__":  # guarded: worker processes are spawned and re-import this module
    raise SystemExit(main())
