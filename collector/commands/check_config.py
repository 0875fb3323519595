"""``tesla-energy check-config``: validate the configuration without any network call."""

from __future__ import annotations

import argparse

from collector.commands.common import settings_from
from collector.config import describe_sources


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "check-config",
        help="validate the configuration (no network)",
        description="Load the TOML file and environment, validate every value, print the "
        "effective settings (secrets shown only as set/not set). Exit 2 on the first problem.",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    origin = str(settings.source_file) if settings.source_file else "defaults + environment"
    print(f"configuration OK ({origin})")
    for line in describe_sources(settings):
        print(f"  {line}")
    if not (settings.tesla.access_token or settings.tesla.refresh_token
            or settings.token_file.exists()):
        print("  note: no Tesla token configured yet; set TESLA_ACCESS_TOKEN or "
              "TESLA_REFRESH_TOKEN + TESLA_CLIENT_ID")
    return 0
