"""Reads that do not wait for each other go out together (chalicelib/store/waves.py): what callers rely on."""

import threading
import time

import pytest

from chalicelib.store import deadline, waves


def test_results_come_back_in_call_order_and_the_calls_overlap() -> None:
    started = threading.Barrier(3, timeout=5)

    def call(value: int) -> int:
        started.wait()  # only returns when all three run at once
        return value

    assert waves.together(lambda: call(1), lambda: call(2), lambda: call(3)) == [1, 2, 3]
    assert waves.each(lambda value: value * 2, [3, 1, 2]) == [6, 2, 4]
    assert waves.together() == []


def test_an_error_is_raised_after_every_call_has_finished() -> None:
    finished: list[str] = []

    def slow() -> None:
        time.sleep(0.05)
        finished.append("slow")

    def failing() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        waves.together(failing, slow)
    assert finished == ["slow"]  # nothing of the request runs on after it answered


def test_the_request_budget_holds_in_the_pool_threads() -> None:
    with deadline.request_budget(-1.0), pytest.raises(deadline.BudgetSpent):
        waves.together(lambda: None, deadline.refuse_when_spent)

    assert waves.together(lambda: None, deadline.refuse_when_spent) == [None, None]


def test_calls_made_from_the_pool_run_in_sequence_so_a_full_pool_never_deadlocks() -> None:
    def nested(value: int) -> list[int]:
        return waves.each(lambda inner: inner + value, range(waves.MAX_CONCURRENT_CALLS))

    outer = waves.each(nested, range(3 * waves.MAX_CONCURRENT_CALLS))

    assert outer[5] == [5 + inner for inner in range(waves.MAX_CONCURRENT_CALLS)]


def test_in_sequence_runs_every_call_in_the_callers_thread_then_the_pool_again() -> None:
    def thread() -> str:
        return threading.current_thread().name

    with waves.in_sequence():
        inline = waves.together(thread, thread, thread)
    pooled = waves.together(thread, thread)

    assert inline == [threading.current_thread().name] * 3
    assert pooled[0] == threading.current_thread().name and pooled[1].startswith("dynamodb")
