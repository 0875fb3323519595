"""Helpers for the tariff tests: load a fixture tariff as a fresh, mutable dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collector.tariff import Problem, load_tariff, validate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tariffs"


def doc(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def problems(document: dict[str, Any]) -> list[Problem]:
    return validate(load_tariff(document))


def messages(document: dict[str, Any], level: str) -> list[str]:
    return [p.message for p in problems(document) if p.level == level]
