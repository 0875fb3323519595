"""The resume file of an interrupted backfill: which (site, kind, window) are finished.

A window is recorded only after its points were handed to the sink and the sink returned
(written to InfluxDB or appended to its fsync'd spool), and only when it is *final* (ends
before yesterday, local): today and yesterday are always fetched again because Tesla revises
them. The file is JSON, replaced atomically (temp file, fsync, rename, fsync of the directory),
so a kill at any moment leaves either the old or the new version. When a run finishes its
plan without failures it forgets that plan's windows, so running the same range again
re-imports it (idempotently) instead of silently doing nothing.

This module must not decide what to fetch or touch InfluxDB; it only remembers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path

from collector.backfill.windows import Window
from collector.files import write_private_file
from collector.log import get_logger

log = get_logger(__name__)

FILE_NAME = "backfill-checkpoint.json"
VERSION = 1


def checkpoint_path(state_dir: Path) -> Path:
    return Path(state_dir) / FILE_NAME


class Checkpoint:
    """Finished window keys, persisted in ``path`` after every change (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._done: set[str] = self._load()

    def _load(self) -> set[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError) as exc:
            log.warning("ignoring an unreadable backfill checkpoint; windows will be refetched",
                        path=str(self.path), error=str(exc))
            return set()
        done = data.get("done") if isinstance(data, dict) else None
        return {str(k) for k in done} if isinstance(done, list) else set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._done)

    def is_done(self, window: Window) -> bool:
        with self._lock:
            return window.key in self._done

    def mark(self, windows: Iterable[Window]) -> None:
        """Record windows as finished (call only after their points are durably written)."""
        keys = {w.key for w in windows}
        with self._lock:
            if keys <= self._done:
                return
            self._done |= keys
            self._save_locked()

    def forget(self, windows: Iterable[Window]) -> None:
        """Drop windows of a completed plan; the file is removed when nothing is left."""
        keys = {w.key for w in windows}
        with self._lock:
            if not keys & self._done:
                return
            self._done -= keys
            if self._done:
                self._save_locked()
            else:
                self.path.unlink(missing_ok=True)

    def _save_locked(self) -> None:
        text = json.dumps({"version": VERSION, "done": sorted(self._done)}, indent=0)
        write_private_file(self.path, text)
