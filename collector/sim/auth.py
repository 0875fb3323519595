"""OAuth token issuing for the simulator: expiring access tokens and single-use, rotating
refresh tokens (reuse of a consumed one answers ``login_required``), plus bearer checks.

Open mode (no fixed token) accepts any non-empty bearer token and any refresh token not used
before; with a fixed token only that one and the tokens issued here are accepted. Token
bookkeeping only: no HTTP parsing here.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass


class OAuthRefused(Exception):
    """The token request is refused: ``status`` and the OAuth ``error`` code to answer."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_json(self) -> dict[str, object]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "id_token": "sim.id.token", "expires_in": self.expires_in,
                "token_type": "Bearer", "state": ""}


class TokenIssuer:
    def __init__(self, clock: Callable[[], float], *, fixed_token: str | None = None,
                 ttl: int = 28_800) -> None:
        self._clock = clock
        self._fixed = fixed_token or None
        self.ttl = ttl
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}      # token -> expiry epoch
        self._refresh: set[str] = set()          # issued, not yet used
        self._consumed: set[str] = set()

    def issue_refresh_token(self) -> str:
        """A fresh refresh token a test or demo can start from."""
        token = f"NA_simrt_{secrets.token_hex(16)}"
        with self._lock:
            self._refresh.add(token)
        return token

    def refresh(self, form: dict[str, str]) -> IssuedTokens:
        if form.get("grant_type") != "refresh_token":
            raise OAuthRefused(400, "unsupported_grant_type", "only refresh_token is simulated")
        old = form.get("refresh_token", "")
        if not old or not form.get("client_id"):
            raise OAuthRefused(400, "invalid_request", "client_id and refresh_token required")
        with self._lock:
            if old in self._consumed:
                raise OAuthRefused(401, "login_required", "refresh_token has already been used")
            if self._fixed and old not in self._refresh:
                raise OAuthRefused(401, "login_required", "unknown refresh_token")
            self._refresh.discard(old)
            self._consumed.add(old)
            issued = IssuedTokens(f"NA_simat_{secrets.token_hex(20)}",
                                  f"NA_simrt_{secrets.token_hex(16)}", self.ttl)
            self._access[issued.access_token] = self._clock() + self.ttl
            self._refresh.add(issued.refresh_token)
            return issued

    def check_bearer(self, header: str | None) -> str | None:
        """None when the Authorization header is acceptable, else the error text for 401."""
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "missing or malformed Authorization bearer token"
        with self._lock:
            expiry = self._access.get(token)
        if expiry is not None:
            return None if self._clock() < expiry else "token expired (401)"
        if self._fixed is None or secrets.compare_digest(token, self._fixed):
            return None
        return "invalid bearer token"
