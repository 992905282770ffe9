"""How the work of one input grows with its size: a ratio of two sizes in one run, never an absolute time.

CPU time of this process (moto runs in it), not wall time: other engineers' tests share the machine's two
cores, which stretches wall time but not the CPU this process spends. Each size is the fastest of a few
runs, taken in turn, so that a pause of the machine inflates neither alone.
"""

import gc
import time
from collections.abc import Callable

LINEAR = 30.0
"""The most t(10n) / t(n) may be: linear work gives about 10, quadratic about 100."""

Work = Callable[[], object]


def cpu_seconds(work: Work) -> float:
    gc.collect()  # the objects made since growth() froze the heap: a collection during work() would be timed
    started = time.process_time()
    work()
    return time.process_time() - started


def growth(prepare: Callable[[int], Work], n: int, runs: int = 3) -> float:
    """t(10n) / t(n): ``prepare(size)`` sets up, untimed, and returns the work to time; each the fastest of ``runs``."""
    small, large = [], []
    # Everything alive now (a whole test session's modules, moto's backends) is moved out of the collector's
    # reach: the collections between runs then cost what the runs made, not 100 ms of walking the session's heap.
    gc.collect()
    gc.freeze()
    try:
        for _ in range(runs):
            small.append(cpu_seconds(prepare(n)))
            large.append(cpu_seconds(prepare(10 * n)))
    finally:
        gc.unfreeze()
    return min(large) / max(min(small), 1e-4)
