"""`python -m moede ...`: the command line (see `python -m moede --help`)."""

from moede.cli import main

raise SystemExit(main())
