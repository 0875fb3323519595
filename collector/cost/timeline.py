"""The tariff timeline: which tariff version priced which instant.

A site's timeline is the list of its stored ``tariff_version`` points: *snapshots* (source
``site_info``: the tariff the site reported, in effect from when it was first seen until the
next snapshot) and *declarations* (source ``file``: ``tesla-energy tariff use``, in effect for
``[start, until)``, or until the next version of either kind when open-ended). The rules:

- declared ranges win over snapshots; where declarations overlap, the one starting last wins;
- an instant no version covers (before the first known version, or in a gap after a declared
  range ended) takes the nearest known version: the next one, else the last one. Such instants
  are flagged ``assumed`` so every report can say so.

Pure: versions in, per-instant version indexes out. Reading and writing ``tariff_version``
points is ``collector.cost.store``'s job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from collector.tariff import CompiledTariff, Tariff, compile_tariff, load_tariff

SNAPSHOT = "site_info"
DECLARED = "file"
SOURCES = (SNAPSHOT, DECLARED)
_OPEN = np.iinfo("int64").max


def canonical_json(content: Mapping[str, Any]) -> str:
    """The tariff JSON as stored: compact, keys sorted (so equal tariffs hash equally)."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_sha256(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TariffVersion:
    """One stored tariff: in effect from ``start`` (epoch seconds); ``until`` (exclusive) only
    for declared ranges with an end."""

    start: int
    source: str
    content: dict[str, Any] = field(compare=False)
    sha256: str = ""
    until: int | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown tariff_version source {self.source!r}")
        if not self.sha256:
            object.__setattr__(self, "sha256", content_sha256(self.content))

    @cached_property
    def tariff(self) -> Tariff:
        return load_tariff(self.content)

    @cached_property
    def compiled(self) -> CompiledTariff:
        return compile_tariff(self.tariff)

    @property
    def currency(self) -> str:
        return self.tariff.currency

    def title(self) -> str:
        t = self.tariff
        return " / ".join(p for p in (t.name, t.utility, t.code) if p) or "(no name)"


@dataclass(frozen=True)
class Lookup:
    """Per instant: the index of the version in effect (into ``Timeline.versions``) and
    whether it was assumed (no version covered the instant)."""

    index: np.ndarray
    assumed: np.ndarray


class Timeline:
    """A site's tariff versions, sorted by start, with the lookup rules of the module."""

    def __init__(self, versions: Iterable[TariffVersion]) -> None:
        self.versions: tuple[TariffVersion, ...] = tuple(
            sorted(versions, key=lambda v: (v.start, v.source == DECLARED)))

    def __bool__(self) -> bool:
        return bool(self.versions)

    def __len__(self) -> int:
        return len(self.versions)

    @cached_property
    def _starts(self) -> np.ndarray:
        return np.array([v.start for v in self.versions], dtype="int64")

    def end_of(self, position: int) -> int | None:
        """Where version ``position`` stops: its ``until``, or the next later start of a
        version of its kind (snapshots) / of any kind (open declarations); None: open."""
        version = self.versions[position]
        if version.until is not None:
            return version.until
        later = [v.start for v in self.versions[position + 1:] if v.start > version.start
                 and (version.source == DECLARED or v.source == SNAPSHOT)]
        return min(later) if later else None

    def lookup(self, seconds: Sequence[int] | np.ndarray) -> Lookup:
        """The version in effect at each instant (epoch seconds)."""
        times = np.asarray(seconds, dtype="int64")
        index = np.full(len(times), -1, dtype=np.intp)
        if not self.versions:
            return Lookup(index, np.ones(len(times), dtype=bool))
        for source in SOURCES:  # snapshots first: declarations overwrite them
            for position, version in enumerate(self.versions):  # in start order
                if version.source == source:
                    end = self.end_of(position)
                    index[(times >= version.start) & (times < (_OPEN if end is None
                                                               else end))] = position
        assumed = index < 0
        if assumed.any():
            index[assumed] = self._nearest(times[assumed])
        return Lookup(index, assumed)

    def _nearest(self, times: np.ndarray) -> np.ndarray:
        """The next version starting after each instant, else the last one."""
        following = np.searchsorted(self._starts, times, side="right")
        return np.where(following < len(self.versions), following, len(self.versions) - 1)

    @cached_property
    def has_demand(self) -> bool:
        """Whether any version charges demand (a non-zero per-kW rate somewhere)."""
        return any(np.nan_to_num(v.compiled.demand).any() for v in self.versions)

    def first_start(self) -> int | None:
        return int(self._starts[0]) if self.versions else None

    def by_sha(self) -> dict[str, TariffVersion]:
        return {v.sha256: v for v in self.versions}
