"""Typed configuration: defaults, then a TOML file, then environment variables.

One declarative table (``SPECS``) names every setting once: its TOML section and key, its
environment variable, its type, default and check. ``load_settings`` reads them into frozen
dataclasses; every invalid value raises ``ConfigError`` with one line naming the key, what is
wrong and how to fix it. Nothing here touches the network. Secrets are held as ``Secret`` so
they never print.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from collector.errors import ConfigError
from collector.shard import Shard, parse_shard

NA_API_URL = "https://fleet-api.prd.na.vn.cloud.tesla.com"
EU_API_URL = "https://fleet-api.prd.eu.vn.cloud.tesla.com"
CN_API_URL = "https://fleet-api.prd.cn.vn.cloud.tesla.cn"
REGION_API_URLS = {"na": NA_API_URL, "eu": EU_API_URL, "cn": CN_API_URL}
FLEET_AUTH_URL = "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token"


class Secret(str):
    """A string that shows as ``'***'`` in repr/str-formatting of containers and logs.

    ``.value`` gives the real text; ``str(secret)`` is deliberately masked.
    """

    def __new__(cls, value: str) -> Secret:
        obj = super().__new__(cls, "***" if value else "")
        obj._value = value
        return obj

    @property
    def value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class TeslaSettings:
    api_url: str = NA_API_URL
    auth_url: str = FLEET_AUTH_URL
    client_id: str = ""
    client_secret: Secret = field(default_factory=lambda: Secret(""))
    access_token: Secret = field(default_factory=lambda: Secret(""))
    refresh_token: Secret = field(default_factory=lambda: Secret(""))
    token_file: Path | None = None
    site_ids: tuple[int, ...] = ()
    time_zone: str = ""
    timeout_seconds: float = 30.0
    #: Most seconds one request may take in all: connecting and reading every byte.
    request_deadline_seconds: float = 30.0
    max_retries: int = 4
    #: A 429's Retry-After longer than this ends a one-shot command; the daemon postpones.
    retry_after_limit_seconds: float = 900.0


@dataclass(frozen=True)
class InfluxSettings:
    url: str = "http://localhost:8086"
    token: Secret = field(default_factory=lambda: Secret(""))
    org: str = "tesla"
    bucket: str = "tesla"
    timeout_seconds: float = 10.0
    write_deadline_seconds: float = 15.0
    retry_seconds: float = 5.0
    refused_retry_seconds: float = 60.0


@dataclass(frozen=True)
class IntervalSettings:
    live_seconds: float = 10.0
    site_info_seconds: float = 300.0
    history_seconds: float = 900.0


@dataclass(frozen=True)
class CollectorSettings:
    state_dir: Path = Path("./state")
    spool_max_mb: float = 512.0
    write_queue_points: int = 20000
    health_port: int = 0
    #: Address the health endpoint listens on (loopback unless exposed on purpose).
    health_address: str = "127.0.0.1"
    #: This replica's shard of the fleet (``COLLECTOR_SHARD`` = ``i/n``; ``0/1``: everything).
    shard: Shard = field(default_factory=Shard)


@dataclass(frozen=True)
class BackfillSettings:
    concurrency: int = 4
    requests_per_second: float = 5.0
    #: ``requests_per_second`` is this replica's own budget instead of the account's total
    #: (which ``n`` sharded replicas otherwise divide by ``n``).
    rate_per_replica: bool = False


@dataclass(frozen=True)
class CostSettings:
    """Payback inputs for ``tesla-energy cost`` and the dashboards (0 / None: not set)."""

    system_price: float = 0.0
    installation_date: date | None = None


@dataclass(frozen=True)
class ApiSettings:
    """The Fleet API bill: a monthly cap after the credit (None: no cap) and the prices."""

    budget: float | None = None
    price_data: float = 0.002
    price_commands: float = 0.001
    monthly_credit: float = 10.0


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    format: str = "auto"


@dataclass(frozen=True)
class Settings:
    tesla: TeslaSettings = field(default_factory=TeslaSettings)
    influx: InfluxSettings = field(default_factory=InfluxSettings)
    intervals: IntervalSettings = field(default_factory=IntervalSettings)
    collector: CollectorSettings = field(default_factory=CollectorSettings)
    backfill: BackfillSettings = field(default_factory=BackfillSettings)
    cost: CostSettings = field(default_factory=CostSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    log: LogSettings = field(default_factory=LogSettings)
    source_file: Path | None = None

    @property
    def token_file(self) -> Path:
        """Where rotated tokens live: ``tesla.token_file`` or ``tokens.json`` in the state dir."""
        return self.tesla.token_file or self.collector.state_dir / "tokens.json"


# --- value parsers: each returns the typed value or raises ValueError("problem; fix") ---


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    return raw.strip()


def _secret(raw: Any) -> Secret:
    return Secret(_text(raw))


def _url(raw: Any) -> str:
    text = _text(raw).rstrip("/")
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("is not an http(s) URL; write it like https://host[:port]")
    return text


def _api_url(raw: Any) -> str:
    text = _text(raw).lower() if isinstance(raw, str) else raw
    if text in REGION_API_URLS:
        return REGION_API_URLS[text]
    return _url(raw)


# --- numbers as people type them: ASCII digits only -------------------------------------
# ``int``/``float`` also read "٣٥" (Arabic-Indic digits), "1_000" and "nan"; settings, command
# arguments and tariff files take plain ASCII decimal numbers only.

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def is_ascii_digits(text: str) -> bool:
    """``text`` is one or more of 0-9 (``str.isdigit`` also takes "٣" and "²")."""
    return text.isascii() and text.isdigit()


def ascii_whole_number(text: str) -> int:
    """A whole number in ASCII digits, optionally signed; raises ValueError otherwise."""
    stripped = text.strip()
    if not is_ascii_digits(stripped.removeprefix("-").removeprefix("+")):
        raise ValueError(f"{text!r} is not a whole number")
    return int(stripped)


def ascii_number(text: str) -> float:
    """A finite decimal number in ASCII (``12``, ``-0.5``, ``1e3``); raises ValueError."""
    stripped = text.strip()
    if not _DECIMAL.fullmatch(stripped) or not math.isfinite(value := float(stripped)):
        raise ValueError(f"{text!r} is not a number")
    return value


def _positive_float(raw: Any) -> float:
    try:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise TypeError
        value = ascii_number(raw) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise ValueError("is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("must be a number greater than 0")
    return value


def _interval(raw: Any) -> float:
    value = _positive_float(raw)
    if value < 1:
        raise ValueError("must be at least 1 second")
    return value


def _count(minimum: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError("is not a whole number")
        try:
            value = ascii_whole_number(str(raw))
        except ValueError:
            raise ValueError("is not a whole number") from None
        if value < minimum:
            raise ValueError(f"must be {minimum} or more")
        return value

    return parse


def _port(raw: Any) -> int:
    value = _count(0)(raw)
    if value > 65535:
        raise ValueError("must be a TCP port 0-65535 (0 turns the HTTP endpoint off)")
    return value


def _listen_address(raw: Any) -> str:
    text = _text(raw)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError("must be an IP address to listen on, e.g. 127.0.0.1 (this machine "
                         "only) or 0.0.0.0 (every interface, e.g. in a container)") from None
    return text


def _path(raw: Any) -> Path:
    text = _text(raw)
    if not text:
        raise ValueError("must not be empty")
    return Path(text).expanduser()


def _optional_path(raw: Any) -> Path | None:
    text = _text(raw)
    return Path(text).expanduser() if text else None


def _site_ids(raw: Any) -> tuple[int, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    ids = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not is_ascii_digits(text):
            raise ValueError(f"has {text!r}, which is not a numeric energy_site_id")
        ids.append(int(text))
    return tuple(ids)


def _time_zone(raw: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    text = _text(raw)
    if text:
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone name such as America/Los_Angeles") from None
    return text


def _money(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("is not a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError("is not a number") from None
    if not 0 <= value < float("inf"):
        raise ValueError("must be 0 (not set) or a positive amount in the tariff's currency")
    return value


def _usd(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("is not a number")
    try:
        value = ascii_number(raw) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError):
        raise ValueError("is not a number") from None
    if not 0 <= value < float("inf"):
        raise ValueError("must be 0 or a positive amount in USD")
    return value


def _optional_usd(raw: Any) -> float | None:
    return None if isinstance(raw, str) and not raw.strip() else _usd(raw)


def _optional_date(raw: Any) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    text = _text(raw)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a date like 2021-05-01 (empty: the site's installation "
                         "date)") from None


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = _text(raw).lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = _text(raw).lower()
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return parse


@dataclass(frozen=True)
class Spec:
    """One setting: where it lives in TOML and the environment, and how it is parsed."""

    section: str
    key: str
    env: str | None
    parse: Callable[[Any], Any]

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


SPECS: tuple[Spec, ...] = (
    Spec("tesla", "api_url", "TESLA_API_URL", _api_url),
    Spec("tesla", "auth_url", "TESLA_AUTH_URL", _url),
    Spec("tesla", "client_id", "TESLA_CLIENT_ID", _text),
    Spec("tesla", "client_secret", "TESLA_CLIENT_SECRET", _secret),
    Spec("tesla", "access_token", "TESLA_ACCESS_TOKEN", _secret),
    Spec("tesla", "refresh_token", "TESLA_REFRESH_TOKEN", _secret),
    Spec("tesla", "token_file", "TESLA_TOKEN_FILE", _optional_path),
    Spec("tesla", "site_ids", "TESLA_SITE_IDS", _site_ids),
    Spec("tesla", "time_zone", "TESLA_TIME_ZONE", _time_zone),
    Spec("tesla", "timeout_seconds", "TESLA_TIMEOUT_SECONDS", _positive_float),
    Spec("tesla", "request_deadline_seconds", "TESLA_REQUEST_DEADLINE_SECONDS",
         _positive_float),
    Spec("tesla", "max_retries", "TESLA_MAX_RETRIES", _count(0)),
    Spec("tesla", "retry_after_limit_seconds", "TESLA_RETRY_AFTER_LIMIT_SECONDS",
         _positive_float),
    Spec("influx", "url", "INFLUX_URL", _url),
    Spec("influx", "token", "INFLUX_TOKEN", _secret),
    Spec("influx", "org", "INFLUX_ORG", _text),
    Spec("influx", "bucket", "INFLUX_BUCKET", _text),
    Spec("influx", "timeout_seconds", "INFLUX_TIMEOUT_SECONDS", _positive_float),
    Spec("influx", "write_deadline_seconds", "INFLUX_WRITE_DEADLINE_SECONDS", _positive_float),
    Spec("influx", "retry_seconds", "INFLUX_RETRY_SECONDS", _positive_float),
    Spec("influx", "refused_retry_seconds", "INFLUX_REFUSED_RETRY_SECONDS", _positive_float),
    Spec("intervals", "live_seconds", "COLLECTOR_LIVE_INTERVAL", _interval),
    Spec("intervals", "site_info_seconds", "COLLECTOR_SITE_INFO_INTERVAL", _interval),
    Spec("intervals", "history_seconds", "COLLECTOR_HISTORY_INTERVAL", _interval),
    Spec("collector", "state_dir", "COLLECTOR_STATE_DIR", _path),
    Spec("collector", "spool_max_mb", "COLLECTOR_SPOOL_MAX_MB", _positive_float),
    Spec("collector", "write_queue_points", "COLLECTOR_WRITE_QUEUE_POINTS", _count(1)),
    Spec("collector", "health_port", "COLLECTOR_HEALTH_PORT", _port),
    Spec("collector", "health_address", "COLLECTOR_HEALTH_ADDRESS", _listen_address),
    Spec("collector", "shard", "COLLECTOR_SHARD", parse_shard),
    Spec("backfill", "concurrency", "COLLECTOR_BACKFILL_CONCURRENCY", _count(1)),
    Spec("backfill", "requests_per_second", "COLLECTOR_BACKFILL_RATE", _positive_float),
    Spec("backfill", "rate_per_replica", "COLLECTOR_BACKFILL_RATE_PER_REPLICA", _bool),
    Spec("cost", "system_price", "COLLECTOR_SYSTEM_PRICE", _money),
    Spec("cost", "installation_date", "COLLECTOR_INSTALLATION_DATE", _optional_date),
    Spec("api", "budget", "COLLECTOR_API_BUDGET", _optional_usd),
    Spec("api", "price_data", "COLLECTOR_API_PRICE_DATA", _usd),
    Spec("api", "price_commands", "COLLECTOR_API_PRICE_COMMANDS", _usd),
    Spec("api", "monthly_credit", "COLLECTOR_API_MONTHLY_CREDIT", _usd),
    Spec("log", "level", "COLLECTOR_LOG_LEVEL", _choice("debug", "info", "warning", "error")),
    Spec("log", "format", "COLLECTOR_LOG_FORMAT", _choice("auto", "json", "console")),
)

_SECTION_TYPES = {
    "tesla": TeslaSettings,
    "influx": InfluxSettings,
    "intervals": IntervalSettings,
    "collector": CollectorSettings,
    "backfill": BackfillSettings,
    "cost": CostSettings,
    "api": ApiSettings,
    "log": LogSettings,
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass an existing --config") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _check_unknown_keys(data: Mapping[str, Any], path: Path) -> None:
    known = {(s.section, s.key) for s in SPECS}
    for section, values in data.items():
        if section not in _SECTION_TYPES:
            raise ConfigError(
                f"{path}: unknown section [{section}]; valid sections: {', '.join(_SECTION_TYPES)}"
            )
        if not isinstance(values, Mapping):
            raise ConfigError(f"{path}: {section} must be a [{section}] table")
        for key in values:
            if (section, key) not in known:
                raise ConfigError(
                    f"{path}: unknown key {section}.{key}; see config/collector.example.toml"
                )


def _parse(spec: Spec, raw: Any, origin: str) -> Any:
    try:
        return spec.parse(raw)
    except ValueError as exc:
        shown = "<hidden>" if spec.parse is _secret else repr(raw)
        raise ConfigError(f"{spec.name} ({origin}) = {shown} {exc}") from None


def load_settings(
    config_path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build ``Settings`` from defaults, the TOML file and the environment (in that order)."""
    env = os.environ if environ is None else environ
    path_text = config_path or env.get("COLLECTOR_CONFIG") or ""
    path = Path(path_text).expanduser() if path_text else None
    data = _read_toml(path) if path else {}
    if path:
        _check_unknown_keys(data, path)
    values: dict[str, dict[str, Any]] = {section: {} for section in _SECTION_TYPES}
    for spec in SPECS:
        if spec.env and env.get(spec.env, "") != "":
            values[spec.section][spec.key] = _parse(spec, env[spec.env], f"env {spec.env}")
        elif spec.key in data.get(spec.section, {}):
            raw = data[spec.section][spec.key]
            values[spec.section][spec.key] = _parse(spec, raw, str(path))
    sections = {name: cls(**values[name]) for name, cls in _SECTION_TYPES.items()}
    settings = Settings(**sections, source_file=path)
    _check_consistency(settings)
    return for_replica(settings)


