"""Benchmark the Hypothesis strategies (issue 16, point 6): draws per second, time to shrink.

    python benchmarks/bench_strategies.py [EXAMPLES]     # default: 300

Prints, best of 3 rounds each (a busy machine only ever adds time):

- draws/s of ``auth0_exports(max_users=8)`` (the target: a few ms a draw, was ~75 ms);
- the time a failing property takes to find and shrink its failure, and what it shrank to:
  a pipeline that forgets ``state`` (so a blocked user lands active) checked with
  ``migration_problems`` against an ``InMemoryOryAdmin``; the minimal failure is one blocked
  user, no other user and no MFA record.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Found


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auth0_ory_migrate import (  # noqa: E402
    PlannedIdentity,
    import_identities,
    plan_migration,
    read_users,
)
from auth0_ory_migrate.testing import (  # noqa: E402
    InMemoryOryAdmin,
    migration_problems,
    write_export,
)
from auth0_ory_migrate.testing.strategies import Auth0Export, auth0_exports  # noqa: E402


ROUNDS = 3
QUIET = settings(
    database=None,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


def draws_per_second(examples: int) -> float:
    """Examples of auth0_exports(max_users=8) drawn per second (generation only)."""

    @settings(QUIET, max_examples=examples, phases=[Phase.generate])
    @given(auth0_exports(max_users=8))
    def draw(export: Auth0Export) -> None:
        pass

    started = time.perf_counter()
    draw()
    return examples / (time.perf_counter() - started)


def _forgets_state(export: Auth0Export, directory: Path) -> list[Any]:
    """The pipeline under test: import what the plan says, but drop ``state``."""
    files = write_export(directory, export)

    def users() -> Iterator[Any]:
        with files.users.open("rb") as f:
            yield from read_users(f)

    plan = plan_migration(users)
    bodies = []
    for item in plan:
        if isinstance(item, PlannedIdentity):
            bodies.append({k: v for k, v in item.body.items() if k != "state"})
    ory = InMemoryOryAdmin()
    import_identities(bodies, ory)
    return migration_problems(files, ory, ignore=["password", "mfa"])


def time_to_shrink() -> tuple[float, Auth0Export]:
    """Seconds to find and shrink the forgotten state, and the export it shrank to."""
    shrunk: list[Auth0Export] = []

    @settings(QUIET, max_examples=1000, report_multiple_bugs=False)
    @given(auth0_exports(max_users=8))
    def property_(export: Auth0Export) -> None:
        with tempfile.TemporaryDirectory() as directory:
            problems = _forgets_state(export, Path(directory))
        if problems:
            shrunk[:] = [export]
            raise AssertionError(problems[0].message)

    started = time.perf_counter()
    try:
        property_()
    except (AssertionError, Found):
        pass
    else:
        msg = "the property did not fail"
        raise SystemExit(msg)
    return time.perf_counter() - started, shrunk[0]


def main(examples: int) -> None:
    """Print the figures."""
    rates = []
    for round_ in range(1, ROUNDS + 1):
        rates.append(draws_per_second(examples))
        print(f"round {round_}: {rates[-1]:7.1f} draws/s ({1000 / rates[-1]:.1f} ms a draw)")
    best = max(rates)
    print(f"auth0_exports(max_users=8): {best:.0f} draws/s, {1000 / best:.1f} ms a draw (best)")
    times = []
    for round_ in range(1, ROUNDS + 1):
        seconds, export = time_to_shrink()
        times.append(seconds)
        print(
            f"round {round_}: shrunk in {seconds:5.1f} s to {len(export.users)} user(s) "
            f"({', '.join(sorted({str(u.get('blocked')) for u in export.users}))} blocked), "
            f"{len(export.password_hashes)} hash record(s), {len(export.mfa_secrets)} MFA record(s)"
        )
    print(f"forgotten state: found and shrunk in {min(times):.1f} s (best of {ROUNDS})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
