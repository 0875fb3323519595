"""`tesla-energy set`: placeholder until its issue wires it (see README)."""

from __future__ import annotations

import argparse

from collector.errors import CollectorError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("set", help="(not built yet)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    raise CollectorError("'set' is not built yet")
