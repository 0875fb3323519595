"""Site settings changes (the six POST endpoints), done safely and recorded.

One flow for every change: read ``site_info`` (capabilities and current values), refuse what
the site cannot do, show ``current -> new``, print the exact request and stop for
``--dry-run``, ask for confirmation unless ``--yes`` (no terminal and no ``--yes`` is a usage
error), POST, re-read ``site_info`` to confirm the change took effect, and write one
``control_event`` point per changed setting through the sink.

``Change`` values are built by the command modules from already validated arguments; this
module does the requests through ``FleetClient.request`` (so ``--dry-run`` prints exactly what
would be sent) and must not parse command lines or hold tariff rules (``collector.tariff``).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from collector.errors import CollectorError, UsageError

if TYPE_CHECKING:
    from collector.transform.frame import Frame

# pandas (behind the tariff model and the frames) is imported only when a change is compared
# or recorded, so ``tesla-energy set`` answers bad usage at once.

Json = Any


class Client(Protocol):
    def site_info(self, site_id: int) -> dict[str, Any]: ...

    def request(self, method: str, path: str, *, endpoint: str, body: Mapping[str, Any] | None,
                max_retries: int | None = None) -> Json: ...


class Sink(Protocol):
    def write(self, data: Any) -> Any: ...


class ChangeNotApplied(CollectorError):
    """The API accepted the command but site_info does not show the new value (exit 1)."""


# --- reading settings from site_info -----------------------------------------------------


def _components(info: Mapping[str, Any]) -> Mapping[str, Any]:
    return info.get("components") or {}


def _tariff_content(info: Mapping[str, Any]) -> Any:
    from collector.tariff import site_tariff_content

    return site_tariff_content(info)


def _export_rule(info: Mapping[str, Any]) -> Any:
    components = _components(info)
    rule = components.get("customer_preferred_export_rule")
    if rule is None and components.get("non_export_configured"):
        return "never"
    return rule


READERS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "backup_reserve_percent": lambda info: info.get("backup_reserve_percent"),
    "default_real_mode": lambda info: info.get("default_real_mode"),
    "storm_mode_enabled": lambda info: (info.get("user_settings") or {}).get(
        "storm_mode_enabled"),
    # left out of site_info when false
    "disallow_charge_from_grid_with_solar_installed": lambda info: bool(
        _components(info).get("disallow_charge_from_grid_with_solar_installed", False)),
    "customer_preferred_export_rule": _export_rule,
    "off_grid_vehicle_charging_reserve_percent": lambda info: info.get(
        "off_grid_vehicle_charging_reserve_percent"),
    "tariff_content_v2": _tariff_content,
}


def show_value(setting: str, value: Any) -> str:
    """The text of a setting's value: for display and for the control_event fields."""
    if value is None:
        return "-"
    if setting == "tariff_content_v2":
        return tariff_summary(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def tariff_summary(content: Any) -> str:
    """``name (code) sha256:<12 hex>`` of a tariff: short enough for a string field."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]
    if not isinstance(content, dict):
        return f"sha256:{digest}"
    label = " ".join(p for p in (content.get("name") or "", f"({content['code']})"
                                 if content.get("code") else "") if p)
    return f"{label or 'tariff'} sha256:{digest}"


def _same(setting: str, current: Any, new: Any) -> bool:
    if setting != "tariff_content_v2":
        return show_value(setting, current) == show_value(setting, new)
    from collector.tariff import TariffFormatError, load_tariff

    try:
        a, b = load_tariff(current), load_tariff(new)
    except TariffFormatError:
        return False
    return (a.currency, a.buy, a.sell) == (b.currency, b.buy, b.sell)


# --- the change ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Capability:
    """``components[flag]`` must be true; ``absent_ok``: a site without the flag may proceed."""

    flag: str
    absent_ok: bool = False

    def refusal(self, info: Mapping[str, Any], site_id: int) -> str | None:
        components = _components(info)
        if self.flag not in components and self.absent_ok:
            return None
        if components.get(self.flag):
            return None
        return f"site {site_id} does not support this setting (site_info components.{self.flag} " \
               f"is {json.dumps(components.get(self.flag))})"


@dataclass(frozen=True)
class Change:
    """One POST: its endpoint, exact JSON body and the settings (API names) it changes."""

    endpoint: str
    body: dict[str, Any]
    values: dict[str, Any]  # setting -> new value, as site_info reports it
    capability: Capability | None = None

    def path(self, site_id: int) -> str:
        return f"/api/1/energy_sites/{int(site_id)}/{self.endpoint}"


@dataclass
class Options:
    yes: bool = False
    dry_run: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    clock: Callable[[], float] = time.time
    confirm_prompt: str = "Apply this change? [y/N] "


def apply_change(client: Client, sink: Sink | None, site_id: int, change: Change,
                 options: Options) -> int:
    """Run the whole flow for ``change`` on ``site_id``; returns the exit code."""
    info = client.site_info(site_id)
    refusal = change.capability.refusal(info, site_id) if change.capability else None
    if refusal:
        raise UsageError(refusal)
    previous = {s: READERS[s](info) for s in change.values}
    _print_plan(options.out, site_id, change, previous)
    if all(_same(s, previous[s], v) for s, v in change.values.items()):
        print("nothing to change: the site already has this setting", file=options.out)
        return 0
    if options.dry_run:
        _print_request(options.out, site_id, change)
        return 0
    _confirm(options)
    client.request("POST", change.path(site_id), endpoint=change.endpoint, body=change.body,
                   max_retries=1)
    when = options.clock()
    _check_applied(client.site_info(site_id), site_id, change)
    print("done: site_info confirms the change", file=options.out)
    if sink is not None:
        sink.write(control_event_frame(site_id, change, previous, when))
    return 0


def _print_plan(out: TextIO, site_id: int, change: Change, previous: dict[str, Any]) -> None:
    print(f"site {site_id}:", file=out)
    for setting, new in change.values.items():
        print(f"  {setting}: {show_value(setting, previous[setting])} -> "
              f"{show_value(setting, new)}", file=out)


def _print_request(out: TextIO, site_id: int, change: Change) -> None:
    print(f"dry run: would send POST {change.path(site_id)}", file=out)
    print(json.dumps(change.body, indent=2, sort_keys=False), file=out)


def _confirm(options: Options) -> None:
    if options.yes:
        return
    if not options.stdin.isatty():
        raise UsageError("not changing anything without confirmation: no terminal to ask on; "
                         "pass --yes (or --dry-run to see the request)")
    options.out.write(options.confirm_prompt)
    options.out.flush()
    if options.stdin.readline().strip().lower() not in ("y", "yes"):
        raise UsageError("cancelled: nothing was changed")


def _check_applied(info: Mapping[str, Any], site_id: int, change: Change) -> None:
    stale = [(s, READERS[s](info)) for s, v in change.values.items()
             if not _same(s, READERS[s](info), v)]
    if stale:
        text = "; ".join(f"{s} is {show_value(s, now)}, expected "
                         f"{show_value(s, change.values[s])}" for s, now in stale)
        raise ChangeNotApplied(f"the API accepted the change but site {site_id}'s site_info "
                               f"does not show it yet ({text}); check again with "
                               "'tesla-energy status' in a minute. No control_event written.")


def control_event_frame(site_id: int, change: Change, previous: dict[str, Any],
                        when: float) -> Frame:
    """One ``control_event`` point per setting the change touched."""
    from collector.transform.fields import CONTROL_EVENT
    from collector.transform.frame import Row, build_frame

    rows = [Row(int(when), {"site_id": str(site_id), "setting": setting},
                {"value": show_value(setting, new),
                 "previous": show_value(setting, previous[setting])})
            for setting, new in change.values.items()]
    return build_frame(CONTROL_EVENT, rows)
