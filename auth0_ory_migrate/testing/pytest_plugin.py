"""pytest fixtures to test a migration: ``ory_admin_server``, ``auth0_server``, ``auth0_export``.

And ``shared_ory_admin_server`` and ``shared_auth0_server``, the ones to use with Hypothesis'
``@given``.

Installing auth0-ory-migrate registers this module as a pytest plugin (entry point
``auth0_ory_migrate`` in the ``pytest11`` group), so the fixtures are there in every test
without an import; ``-p no:auth0_ory_migrate`` switches it off. The library does not depend on
pytest, and this module imports nothing but pytest until a fixture is used: a project without
the ``testing`` extra runs pytest as before.

``auth0_export``
    A realistic Auth0 export in a temporary directory
    (:class:`~auth0_ory_migrate.testing.ExportFiles`): ``auth0_users(n=50, seed=1, mfa=True)``
    written by :func:`~auth0_ory_migrate.testing.write_export` with the password-hash and
    MFA-secrets files. Change it with the marker
    ``@pytest.mark.auth0_export(...)``, whose keywords go to
    :func:`~auth0_ory_migrate.testing.auth0_users` (``n``, ``seed``, ``kinds``, ``mfa``, ...) or
    :func:`~auth0_ory_migrate.testing.write_export` (``fmt``, ``hashes``, ``hash_fmt``,
    ``hash_id_form``, ``mfa_secrets``).
``ory_admin_server``
    A running :class:`~auth0_ory_migrate.testing.OryAdminServer`, empty; the keywords of the
    marker ``@pytest.mark.ory_admin_server(...)`` go to its constructor (``api_key``,
    ``schemas``, ``faults``, ...).
``shared_ory_admin_server``
    One running :class:`~auth0_ory_migrate.testing.OryAdminServer` for the whole test module
    (module-scoped, so Hypothesis' ``@given`` takes it without its ``function_scoped_fixture``
    health check), configured by a module-level ``pytestmark =
    pytest.mark.ory_admin_server(...)``. It keeps what the previous test or example stored:
    call its ``reset(keep_faults=True)`` first in each example (no restart, microseconds).
``shared_auth0_server``
    One running :class:`~auth0_ory_migrate.testing.Auth0ManagementServer` for the whole test
    module, with no user (configured by ``pytest.mark.auth0_server(...)`` on the module): call
    its ``reset(users=..., keep_faults=True)`` first in each example.
``auth0_server``
    A running :class:`~auth0_ory_migrate.testing.Auth0ManagementServer` holding the users of
    ``auth0_export`` (for export jobs) and letting its database users log in with their known
    passwords (for a password-migration hook); the keywords of the marker
    ``@pytest.mark.auth0_server(...)`` go to its constructor.

Example::

    @pytest.mark.auth0_export(n=20, kinds=["database", "social"])
    def test_import(auth0_export, ory_admin_server):
        my_pipeline(auth0_export.users, auth0_export.password_hashes, ory_admin_server.url)
        assert_migrated(auth0_export, ory_admin_server)

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest


if TYPE_CHECKING:
    from auth0_ory_migrate.testing import Auth0ManagementServer, ExportFiles, OryAdminServer


__all__ = [
    "auth0_export",
    "auth0_server",
    "ory_admin_server",
    "shared_auth0_server",
    "shared_ory_admin_server",
]

_MARKERS = {
    "auth0_export": "auth0_export(**kwargs): options of auth0_users() and write_export()",
    "ory_admin_server": "ory_admin_server(**kwargs): OryAdminServer(...) keywords",
    "auth0_server": "auth0_server(**kwargs): Auth0ManagementServer(...) keywords",
}


def pytest_configure(config: pytest.Config) -> None:
    """Register the fixtures' markers (so ``--strict-markers`` accepts them)."""
    for line in _MARKERS.values():
        config.addinivalue_line("markers", line)


def _marker_kwargs(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    if marker is None:
        return {}
    if marker.args:
        msg = f"@pytest.mark.{name} takes keyword arguments only"
        raise pytest.UsageError(msg)
    return dict(marker.kwargs)


@pytest.fixture
def auth0_export(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ExportFiles:
    """A realistic Auth0 export (users, password hashes, MFA secrets) in a temporary directory.

    .. versionadded:: 0.1.0
    """
    from auth0_ory_migrate import testing  # noqa: PLC0415 (nothing heavy before use)

    options = {"n": 50, "seed": 1, "mfa": True, **_marker_kwargs(request, "auth0_export")}
    user_keys = set(inspect.signature(testing.auth0_users).parameters)
    users = testing.auth0_users(**{k: v for k, v in options.items() if k in user_keys})
    return testing.write_export(
        tmp_path_factory.mktemp("auth0-export"),
        users,
        **{k: v for k, v in options.items() if k not in user_keys},
    )


@pytest.fixture
def ory_admin_server(request: pytest.FixtureRequest) -> Iterator[OryAdminServer]:
    """A running, empty Ory admin identity API on 127.0.0.1.

    .. versionadded:: 0.1.0
    """
    from auth0_ory_migrate.testing import OryAdminServer  # noqa: PLC0415

    with OryAdminServer(**_marker_kwargs(request, "ory_admin_server")) as server:
        yield server


@pytest.fixture(scope="module")
def shared_ory_admin_server(request: pytest.FixtureRequest) -> Iterator[OryAdminServer]:
    """One running Ory admin identity API for the test module: reset it in each example.

    Example::

        pytestmark = pytest.mark.ory_admin_server(faults=OryFaults(rate_limit_every=3))

        @given(auth0_exports(max_users=8))
        def test_pipeline(shared_ory_admin_server, export):
            ory = shared_ory_admin_server
            ory.reset(keep_faults=True)  # empty again, the faults still on
            ...

    .. versionadded:: 0.1.0
    """
    from auth0_ory_migrate.testing import OryAdminServer  # noqa: PLC0415

    with OryAdminServer(**_marker_kwargs(request, "ory_admin_server")) as server:
        yield server


@pytest.fixture(scope="module")
def shared_auth0_server(request: pytest.FixtureRequest) -> Iterator[Auth0ManagementServer]:
    """One running Auth0 tenant for the test module, with no user: reset it in each example.

    Example::

        @given(auth0_exports(max_users=8))
        def test_pipeline(shared_auth0_server, export):
            auth0 = shared_auth0_server
            auth0.reset(users=export.users, keep_faults=True)  # this example's tenant
            ...

    .. versionadded:: 0.1.0
    """
    from auth0_ory_migrate.testing import Auth0ManagementServer  # noqa: PLC0415

    with Auth0ManagementServer(**_marker_kwargs(request, "auth0_server")) as server:
        yield server


@pytest.fixture
def auth0_server(
    request: pytest.FixtureRequest, auth0_export: ExportFiles
) -> Iterator[Auth0ManagementServer]:
    """A running Auth0 tenant holding the users of ``auth0_export``.

    .. versionadded:: 0.1.0
    """
    from auth0_ory_migrate import testing  # noqa: PLC0415

    users = auth0_export.fake_users
    options: dict[str, Any] = {
        "users": [u.record for u in users],
        "password_users": testing.password_users(users),
        **_marker_kwargs(request, "auth0_server"),
    }
    with testing.Auth0ManagementServer(**options) as server:
        yield server
