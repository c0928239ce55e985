"""The Python examples in README.md and docs/ run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [
        (f"{page.relative_to(ROOT)}#{n}", code)
        for page in pages
        for n, code in enumerate(_BLOCK.findall(page.read_text()), 1)
    ]


@pytest.mark.parametrize(("where", "code"), _examples(), ids=[w for w, _ in _examples()])
def test_example_runs(where: str, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ```python block of the docs executes without error from the repository root."""
    monkeypatch.chdir(ROOT)
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})  # noqa: S102
