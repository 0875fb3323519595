"""Fault injection and the request log of the simulated API.

``FaultConfig`` says which faults are on (all off by default); ``FaultInjector`` decides, per
request, which fault (if any) hits it: deterministic "every k-th request" counters or a seeded
RNG rate per kind, plus a per-site fixed-window rate limit and a fixed latency. ``RequestLog``
records every request (method, path, query, endpoint, site, status, fault) for tests and
benchmarks. Decisions only: the server carries them out; nothing here touches sockets.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Any

FAULT_KINDS = ("timeout", "error", "malformed", "truncated", "missing")


@dataclass(frozen=True)
class FaultRule:
    """Hit every ``every``-th request (0 = off) and/or a seeded fraction ``rate`` (0-1)."""

    every: int = 0
    rate: float = 0.0

    @property
    def active(self) -> bool:
        return self.every > 0 or self.rate > 0


@dataclass(frozen=True)
class FaultConfig:
    """Which faults the simulator injects. ``endpoints`` limits them (except latency) to those
    endpoint names, e.g. ``{"calendar_history"}``; empty = every /api/1 endpoint."""

    rate_limit: int = 0               # requests per site per window; 0 = unlimited
    rate_window_seconds: float = 60.0
    latency_ms: float = 0.0
    timeout: FaultRule = FaultRule()
    timeout_mode: str = "hang"        # "hang" (answer nothing for hang_seconds) or "close"
    hang_seconds: float = 35.0
    error: FaultRule = FaultRule()
    error_status: int = 503
    malformed: FaultRule = FaultRule()
    truncated: FaultRule = FaultRule()
    missing: FaultRule = FaultRule()
    endpoints: frozenset[str] = frozenset()
    seed: int = 0

    def with_changes(self, **changes: Any) -> FaultConfig:
        return replace(self, **changes)


def parse_fault_spec(text: str, *, latency_ms: float = 0.0) -> FaultConfig:
    """Parse ``--faults``: comma-separated ``kind=N`` (every N-th request), ``kind=P%``
    (seeded rate), ``rate_limit=N/SECONDS``, ``timeout_mode=hang|close``, ``status=5xx``,
    ``seed=N``, ``only=endpoint+endpoint``. Raises ValueError with a one-line reason."""
    config = FaultConfig(latency_ms=latency_ms)
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise ValueError(f"fault {item!r} must look like kind=value")
        config = _apply_fault(config, key.strip(), value.strip())
    return config


def _apply_fault(config: FaultConfig, key: str, value: str) -> FaultConfig:
    try:
        if key in FAULT_KINDS:
            return replace(config, **{key: _rule(value)})
        if key == "rate_limit":
            count, _, window = value.partition("/")
            return replace(config, rate_limit=_positive_int(count),
                           rate_window_seconds=float(window or 60))
        if key == "latency_ms":
            return replace(config, latency_ms=float(value))
        if key == "timeout_mode" and value in ("hang", "close"):
            return replace(config, timeout_mode=value)
        if key == "status" and value.isdigit() and 500 <= int(value) <= 599:
            return replace(config, error_status=int(value))
        if key == "seed":
            return replace(config, seed=int(value))
        if key == "only":
            return replace(config, endpoints=frozenset(value.split("+")))
    except ValueError:
        pass
    raise ValueError(f"fault {key}={value} is not understood; kinds: {', '.join(FAULT_KINDS)}, "
                     "rate_limit=N/SECONDS, latency_ms, timeout_mode, status, seed, only")


def _rule(value: str) -> FaultRule:
    if value.endswith("%"):
        rate = float(value[:-1]) / 100
        if not 0 <= rate <= 1:
            raise ValueError(value)
        return FaultRule(rate=rate)
    return FaultRule(every=_positive_int(value))


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


@dataclass(frozen=True)
class Decision:
    """What to do with one request: ``fault`` is None or a kind; ``retry_after`` for 429."""

    fault: str | None = None
    latency_s: float = 0.0
    retry_after: int = 0
    limit_remaining: int = 0


class FaultInjector:
    """Thread-safe per-request fault decisions; ``configure`` swaps the config at runtime."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig | None = None, **changes: Any) -> None:
        """Replace the fault config (counters and windows restart)."""
        with self._lock:
            base = config or FaultConfig()
            self._config = replace(base, **changes) if changes else base
            self._counts: Counter[str] = Counter()
            self._rng = random.Random(self._config.seed)
            self._windows: dict[str, tuple[float, int]] = {}

    def decide(self, endpoint: str, site_key: str, now: float) -> Decision:
        """The fault for this request (rate limit first, then the kinds in FAULT_KINDS)."""
        with self._lock:
            cfg = self._config
            latency = cfg.latency_ms / 1000.0
            if cfg.endpoints and endpoint not in cfg.endpoints:
                return Decision(latency_s=latency)
            if cfg.rate_limit:
                limited = self._rate_limit(cfg, site_key, now)
                if limited is not None:
                    return replace(limited, latency_s=latency)
            for kind in FAULT_KINDS:
                if self._hits(kind, getattr(cfg, kind)):
                    return Decision(fault=kind, latency_s=latency)
            return Decision(latency_s=latency)

    def _hits(self, kind: str, rule: FaultRule) -> bool:
        if not rule.active:
            return False
        self._counts[kind] += 1
        if rule.every and self._counts[kind] % rule.every == 0:
            return True
        return rule.rate > 0 and self._rng.random() < rule.rate

    def _rate_limit(self, cfg: FaultConfig, key: str, now: float) -> Decision | None:
        window = cfg.rate_window_seconds
        started, used = self._windows.get(key, (now, 0))
        if now - started >= window:
            started, used = now, 0
        if used >= cfg.rate_limit:
            retry = max(1, math.ceil(started + window - now))
            return Decision(fault="rate_limit", retry_after=retry)
        self._windows[key] = (started, used + 1)
        return None


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    endpoint: str
    site_id: int | None
    status: int
    fault: str | None = None


@dataclass
class RequestLog:
    """Every request the simulator answered (bounded), with counters per endpoint/status."""

    limit: int = 100_000
    _entries: deque = field(default_factory=deque)
    _counts: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self.limit:
                self._entries.popleft()
            self._counts[(entry.endpoint, entry.status)] += 1

    def entries(self, endpoint: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [e for e in self._entries if endpoint is None or e.endpoint == endpoint]

    def count(self, endpoint: str | None = None, status: int | None = None) -> int:
        """Requests answered, optionally only one endpoint and/or status."""
        with self._lock:
            return sum(n for (ep, st), n in self._counts.items()
                       if (endpoint is None or ep == endpoint) and (status is None or st == status))

    def counts(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()
