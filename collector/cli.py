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

# command -> (module in collector.commands, one-line summary for the top-level --help).
# Only the module of the command being run is imported: ``--help``, ``--version`` and the
# light commands never load pandas, httpx or influxdb_client.
COMMANDS = {
    "run": ("run", "run the collector daemon"),
    "demo": ("demo", "run the collector against the built-in simulated site"),
    "backfill": ("backfill", "import history: energy buckets, backup events, charge sessions"),
    "sites": ("sites", "list the energy sites the token can see"),
    "status": ("status", "show live power flow and current settings"),
    "set": ("set", "change a site setting (backup reserve, mode, ...)"),
    "tariff": ("tariff", "validate, show, price and set time-of-use tariffs"),
    "cost": ("cost", "energy cost and savings per day or month, from the site's tariff"),
    "battery": ("battery", "battery health: efficiency, cycles, capacity"),
    "outages": ("battery", "every grid outage and the energy that carried the home through it"),
    "export": ("export", "export a measurement from InfluxDB to CSV or Parquet"),
    "budget": ("budget", "Fleet API requests per day and their projected monthly cost"),
    "check-config": ("check_config", "validate the configuration (no network)"),
    "simulate": ("simulate", "serve simulated energy sites on a Fleet-API-compatible HTTP "
                 "server"),
}
COMMAND_MODULES = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))
_GLOBAL_WITH_VALUE = ("--config", "--log-level", "--log-format")


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and one line on bad usage (its default, made explicit)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def requested_command(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv`` (skipping the global options), or None."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _GLOBAL_WITH_VALUE:
            skip = True
        elif not token.startswith("-"):
            return token
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the requested command's module is imported (the
    others get a summary-only parser), without it every command is registered fully."""
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
    wanted = COMMANDS.get(requested_command(argv) or "") if argv is not None else None
    registered: set[str] = set()
    for name, (module, summary) in COMMANDS.items():
        if module in registered:
            continue  # a module registering several commands (battery, outages)
        if argv is None or (wanted is not None and module == wanted[0]):
            importlib.import_module(f"collector.commands.{module}").register(sub)
            registered.add(module)
        else:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
