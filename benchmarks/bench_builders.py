"""Benchmark ``auth0_users(n, real_hashes=False)``: test data at scale (issue 16, point 7).

    python benchmarks/bench_builders.py [N ...]     # default: 50000 1000000

Builds *N* users with fake (well-formed) bcrypt hashes, in a fresh subprocess per size and in
turns (3 rounds by default), and prints users/s of the best run of each size (as ``timeit``
does: a busy machine only ever adds time), wall-clock and CPU. The target is >= 50,000 users/s
(before issue 16: 100,000 users took 1,191 s, an O(n^2) duplicate-email check).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3

ONE_RUN = """
import sys, time
sys.path.insert(0, sys.argv[2])
from auth0_ory_migrate.testing import auth0_users
n = int(sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
users = auth0_users(n, real_hashes=False)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
assert len(users) == n
print(wall, cpu)
"""


def main(sizes: list[int]) -> None:
    """Time each size ROUNDS times, in turns, and print the best."""
    best: dict[int, tuple[float, float]] = {}
    for round_ in range(1, ROUNDS + 1):
        for n in sizes:
            out = subprocess.run(
                [sys.executable, "-c", ONE_RUN, str(n), str(ROOT)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            wall, cpu = map(float, out.split())
            print(f"round {round_}: {n:>9,} users in {wall:6.2f} s ({cpu:6.2f} s CPU)")
            old = best.get(n, (float("inf"), float("inf")))
            best[n] = (min(old[0], wall), min(old[1], cpu))
    for n, (wall, cpu) in best.items():
        print(
            f"{n:>9,} users: {n / wall:9,.0f} users/s ({n / cpu:,.0f} users/s of CPU), best of {ROUNDS}"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [50_000, 1_000_000])
