"""Helpers shared by the sub-commands: settings + logging from arguments, site selection."""

from __future__ import annotations

import argparse
import errno
import socket
from datetime import date
from typing import Any

from collector.config import Settings, ascii_number, is_ascii_digits, load_settings
from collector.errors import UsageError
from collector.log import configure_logging, register_secret


def settings_from(args: argparse.Namespace) -> Settings:
    """Load the configuration and configure logging for a command invocation."""
    settings = load_settings(getattr(args, "config", None))
    configure_logging(
        getattr(args, "log_level", None) or settings.log.level,
        getattr(args, "log_format", None) or settings.log.format,
    )
    for secret in (settings.tesla.client_secret, settings.tesla.access_token,
                   settings.tesla.refresh_token, settings.influx.token):
        register_secret(secret.value)
    return settings


def add_site_argument(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    kwargs: dict[str, Any] = {"type": _site_id, "metavar": "ID"}
    if many:
        parser.add_argument("--site", action="append", dest="sites", help="energy_site_id "
                            "(repeatable; default: every site the token sees)", **kwargs)
    else:
        parser.add_argument("--site", help="energy_site_id (optional when the token sees "
                            "exactly one site)", **kwargs)


def _site_id(text: str) -> int:
    if not is_ascii_digits(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a numeric energy_site_id")
    return int(text)


def discover_site_ids(client: Any, settings: Settings, *, sharded: bool = True) -> list[int]:
    """This replica's shard (``COLLECTOR_SHARD``) of the configured site ids, else of every
    energy site from ``products``; ``sharded=False``: every one of them."""
    if settings.tesla.site_ids:
        ids = list(settings.tesla.site_ids)
    else:
        ids = [int(p["energy_site_id"]) for p in client.products()]
    return settings.collector.shard.select(ids) if sharded else ids


def resolve_site(client: Any, settings: Settings, site: int | None) -> int:
    """The one site a command acts on: ``--site`` or the only visible site."""
    if site is not None:
        return site
    ids = discover_site_ids(client, settings, sharded=False)  # a person's command: no shard
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise UsageError("the token sees no energy site; check the account and its scopes")
    raise UsageError(
        f"the token sees {len(ids)} energy sites ({', '.join(map(str, ids))}); pick one with --site"
    )


def parse_date(text: str) -> date:
    """argparse type for a local date (``YYYY-MM-DD``, ASCII digits only): one line and exit 2
    when wrong."""
    try:
        if not text.isascii():
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-03-10") from None


def positive_float(text: str) -> float:
    """argparse type for a number greater than 0 (a rate, an amount; ASCII digits only)."""
    try:
        value = ascii_number(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a number greater than 0")
    return value


def tcp_port(text: str) -> int:
    """argparse type for a TCP port, 0 (any free port) to 65535."""
    if not is_ascii_digits(text) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port 0-65535 (0 = a free one)")
    return int(text)


def listen_error(host: str, port: int, exc: OSError) -> UsageError:
    """One line for a server that could not bind ``host:port``, naming what to change."""
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return UsageError(f"cannot listen on {host}: not a valid address of this machine; use "
                          "127.0.0.1 (or 0.0.0.0 for every interface) with --host")
    if exc.errno == errno.EADDRINUSE:
        return UsageError(f"cannot listen on {host}:{port}: the port is already in use; pick "
                          "another --port (0 = a free one)")
    if exc.errno == errno.EACCES:
        return UsageError(f"cannot listen on {host}:{port}: permission denied; pick a --port "
                          "above 1023")
    return UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another "
                      "--port")
