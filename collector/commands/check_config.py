"""``tesla-energy check-config``: validate the configuration without any network call.

The first line is the verdict: ``configuration OK`` only when a Tesla credential is configured;
otherwise it names the missing credential and exit code is 2. A ``tokens from`` line says
where the Fleet API tokens will really come from (the token file takes precedence when it
exists: it holds the latest rotation).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from collector.commands.common import settings_from
from collector.config import Settings, describe_sources

MISSING_CREDENTIAL = (
    "no Tesla Fleet API credential configured: set TESLA_REFRESH_TOKEN and TESLA_CLIENT_ID "
    "(see README, 'Getting Fleet API tokens'); tesla-energy demo and simulate need none"
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "check-config",
        help="validate the configuration (no network)",
        description="Load the TOML file and environment, validate every value, print the "
        "effective settings (secrets shown only as set/not set). Exit 2 on the first problem, "
        "or when no Tesla credential is configured.",
    )
    parser.set_defaults(handler=handle)


def token_source(settings: Settings) -> tuple[str, bool]:
    """Where the Fleet API tokens come from, and whether that is a usable credential."""
    tesla, path = settings.tesla, settings.token_file
    if _has_tokens(path):
        return (f"{path} (rotated tokens; takes precedence over TESLA_ACCESS_TOKEN and "
                "TESLA_REFRESH_TOKEN)", True)
    if tesla.refresh_token and tesla.client_id:
        return (f"TESLA_REFRESH_TOKEN, renewed by client {tesla.client_id}; rotations saved "
                f"in {path}", True)
    if tesla.access_token:
        return ("TESLA_ACCESS_TOKEN only (no refresh token and client id: it is not renewed "
                "when it expires)", True)
    return "nowhere", False


def _has_tokens(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def handle(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    origin = str(settings.source_file) if settings.source_file else "defaults + environment"
    source, usable = token_source(settings)
    print(f"configuration OK ({origin})" if usable else
          f"configuration incomplete ({origin}): {MISSING_CREDENTIAL}")
    print(f"  tokens from: {source}")
    for line in describe_sources(settings):
        print(f"  {line}")
    return 0 if usable else 2
