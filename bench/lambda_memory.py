"""What the authorizer's memory size buys, modelled from CPU measured here.

Lambda gives a function CPU in proportion to its memory, one full vCPU at 1,769 MB (AWS Lambda
Developer Guide, "Configure Lambda function memory"). Our authorizer is single-threaded, so its CPU
work takes ``cpu_ms × 1769 / memory`` below that and no less above it; its two DynamoDB reads
take a round trip each whatever the size. Duration is billed per millisecond times the memory.
The CPU figures come from the cold probes run from the package (:mod:`bench.cold_start`), on this
machine's cores, taken as one Lambda vCPU.
"""

from dataclasses import dataclass

FULL_VCPU_MB = 1769
PRICE_PER_GB_SECOND = 0.0000166667
"""x86, on demand, first tier (us-east-1)."""
PRICE_PER_REQUEST = 0.20 / 1_000_000
CHOICES_MB = (512, 1024, FULL_VCPU_MB)
AUTHORIZER_ROUND_TRIPS = 2
"""The credential's item, then its service account's: one after the other."""
CACHED_FOR_SECONDS = 60
"""API Gateway keeps an allow for this long (``ttl_seconds`` in ``app.py``): at most one call a minute a credential."""
INVOCATIONS_A_MONTH = 30 * 24 * 3600 // CACHED_FOR_SECONDS


@dataclass(frozen=True)
class MemoryChoice:
    memory_mb: int
    cold_ms: float
    warm_ms: float
    dollars_a_month: float
    """For one credential in use all month: one invocation a minute, the first of each hour cold."""


def duration_ms(cpu_ms: float, memory_mb: int, round_trip_ms: float) -> float:
    return cpu_ms * max(1.0, FULL_VCPU_MB / memory_mb) + AUTHORIZER_ROUND_TRIPS * round_trip_ms


def _cost(duration: float, memory_mb: int) -> float:
    return duration / 1000 * memory_mb / 1024 * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST


def choices(cold_cpu_ms: float, warm_cpu_ms: float, round_trip_ms: float) -> list[MemoryChoice]:
    found = []
    colds = INVOCATIONS_A_MONTH // 60
    for memory in CHOICES_MB:
        cold = duration_ms(cold_cpu_ms, memory, round_trip_ms)
        warm = duration_ms(warm_cpu_ms, memory, round_trip_ms)
        monthly = colds * _cost(cold, memory) + (INVOCATIONS_A_MONTH - colds) * _cost(warm, memory)
        found.append(MemoryChoice(memory, cold, warm, monthly))
    return found
