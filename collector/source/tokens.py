"""OAuth tokens for the Fleet API: load, refresh (single-use refresh tokens), persist.

Tesla's refresh tokens are single use: a refresh consumes the old one and returns a new one.
So there is one token chain per token file, shared by every process using it (the daemon and
a ``status`` run alongside it): a refresh runs under an exclusive ``flock`` on
``<token file>.lock``; inside that lock the token file is re-read, and when another process has
already rotated the pair, its pair is used instead of refreshing with a consumed token. Before
refreshing, the current pair is rewritten to the file as a write probe: a process that could
not save a new pair refuses to refresh (``TokenFileUnwritable``) rather than consume the stored
refresh token. The new pair is written atomically (temp file, fsync, rename, mode 0600)
*before* the new access token is handed out. Should that write still fail (the disk filled up
between probe and save) the new pair stays in memory, is retried on the next call, and an
error is logged; the file never holds a half-written state. A token file readable by others is
set back to 0600 on load (with a warning).

Token precedence: the token file when it exists (it holds the latest rotation), else the
configured tokens. No token value ever appears in a message or log line.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from collector.errors import AuthRequired, InvalidResponse, NoCredentials, TransientError
from collector.files import write_private_file
from collector.log import get_logger, register_secret

log = get_logger(__name__)

EXPIRY_MARGIN_SECONDS = 120.0
REAUTH_HINT = (
    "re-authenticate: obtain a new refresh token for your Fleet API application "
    "(see README, 'Getting Fleet API tokens') and set TESLA_REFRESH_TOKEN"
)


class TokenFileUnwritable(AuthRequired):
    """The token file cannot be saved: refreshing would consume the stored refresh token and
    lose its successor, so the refresh is refused (exit 1) and the stored pair stays valid."""


def lock_path(token_file: Path) -> Path:
    """The lock file that serializes refreshes of ``token_file`` across processes."""
    return token_file.with_name(token_file.name + ".lock")


@contextlib.contextmanager
def refresh_lock(token_file: Path) -> Iterator[None]:
    """Hold the exclusive cross-process refresh lock of ``token_file`` (``flock``)."""
    path = lock_path(token_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise _unwritable(token_file, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _unwritable(token_file: Path, exc: OSError) -> TokenFileUnwritable:
    return TokenFileUnwritable(
        f"cannot refresh the Fleet API token: the token file {token_file} cannot be saved "
        f"({exc.strerror or type(exc).__name__}); a refresh would consume the stored refresh "
        "token without keeping its successor, so nothing was refreshed and the stored pair is "
        "still valid. Make the state directory writable (or set TESLA_TOKEN_FILE to a writable "
        "path) and run again",
        endpoint="oauth_token",
    )


def ensure_private(path: Path) -> None:
    """Set a token file readable or writable by others back to 0600 (warning either way)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if not mode & 0o077:
        return
    try:
        os.chmod(path, 0o600)
        log.warning("token file was accessible to other users; set to mode 0600",
                    path=str(path), mode=oct(mode))
    except OSError as exc:
        log.warning("token file is accessible to other users and its mode cannot be fixed; "
                    "run chmod 600 on it", path=str(path), mode=oct(mode), error=exc.strerror)


@dataclass
class TokenSet:
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float | None = None  # epoch seconds; None = unknown

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
            }
        )


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT access token, or None when it is not a readable JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        exp = json.loads(base64.urlsafe_b64decode(payload)).get("exp")
    except (ValueError, AttributeError):
        return None
    return float(exp) if isinstance(exp, int | float) else None


