"""Logging setup: structlog for our code, stdlib loggers (httpx, apscheduler, influxdb_client)
routed through the same renderer, and a redaction processor so no secret reaches a log line.

Console renderer on a TTY, JSON otherwise (or as configured). Secrets are removed twice: keys
that name a secret are masked, and every registered secret value (tokens as they rotate, the
client secret, the InfluxDB token) is replaced wherever it appears in any string.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any

import structlog

_SECRET_KEY = re.compile(
    r"(token|secret|password|authorization|api[_-]?key|refresh|bearer)", re.IGNORECASE
)
# Credentials in header shapes only: "Authorization: <scheme> <value>" (any scheme: Bearer,
# Token, Basic), a bare "Bearer <value>" (a value with a digit, or long), and InfluxDB's
# "Token <value>" scheme when the value looks like a credential (long, or user:password).
# Ordinary prose ("the token sees 3 sites", "no access token configured", "token was
# refused") is left as written.
_AUTH_HEADER = re.compile(
    r"(\bAuthorization['\"]?\s*[:=]\s*['\"]?(?:(?:Bearer|Token|Basic)\s+)?)[^\s'\",}]+",
    re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer)\s+(?:(?=[A-Za-z._~+/=:-]*[0-9])[A-Za-z0-9._~+/=:-]+"
                     r"|[A-Za-z0-9._~+/=:-]{20,})", re.IGNORECASE)
_TOKEN_SCHEME = re.compile(r"\b(Token)\s+(?:[^\s:'\"]+:[^\s'\"]+|[A-Za-z0-9._~+/=-]{20,})")
_MASK = "***"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so any log line containing it is masked. Short values are
    ignored (they would mask ordinary words)."""
    if value and len(value) >= 8:
        with _secrets_lock:
            _secrets.add(value)


def redact_text(text: str) -> str:
    """Mask registered secrets and credentials in header shapes in a piece of text (never the
    words around them)."""
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{_MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {_MASK}", text)
    return _TOKEN_SCHEME.sub(lambda m: f"{m.group(1)} {_MASK}", text)


def _redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key) and isinstance(value, str | bytes) and value:
        return _MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask secret-named keys and registered secret values."""
    return {key: _redact_value(key, value) for key, value in event_dict.items()}


def _final_redact(_logger: Any, _method: str, event_dict: Any) -> Any:
    # Runs after rendering (exceptions formatted into text), on the final string.
    return redact_text(event_dict) if isinstance(event_dict, str) else event_dict


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def configure_logging(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    """Configure structlog and the stdlib root logger once for the process."""
    stream = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and getattr(stream, "isatty", bool)())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
            _final_redact,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level, logging.INFO))
    # Chatty libraries: their request lines carry URLs, keep them at warning unless debugging.
    for name in ("httpx", "httpcore", "urllib3", "apscheduler", "influxdb_client"):
        logging.getLogger(name).setLevel(
            logging.DEBUG if level == "debug" else logging.WARNING
        )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None, **bound: Any) -> Any:
    """A structlog logger, optionally with bound context (job, site_id, ...)."""
    return structlog.get_logger(name).bind(**bound) if bound else structlog.get_logger(name)
