"""auth0_ory_migrate.testing's builders at scale: linear time, and the same data for a seed."""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from auth0_ory_migrate.testing import FakeAuth0User, auth0_users, fake_bcrypt


def _digest(users: list[FakeAuth0User]) -> str:
    """A digest of everything a generated user carries, in order."""
    fields = [
        (u.user_id, u.kind, u.record, u.hash_record, u.mfa_secret, u.password, u.mfa_records)
        for u in users
    ]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


# Digests of the data the builders made before they were made fast (issue 16): the same seed
# must keep giving the same users, as tests and users' fixtures pin them.
PINNED = [
    (
        {"n": 2000, "real_hashes": False, "mfa": True},
        "d6f7a5754783f07e640ec6bd68a457776cd9909f15b01c315625d321e67b8431",
    ),
    (
        {"n": 1000, "real_hashes": False, "every_kind": True, "seed": 3},
        "1982e89d0bff29619eadcd3d15f3f8e49844905afe1b27d1252662430e26a219",
    ),
    (
        {"n": 300, "real_hashes": False, "kinds": ["social", "linked", "sms"], "seed": 2},
        "cc2ed6c2fa702e1f45b2a34598b8706074c491c1e185dffc367160ae75ded10d",
    ),
]


@pytest.mark.parametrize(("options", "digest"), PINNED, ids=["mfa", "every_kind", "kinds"])
def test_the_same_seed_gives_the_same_users_as_ever(options: dict[str, Any], digest: str) -> None:
    """auth0_users makes, for a seed, exactly the users it made before it was made fast."""
    assert _digest(auth0_users(**options)) == digest


def test_fake_bcrypt_draws_as_random_choice_does() -> None:
    """fake_bcrypt gives what 53 rng.choice() calls give and leaves the generator where they do."""
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    for seed in range(200):
        fast, slow = random.Random(seed), random.Random(seed)
        cost = seed % 12 + 4
        expected = f"$2b${cost:02d}$" + "".join(slow.choice(alphabet) for _ in range(53))
        assert fake_bcrypt(fast, cost=cost) == expected
        assert fast.random() == slow.random()


def _python_calls(function: Callable[[], object]) -> int:
    """How many Python frames (calls and generator resumptions) *function* runs: no clock."""
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        function()
    finally:
        sys.setprofile(None)
    return count


def test_auth0_users_take_linear_work() -> None:
    """Twice the users cost about twice the work (it was quadratic: 100,000 users took 20 min)."""
    small = _python_calls(lambda: auth0_users(1000, real_hashes=False))
    large = _python_calls(lambda: auth0_users(2000, real_hashes=False))
    assert large < 2.2 * small, (small, large)


def test_fifty_thousand_users_are_distinct_where_auth0_needs_it() -> None:
    """50,000 users (a load test's worth) have distinct ids and distinct SMS numbers."""
    users = auth0_users(50_000, real_hashes=False)
    assert len({u.user_id for u in users}) == len(users)
    phones = [u.record["phone_number"] for u in users if u.kind == "sms"]
    assert len(set(phones)) == len(phones)
