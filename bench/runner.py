"""One benchmark run, in three phases: cold starts, operations on a small tenant, the same on a large one."""

import resource
import subprocess
import time
from dataclasses import dataclass, field

from bench.cold_start import ColdStarts, measure_cold_starts
from bench.operations import FLOOR, Measurements, operations
from bench.operations import measure as measure_operations
from bench.work import WorkCounter
from bench.world import PROJECT_DIR, SMALL_GROUP, moto_world
from chalicelib.config import settings


@dataclass(frozen=True)
class Sizes:
    """How big the tenants are and how often each thing is measured."""

    users: int
    """The tenant of the per-operation figures, and the small side of the scaling comparison."""
    large_users: int
    large_group: int
    """Members of the group that member add/remove is compared on (it has 10 on the small side)."""
    rounds: int
    warmup: int
    large_rounds: int
    cold_repeats: int
    group_members: int = 100
    """Members of the group the create-group operation creates."""
    batch: int = 100
    """Members one large member PATCH adds, then removes: over 97, it takes the batch path."""
    import_profile: bool = True
    package: bool = True
    """Whether cold starts are measured from the package too (``chalice package`` downloads from PyPI)."""

    @property
    def small_group(self) -> int:
        return SMALL_GROUP


FULL = Sizes(users=1_000, large_users=100_000, large_group=50_000, rounds=30, warmup=3, large_rounds=3, cold_repeats=7)
# The member batch of 100 needs users outside the groups: the quick tenant has 200 users, not 100.
QUICK = Sizes(users=200, large_users=10_000, large_group=5_000, rounds=10, warmup=2, large_rounds=1, cold_repeats=3)


def _revision() -> str:
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    return described.stdout.strip() or "unknown"


@dataclass
class BenchRun:
    sizes: Sizes
    small: dict[str, Measurements] = field(default_factory=dict)
    large: dict[str, Measurements] = field(default_factory=dict)
    cold: ColdStarts = field(default_factory=ColdStarts)
    load_seconds: float = 0.0
    grow_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    seconds: float = 0.0
    revision: str = ""
    """The commit measured, ``-dirty`` when the working tree had uncommitted changes."""

    @property
    def floor_ms(self) -> float:
        return self.small["floor"].median_ms


def run(sizes: Sizes, progress: bool = False) -> BenchRun:
    started = time.perf_counter()
    bench = BenchRun(sizes, revision=_revision())

    def say(text: str) -> None:
        if progress:
            print(f"[{time.perf_counter() - started:6.1f} s] {text}", flush=True)

    say(f"cold starts, {sizes.cold_repeats} fresh processes of each kind")
    bench.cold = measure_cold_starts(sizes.cold_repeats, sizes.import_profile, sizes.package)
    every = [FLOOR, *operations(sizes.group_members, sizes.batch)]
    say(f"{sizes.users:,} users on moto; {sizes.rounds} rounds of {len(every)} requests")
    with moto_world(sizes.users) as world:
        counter = WorkCounter(world.client, settings().credentials_table, settings().activity_table, world.tables)
        counter.install()
        try:
            bench.small = measure_operations(world, counter, every, sizes.rounds, sizes.warmup, "small")
            say(f"loading {sizes.large_users - world.size:,} more users through the store")
            bench.load_seconds = world.load_users(sizes.large_users - world.size)
            say(f"growing All staff to {sizes.large_group:,} members through the store")
            bench.grow_seconds = world.grow_all_staff(sizes.large_group)
            indexed = [operation for operation in every if operation.indexed]
            say(f"{world.size:,} users; {sizes.large_rounds} rounds of {len(indexed)} requests")
            bench.large = measure_operations(world, counter, indexed, sizes.large_rounds, 0, "large")
            bench.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        finally:
            counter.uninstall()
    bench.seconds = time.perf_counter() - started
    say("done")
    return bench
