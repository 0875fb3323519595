"""``tesla-energy set ...``: change one site setting through its POST endpoint.

Every value is checked by argparse before anything else happens (a bad value is one line and
exit 2, and no request is sent); ``collector.control`` then checks the site's capabilities,
shows ``current -> new``, confirms, sends, re-reads ``site_info`` and records a
``control_event``. This module only maps arguments to a ``control.Change``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from collector.commands.common import add_site_argument, resolve_site, settings_from
from collector.config import ascii_whole_number
from collector.control import Capability, Change, Options, apply_change

ON_OFF = {"on": True, "off": False}
MODES = ("self_consumption", "autonomous")
EXPORT_RULES = ("battery_ok", "pv_only", "never")


def percent(text: str) -> int:
    """A whole percent 0-100 (argparse type: a bad value is a usage error)."""
    try:
        value = ascii_whole_number(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of percent") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-100")
    return value


def _backup(args: argparse.Namespace) -> Change:
    key = "backup_reserve_percent"
    return Change("backup", {key: args.percent}, {key: args.percent})


def _mode(args: argparse.Namespace) -> Change:
    return Change("operation", {"default_real_mode": args.mode},
                  {"default_real_mode": args.mode})


def _storm(args: argparse.Namespace) -> Change:
    enabled = ON_OFF[args.state]
    return Change("storm_mode", {"enabled": enabled}, {"storm_mode_enabled": enabled},
                  Capability("storm_mode_capable"))


def _grid(args: argparse.Namespace) -> Change:
    body: dict[str, Any] = {}
    if args.grid_charging is not None:
        body["disallow_charge_from_grid_with_solar_installed"] = not ON_OFF[args.grid_charging]
    if args.export is not None:
        body["customer_preferred_export_rule"] = args.export
    return Change("grid_import_export", body, dict(body))


def _ev_reserve(args: argparse.Namespace) -> Change:
    key = "off_grid_vehicle_charging_reserve_percent"
    return Change("off_grid_vehicle_charging_reserve", {key: args.percent}, {key: args.percent},
                  Capability("off_grid_vehicle_charging_reserve_supported", absent_ok=True))


def add_change_arguments(parser: argparse.ArgumentParser) -> None:
    """``--site``, ``--yes`` and ``--dry-run``: shared by every settings change."""
    add_site_argument(parser)
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation (needed without a terminal)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the request (path and JSON body) and send nothing; "
                        "site_info is still read for the current value and capabilities")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("set", help="change a site setting (backup reserve, mode, ...)",
                            description="Change one site setting; shows current -> new and "
                            "asks before sending.")
    actions = parser.add_subparsers(dest="setting", metavar="SETTING",
                                    parser_class=type(parser))
    actions.required = True
    specs: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable]] = [
        ("backup-reserve", "backup reserve percent (0-100)",
         lambda p: p.add_argument("percent", type=percent, metavar="PERCENT"), _backup),
        ("mode", "operation mode",
         lambda p: p.add_argument("mode", choices=MODES), _mode),
        ("storm-mode", "storm watch on or off",
         lambda p: p.add_argument("state", choices=tuple(ON_OFF)), _storm),
        ("grid-import-export", "grid charging and export rule", _grid_arguments, _grid),
        ("ev-reserve", "off-grid vehicle charging reserve percent (0-100)",
         lambda p: p.add_argument("percent", type=percent, metavar="PERCENT"), _ev_reserve),
    ]
    for name, help_text, add_arguments, build in specs:
        action = actions.add_parser(name, help=help_text, description=help_text)
        add_arguments(action)
        add_change_arguments(action)
        action.set_defaults(handler=handle, build_change=build, action_parser=action)


def _grid_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grid-charging", choices=tuple(ON_OFF),
                        help="allow charging the battery from the grid")
    parser.add_argument("--export", choices=EXPORT_RULES, help="what may be exported")


def handle(args: argparse.Namespace) -> int:
    if args.setting == "grid-import-export" and args.grid_charging is None and \
            args.export is None:
        args.action_parser.error("give --grid-charging and/or --export")
    return run_change(args, args.build_change(args))


def run_change(args: argparse.Namespace, change: Change) -> int:
    """Build the client (and the sink unless dry-run) and run the control flow."""
    from collector.sink import open_sink
    from collector.source import build_client

    settings = settings_from(args)
    options = Options(yes=args.yes, dry_run=args.dry_run)
    if args.dry_run:
        with build_client(settings) as client:
            return apply_change(client, None, resolve_site(client, settings, args.site), change,
                                options)
    # The sink first: a refused InfluxDB stops the command before anything is changed.
    with open_sink(settings) as sink, build_client(settings) as client:
        code = apply_change(client, sink, resolve_site(client, settings, args.site), change,
                            options)
        sink.ensure_delivered(refusals_only=True)  # the change is made; its record waits
        return code
