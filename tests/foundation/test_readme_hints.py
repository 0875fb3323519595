"""Every hint in the product that sends the user to a README section ("see README,
'Heading'") names a heading that exists in README.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HINT = re.compile(r"README[,:]?\s+(?:section\s+)?'([^']+)'")


def _headings() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return {m.group(1).strip() for m in re.finditer(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)}


def _hints() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "collector").rglob("*.py")):
        text = re.sub(r"\s+", " ", path.read_text(encoding="utf-8").replace('"\n', "")
                      .replace("# ", ""))
        text = re.sub(r'"\s*"', "", text)  # implicitly joined string literals
        found += [(str(path.relative_to(ROOT)), m.group(1)) for m in HINT.finditer(text)]
    return found


def test_hints_exist():
    assert ("collector/source/tokens.py", "Getting Fleet API tokens") in _hints()


def test_every_readme_hint_names_an_existing_heading():
    headings = _headings()
    missing = [(path, hint) for path, hint in _hints() if hint not in headings]
    assert not missing, f"hints naming no README heading: {missing}"