def for_replica(settings: Settings) -> Settings:
    """The settings of one sharded replica: its own state subdirectory (spool, token file,
    health, checkpoints: replicas never share one) and its part of the account's request
    budget (divided by the replica count unless ``backfill.rate_per_replica``). Unchanged for
    one replica."""
    shard = settings.collector.shard
    if not shard.sharded:
        return settings
    collector = replace(settings.collector,
                        state_dir=settings.collector.state_dir / shard.directory_name)
    backfill = settings.backfill
    if not backfill.rate_per_replica:
        backfill = replace(backfill, requests_per_second=backfill.requests_per_second
                           / shard.count)
    return replace(settings, collector=collector, backfill=backfill)


def _check_consistency(settings: Settings) -> None:
    tesla = settings.tesla
    if tesla.refresh_token and not tesla.client_id:
        raise ConfigError(
            "tesla.client_id is empty but a refresh token is set; set TESLA_CLIENT_ID to the "
            "client id of your Fleet API application so tokens can be refreshed"
        )


def describe_sources(settings: Settings) -> list[str]:
    """Human-readable lines for ``check-config``: every setting and its effective value."""
    lines = []
    for spec in SPECS:
        value = getattr(getattr(settings, spec.section), spec.key)
        if isinstance(value, Secret):
            shown = "(set)" if value else "(not set)"
        elif isinstance(value, tuple):
            shown = ",".join(map(str, value)) or "(discover)"
        elif spec.key == "token_file" and value is None:
            shown = f"{settings.token_file} (default)"
        else:
            shown = str(value) if value not in ("", None) else "(not set)"
        lines.append(f"{spec.name:32} {shown}")
    return lines
