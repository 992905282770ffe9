"""`make load` at a tiny size, so that it cannot rot: a fresh `make run`, several keep-alive clients, no error."""

import json
from dataclasses import asdict

import pytest

from bench.load import Plan, creates_per_second, render, run

# A real make run driven over HTTP: make test-all.
pytestmark = pytest.mark.slow

LOAD_JSON_KEYS = {
    "users",
    "clients",
    "errors",
    "rss_mb_end",
    "creates_per_s_start",
    "creates_per_s_end",
    "get_p50_ms",
}


def test_a_tiny_load_run_creates_every_user_with_no_error_and_records_load_json() -> None:
    result = run(Plan(users=40, clients=4, reads=20, probes=10))
    found = json.loads(json.dumps(asdict(result)))

    assert found["errors"] == 0, found["error_samples"]
    assert set(found) >= LOAD_JSON_KEYS
    assert (found["users"], found["clients"]) == (40, 4)
    assert len(found["creates_per_s_by_tenth"]) == 10
    assert all(rate > 0 for rate in found["creates_per_s_by_tenth"])
    assert found["rss_mb_end"] > 0 and found["get_p50_ms"] > 0
    assert "Targets" in render(result)


def test_creates_per_second_are_counted_over_equal_slices_in_finishing_order() -> None:
    # 4 creates finishing at 1, 2, 4 and 8 s after the start: 2 per slice of 2.
    assert creates_per_second(0.0, [8.0, 1.0, 4.0, 2.0], 2) == [1.0, 2 / 6]
