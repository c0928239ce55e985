"""Kratos's import-time bounds on hash cost parameters (``hash/hash_limits.go``), checked first."""

from __future__ import annotations

import pytest

from auth0_ory_migrate import ory_hash_problem
from auth0_ory_migrate.testing import is_supported_password_hash


SALT = "c2FsdHNhbHRzYWx0c2FsdA=="
KEY = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (f"$scrypt$ln=16384,r=8,p=1${SALT}${KEY}", True),
        (f"$scrypt$ln=131072,r=8,p=10${SALT}${KEY}", True),
        (f"$scrypt$ln=262144,r=8,p=1${SALT}${KEY}", False),  # N > 2^17
        (f"$scrypt$ln=16384,r=9,p=1${SALT}${KEY}", False),  # r > 8
        (f"$scrypt$ln=16384,r=8,p=11${SALT}${KEY}", False),  # p > 10
        (f"$scrypt$ln=0,r=8,p=1${SALT}${KEY}", False),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5", True),
        ("$argon2id$v=19$m=2097152,t=3,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5", False),  # m > 1 GiB
        ("$argon2id$v=19$m=65536,t=11,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5", False),  # t > 10
        ("$argon2id$v=19$m=65536,t=3,p=17$c2FsdHNhbHQ$a2V5a2V5a2V5", False),  # p > 16
        ("$pbkdf2-sha256$i=10000000,l=32$c2FsdHNhbHQ$a2V5a2V5a2V5", True),
        ("$pbkdf2-sha256$i=10000001,l=32$c2FsdHNhbHQ$a2V5a2V5a2V5", False),
        ("$pbkdf2-sha256$i=0,l=32$c2FsdHNhbHQ$a2V5a2V5a2V5", False),
    ],
)
def test_cost_parameters_outside_kratos_bounds_are_refused_before_sending(
    value: str, accepted: bool
) -> None:
    """A hash Kratos's ValidateImportedHash refuses is a problem here too, and at the twin."""
    problem = ory_hash_problem(value)
    assert (problem is None) is accepted, problem
    assert is_supported_password_hash(value) is accepted
    if problem is not None:
        assert SALT not in problem
        assert "a2V5a2V5" not in problem
