"""The circuit breaker per registry host: opens after operations in a row without an answer, refuses
while open, lets operations through again after the cooldown, and closes on the first answer."""

from __future__ import annotations

import logging

import pytest
from regmirror.errors import RegistryUnavailable
from regmirror.registries.http.breaker import Breakers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_opens_after_the_set_number_of_failures_in_a_row_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    breakers = Breakers(failures=3, cooldown=30, clock=Clock())
    with caplog.at_level(logging.ERROR, "regmirror.registry"):
        for _ in range(2):
            breakers.unreachable("reg.example:5000", "connection refused")
            breakers.admit("reg.example:5000")  # still closed
        breakers.unreachable("reg.example:5000", "connection refused")
        for _ in range(5):
            with pytest.raises(
                RegistryUnavailable, match=r"reg\.example:5000 unavailable, not tried"
            ) as info:
                breakers.admit("reg.example:5000")
        breakers.unreachable("reg.example:5000", "connection refused")  # more failures: no new line
    assert info.value.retryable is False
    opened = [r.getMessage() for r in caplog.records]
    assert len(opened) == 1
    assert "3 operations in a row got no answer (last: connection refused)" in opened[0]
    assert breakers.open_hosts() == {
        "reg.example:5000": "4 operations in a row got no answer (last: connection refused); 5 not tried"
    }


def test_an_answer_in_between_resets_the_count() -> None:
    breakers = Breakers(failures=2, cooldown=30, clock=Clock())
    for _ in range(5):
        breakers.unreachable("reg.example", "timed out")
        breakers.answered("reg.example")
    breakers.admit("reg.example")
    assert breakers.open_hosts() == {}


def test_hosts_are_separate_and_spellings_of_one_host_are_one() -> None:
    breakers = Breakers(failures=1, cooldown=30, clock=Clock())
    breakers.unreachable("LOCALHOST:5000", "refused")
    with pytest.raises(RegistryUnavailable):
        breakers.admit("127.0.0.1:5000")
    breakers.admit("127.0.0.1:5001")


def test_after_the_cooldown_it_lets_work_through_and_the_outcome_decides(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    breakers = Breakers(failures=1, cooldown=30, clock=clock)
    breakers.unreachable("reg.example", "refused")
    clock.now += 29.9
    with pytest.raises(RegistryUnavailable, match=r"tried again in 0 s"):
        breakers.admit("reg.example")
    clock.now += 0.2
    breakers.admit("reg.example")  # half-open: one more try
    breakers.unreachable("reg.example", "refused")  # failed again: open for another cooldown
    with pytest.raises(RegistryUnavailable):
        breakers.admit("reg.example")
    clock.now += 30
    breakers.admit("reg.example")
    with caplog.at_level(logging.WARNING, "regmirror.registry"):
        breakers.answered("reg.example")
    assert "reg.example answers again" in caplog.text
    breakers.admit("reg.example")
    assert breakers.open_hosts() == {}


def test_zero_failures_turns_the_breakers_off() -> None:
    breakers = Breakers(failures=0, clock=Clock())
    for _ in range(100):
        breakers.unreachable("reg.example", "refused")
    breakers.admit("reg.example")