def read_token_file(path: Path) -> TokenSet | None:
    """The token file's contents, or None when there is no file. A corrupt file is an error
    (it may hold the only valid refresh token, so it is never silently replaced)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AuthRequired(
            f"token file {path} cannot be read ({type(exc).__name__}); fix or delete it and "
            + REAUTH_HINT
        ) from None
    if not isinstance(data, dict):
        raise AuthRequired(f"token file {path} is not a JSON object; " + REAUTH_HINT)
    expires = data.get("expires_at")
    return TokenSet(
        access_token=str(data.get("access_token") or ""),
        refresh_token=str(data.get("refresh_token") or ""),
        expires_at=float(expires) if isinstance(expires, int | float) else None,
    )


class TokenManager:
    """Hands out a valid access token, refreshing it when expired or rejected."""

    def __init__(
        self,
        *,
        auth_url: str,
        client_id: str,
        client_secret: str = "",
        access_token: str = "",
        refresh_token: str = "",
        token_file: Path | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        persist: Callable[[Path, str], None] = write_private_file,
    ) -> None:
        self.auth_url = auth_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_file = token_file
        self._http = http or httpx.Client(timeout=30.0)
        self._clock = clock
        self._persist = persist
        self._lock = threading.Lock()
        self._unpersisted: TokenSet | None = None
        register_secret(client_secret)
        if token_file:
            ensure_private(token_file)
        stored = read_token_file(token_file) if token_file else None
        self._tokens = stored or TokenSet(access_token, refresh_token, jwt_expiry(access_token))
        self._register(self._tokens)

    @staticmethod
    def _register(tokens: TokenSet) -> None:
        register_secret(tokens.access_token)
        register_secret(tokens.refresh_token)

    @property
    def can_refresh(self) -> bool:
        return bool(self._tokens.refresh_token and self.client_id)

    def _expired(self) -> bool:
        expires = self._tokens.expires_at
        return expires is not None and self._clock() >= expires - EXPIRY_MARGIN_SECONDS

    def access_token(self) -> str:
        """A usable access token; refreshes first when it is missing or about to expire."""
        with self._lock:
            self._retry_persist()
            if (not self._tokens.access_token or self._expired()) and self.can_refresh:
                self._refresh_shared(rejected=None)
            if not self._tokens.access_token:
                raise NoCredentials("no Fleet API access token is configured; " + REAUTH_HINT)
            return self._tokens.access_token

    def rejected(self, token: str) -> str:
        """The API answered 401 to ``token``: refresh once (unless another thread already
        did) and return the token to retry with."""
        with self._lock:
            if token != self._tokens.access_token:
                return self._tokens.access_token
            if not self.can_refresh:
                raise AuthRequired(
                    "the Fleet API rejected the access token (401) and no refresh token and "
                    "client id are configured to renew it; " + REAUTH_HINT
                )
            self._refresh_shared(rejected=token)
            return self._tokens.access_token

    def _refresh_shared(self, rejected: str | None) -> None:
        """Refresh under the cross-process lock, unless the token file already holds a pair
        another process rotated to (then adopt it). ``rejected`` is the access token the API
        refused (None: ours expired)."""
        if not self.token_file:
            self._refresh_locked()
            return
        with refresh_lock(self.token_file):
            if self._adopt_rotated(rejected):
                return
            try:  # write probe: the current pair, so a failure loses nothing
                self._persist(self.token_file, self._tokens.to_json())
            except OSError as exc:
                raise _unwritable(self.token_file, exc) from None
            self._refresh_locked()

    def _adopt_rotated(self, rejected: str | None) -> bool:
        """Take the token file's pair when another process rotated it; True when its access
        token is usable as it is (no refresh needed)."""
        assert self.token_file is not None
        if self._unpersisted is not None:
            return False  # our own rotation is newer than the file
        stored = read_token_file(self.token_file)
        if stored is None or stored.refresh_token == self._tokens.refresh_token:
            return False
        self._register(stored)
        self._tokens = stored
        log.info("token file was rotated by another process; using its pair")
        usable = bool(stored.access_token) and stored.access_token != rejected
        return usable and not self._expired()

    def _refresh_locked(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "refresh_token": self._tokens.refresh_token,
        }
        if self._client_secret:
            form["client_secret"] = self._client_secret
        try:
            response = self._http.post(self.auth_url, data=form)
        except httpx.HTTPError as exc:
            raise TransientError(
                f"token refresh failed: {type(exc).__name__} reaching the auth server",
                endpoint="oauth_token",
            ) from None
        new = self._parse_refresh(response)
        self._register(new)
        self._store(new)
        self._tokens = new
        expires_in = round((new.expires_at or 0) - self._clock())
        log.info("access token refreshed", expires_in_s=expires_in)

    def _parse_refresh(self, response: httpx.Response) -> TokenSet:
        if response.status_code >= 500:
            raise TransientError(
                f"token refresh failed: auth server answered {response.status_code}",
                status=response.status_code,
                endpoint="oauth_token",
            )
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error", "") if isinstance(body, dict) else ""
            raise AuthRequired(
                f"token refresh was refused ({response.status_code} {error}".strip()
                + "); " + REAUTH_HINT + self._stale_file_advice(),
                status=response.status_code,
                endpoint="oauth_token",
            )
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not access:
            raise InvalidResponse(
                "token refresh answer has no access_token", endpoint="oauth_token"
            )
        expires_in = body.get("expires_in")
        expires_at = (
            self._clock() + float(expires_in)
            if isinstance(expires_in, int | float)
            else jwt_expiry(access)
        )
        # Tesla always rotates; if a server does not, keep the old refresh token.
        return TokenSet(access, refresh or self._tokens.refresh_token, expires_at)

    def _stale_file_advice(self) -> str:
        """Only said after the file's own refresh token was refused (it was re-read under the
        lock just before), so deleting the file never throws away a usable pair."""
        if self.token_file is None or not self.token_file.exists():
            return ""
        return (f", then delete {self.token_file}: the refresh token it holds was just "
                "refused, so it has no usable pair left")

    def _store(self, tokens: TokenSet) -> None:
        if not self.token_file:
            return
        try:
            self._persist(self.token_file, tokens.to_json())
            self._unpersisted = None
        except OSError as exc:
            self._unpersisted = tokens
            log.error(
                "could not save the rotated refresh token; keeping it in memory and retrying",
                path=str(self.token_file),
                error=exc.strerror,
            )

    def _retry_persist(self) -> None:
        if self._unpersisted is not None:
            self._store(self._unpersisted)
