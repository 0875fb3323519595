"""The ``tesla-energy`` command line: argument parsing, dispatch and exit codes.

Each sub-command lives in ``collector/commands/<name>.py`` with ``register(subparsers)``; this
module only assembles them and turns expected failures (``CollectorError``) into one line on
stderr and exit code 1 (runtime) or 2 (bad usage / configuration). No traceback is shown for
an expected failure.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from collector import __version__
from collector.errors import CollectorError
from collector.log import redact_text

COMMAND_MODULES = (
    "run",
    "demo",
    "backfill",
    "sites",
    "status",
    "set",
    "tariff",
    "cost",
    "battery",
    "export",
    "budget",
    "check_config",
    "simulate",
)


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and one line on bad usage (its default, made explicit)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tesla-energy",
        description="Collect Tesla energy site data (Powerwall, solar, Wall Connector) from the "
        "Fleet API into InfluxDB, import its history, and change site settings.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help="TOML configuration file (default: $COLLECTOR_CONFIG)"
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", choices=["json", "console"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"collector.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CollectorError as exc:
        print(f"tesla-energy: error: {redact_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tesla-energy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
