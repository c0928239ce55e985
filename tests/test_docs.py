"""The Python examples in README.md and docs/ run as written.

A page's ```python blocks run in order in one namespace, as a reader who copies them one after
another would (a function defined in one block is used, and so exercised, by the next). The test
examples of docs/testing.md also run as a user's project would: each test file the page makes (a
block's first line ``# test_x.py`` names it; a block without one goes in the file above) is written
into a new directory and run by pytest in a subprocess with the plugin and Hypothesis' defaults.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(page: Path) -> list[tuple[str, str]]:
    """``(page#N, code)`` of each ```python block of *page*, in order (N counts from 1)."""
    name = page.relative_to(ROOT) if page.is_relative_to(ROOT) else Path(page.name)
    return [(f"{name}#{n}", code) for n, code in enumerate(_BLOCK.findall(page.read_text()), 1)]


def _run_page(page: Path) -> dict[str, Any]:
    """Run the ```python blocks of *page* in order in one namespace, as a reader would."""
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for where, code in _blocks(page):
        exec(compile(code, where, "exec"), namespace)  # noqa: S102
    return namespace


PAGES = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))] if _blocks(p)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_runs(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ```python blocks of each page run in order in one namespace, from the repository root."""
    monkeypatch.chdir(ROOT)
    _run_page(page)


def test_blocks_of_a_page_share_one_namespace(tmp_path: Path) -> None:
    """A function defined in one block of a page is there, and is run, in the next block."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\ndef double(n):\n    return 2 * n\n```\n\nSome prose.\n\n"
        "```console\n$ not python\n```\n\n```python\nresult = double(21)\n```\n"
    )
    assert _run_page(page)["result"] == 42


def test_a_failing_block_is_named_by_page_and_number(tmp_path: Path) -> None:
    """A block that fails shows up in the traceback as ``page.md#N``."""
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n```\n\n```python\nassert x == 2, 'wrong'\n```\n")
    with pytest.raises(AssertionError, match="wrong") as e:
        _run_page(page)
    assert str(e.traceback[-1].path) == "page.md#2"


#: A block's first line ``# test_x.py`` (or ``# conftest.py``) names the file a reader puts it in.
_FILE = re.compile(r"# ((?:test_\w+|conftest)\.py)\n")
TESTING_PAGE = ROOT / "docs" / "testing.md"


def _project_files(page: Path) -> dict[str, str]:
    """The files a reader makes of *page*: a block goes in the file named above it, in order."""
    files: dict[str, str] = {}
    name = f"test_{page.stem}.py"
    for _, code in _blocks(page):
        if header := _FILE.match(code):
            name = header.group(1)
        files[name] = f"{files[name]}\n\n{code}" if name in files else code
    return files


def test_the_blocks_of_a_page_go_in_the_files_they_name(tmp_path: Path) -> None:
    """Blocks go in the file named on their first line, or else in the file of the block above."""
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nA = 1\n```\n```python\n# test_b.py\nB = A\n```\n"
        "```python\nC = B\n```\n```python\n# conftest.py\nD = 4\n```\n"
    )
    assert _project_files(page) == {
        "test_page.py": "A = 1\n",
        "test_b.py": "# test_b.py\nB = A\n\n\nC = B\n",
        "conftest.py": "# conftest.py\nD = 4\n",
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_project_files(TESTING_PAGE)))
def test_the_testing_page_passes_when_copied_into_a_fresh_project(
    name: str, tmp_path: Path
) -> None:
    """Each test file docs/testing.md makes passes under pytest in a new project of its own."""
    (tmp_path / name).write_text(_project_files(TESTING_PAGE)[name])
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HYPOTHESIS", "PYTEST"))}
    plugin = ["-p", "no:auth0_ory_migrate", "-p", "auth0_ory_migrate.testing.pytest_plugin"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *plugin],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(r"=+ \d+ passed in [\d.]+s( \([\d:]+\))? =+", summary), out
    assert "lost its" not in out
    assert "Deadline" not in out
