"""Shared fixtures and the Hypothesis profiles of the test suite.

Profiles (select one with ``HYPOTHESIS_PROFILE``): ``default`` keeps the suite
fast (100 examples, no deadline, since shared CI machines stall); ``thorough``
draws ten times as many examples for a deliberate search.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import stamina
from hypothesis import HealthCheck, settings

from auth0_ory_migrate._core import _read
from auth0_ory_migrate.testing import OryAdminServer


settings.register_profile(
    "default",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config: pytest.Config) -> None:
    """Use the fixtures of auth0_ory_migrate.testing, as an installed package's users do.

    An installed package registers the plugin through its entry point; a source checkout
    whose metadata predates the entry point gets it here.
    """
    if not config.pluginmanager.has_plugin("auth0_ory_migrate"):
        from auth0_ory_migrate.testing import pytest_plugin

        config.pluginmanager.register(pytest_plugin, "auth0_ory_migrate")


#: The bundled example exports (see examples/make_examples.py).
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def forked_workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """Workers forked, in blocks of the size given (few lines: many blocks per worker).

    (The suite may have left a test server's thread running: pretend it has not, so that the
    workers are forked; they use no thread.) Every worker is reaped by the end of the test.
    """
    monkeypatch.setattr(threading, "active_count", lambda: 1)

    def blocks_of(size: int) -> None:
        monkeypatch.setattr(_read, "_BLOCK", size)

    yield blocks_of
    assert multiprocessing.active_children() == []  # every worker was reaped


@pytest.fixture
def examples() -> Path:
    """The folder of bundled example exports."""
    return EXAMPLES


@pytest.fixture
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside its own empty directory (for commands that write to the cwd)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def no_backoff() -> Iterator[None]:
    """Retries without their waits: stamina's testing mode, 30 attempts."""
    with stamina.set_testing(True, attempts=30):
        yield


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[OryAdminServer]:
    """An Ory admin test server that takes the test module's API key (its ``KEY``)."""
    with OryAdminServer(api_key=request.module.KEY) as s:
        yield s


# A test run started with SIGINT ignored (a background job of a non-interactive shell, some CI
# runners) would pass that on to every child: the Ctrl-C tests' commands would ignore their
# SIGINT. A handler of this process's own is not inherited (it is reset on exec).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
