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


def cpu_seconds(work: Callable[[], object]) -> float:
    gc.collect()
    started = time.process_time()
    work()
    return time.process_time() - started


def growth(small: Callable[[], object], large: Callable[[], object], runs: int = 3) -> float:
    """``large``'s CPU time over ``small``'s, each the fastest of ``runs``, taken alternately."""
    smalls, larges = [], []
    for _ in range(runs):
        smalls.append(cpu_seconds(small))
        larges.append(cpu_seconds(large))
    return min(larges) / max(min(smalls), 1e-4)
