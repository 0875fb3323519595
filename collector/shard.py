"""Sharding a fleet across replicas: which sites this replica collects (``COLLECTOR_SHARD``).

``i/n`` (0 <= i < n; i is a StatefulSet pod ordinal) selects the sites whose stable hash falls
in shard i: the first 8 bytes of SHA-256 of the decimal site id, modulo n. The hash depends on
nothing but the id and n, so every replica agrees without talking to the others, a restart
never moves a site, and adding a site never moves another one. ``0/1`` (the default) is one
replica collecting everything. Pure: no I/O, no configuration loading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based, like a StatefulSet ordinal)."""

    index: int = 0
    count: int = 1

    @property
    def sharded(self) -> bool:
        return self.count > 1

    @property
    def label(self) -> str:
        """``i/n`` as written in ``COLLECTOR_SHARD``."""
        return f"{self.index}/{self.count}"

    @property
    def directory_name(self) -> str:
        """This replica's state subdirectory (spool, tokens, health, checkpoints)."""
        return f"shard-{self.index}-of-{self.count}"

    def owns(self, site_id: int) -> bool:
        return shard_of(site_id, self.count) == self.index

    def select(self, site_ids: Iterable[int]) -> list[int]:
        """The ids of ``site_ids`` this shard collects, in their given order."""
        return [site_id for site_id in site_ids if self.owns(site_id)]

    def __str__(self) -> str:
        return self.label


def shard_of(site_id: int, count: int) -> int:
    """The shard (0..count-1) that collects ``site_id``."""
    digest = hashlib.sha256(str(int(site_id)).encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(raw: object) -> Shard:
    """``"i/n"`` -> ``Shard``; raises ``ValueError`` with the fix (the config loader names the
    key). Empty means one replica (``0/1``)."""
    text = str(raw).strip() if isinstance(raw, str) else None
    if text is None:
        raise ValueError('must be a string like "0/3" (shard index / replica count)')
    if not text:
        return Shard()
    index_text, slash, count_text = text.partition("/")
    index_text, count_text = index_text.strip(), count_text.strip()
    if not slash or not _digits(index_text) or not _digits(count_text):
        raise ValueError('must be "i/n" with whole numbers, e.g. "0/3" for the first of '
                         "3 replicas")
    index, count = int(index_text), int(count_text)
    if count < 1:
        raise ValueError("needs a replica count n of 1 or more")
    if index >= count:
        raise ValueError(f"has shard index {index}, but the indexes of {count} replicas are "
                         f"0 to {count - 1}")
    return Shard(index, count)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
