"""``python -m collector``: same as the ``tesla-energy`` console script."""

from collector.cli import main

raise SystemExit(main())
