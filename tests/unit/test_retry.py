"""The retry policy: bounds, backoff with full jitter, Retry-After, and what is (never) retried."""

from __future__ import annotations

import email.utils
import random
import socket
import threading
from collections.abc import Callable

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from regmirror.errors import AuthError, RegistryError, RegistryResponseError, TokenError
from regmirror.model import CopyResult, ImageRef, SyncItem
from regmirror.retry import (
    RETRYABLE_COPY_REASONS,
    RetryPolicy,
    Verdict,
    classify_exception,
    classify_status,
    copy_policy,
    copy_verdict,
    retry_after_seconds,
    retry_copy,
    retryable_status,
)

NOW = 1_800_000_000.0


class Sleeps:
    """Records requested pauses instead of sleeping."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def policy(attempts: int = 5, **kw: float) -> tuple[RetryPolicy, Sleeps]:
    sleeps = Sleeps()
    return RetryPolicy(attempts=attempts, sleep=sleeps, rng=random.Random(7), **kw), sleeps


def failing(*errors: BaseException, result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    """An operation raising `errors` in turn, then returning `result`; counts its calls."""
    calls = [0]

    def operation() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return result

    return operation, calls


# -- Retry-After ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # in the past: go now
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: not an HTTP date
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds_and_http_dates(value: str | None, expected: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == expected


# -- classification ---------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 507, 599])
def test_retryable_statuses(status: int) -> None:
    assert retryable_status(status)
    assert classify_status(status).retry


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 405, 409, 416, 501, 505])
def test_never_retried_statuses(status: int) -> None:
    assert not retryable_status(status)
    assert not classify_status(status).retry


@pytest.mark.parametrize(
    "code", ["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN", "UNAUTHORIZED", "DENIED", "UNSUPPORTED"]
)
def test_permanent_registry_codes_win_over_a_5xx_status(code: str) -> None:
    verdict = classify_status(503, (code,))
    assert not verdict.retry
    assert code in verdict.reason


def test_retryable_status_keeps_its_retry_after() -> None:
    assert classify_status(429, ("TOOMANYREQUESTS",), 3.0) == Verdict(True, "HTTP 429", 3.0)


def test_registry_errors_by_status_and_codes() -> None:
    assert classify_exception(RegistryError("x", status=502)).retry
    assert not classify_exception(AuthError("refused", status=401)).retry
    assert not classify_exception(AuthError("refused", status=403)).retry
    assert not classify_exception(RegistryError("absent", status=404)).retry
    unknown = RegistryResponseError("m", status=404, registry="r", codes=("MANIFEST_UNKNOWN",))
    assert not classify_exception(unknown).retry
    limited = RegistryResponseError("m", status=429, registry="r", retry_after=2.5)
    assert classify_exception(limited) == Verdict(True, "HTTP 429", 2.5)
    assert classify_exception(TokenError("token server answered 503", status=503)).retry
    assert not classify_exception(TokenError("token server refused", status=401)).retry


def _raised_from(cause: BaseException) -> RegistryError:
    """A RegistryError raised `from None` while handling `cause`, as the registry client does."""
    try:
        try:
            raise cause
        except BaseException:
            raise RegistryError("cannot reach registry") from None
    except RegistryError as exc:
        return exc


@pytest.mark.parametrize(
    "cause",
    [
        requests.exceptions.ConnectionError("Connection reset by peer"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ChunkedEncodingError("IncompleteRead(12 bytes read, 30 more expected)"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_failures_are_retried_through_the_exception_chain(cause: BaseException) -> None:
    assert classify_exception(cause).retry
    assert classify_exception(_raised_from(cause)).retry


@pytest.mark.parametrize(
    "cause",
    [
        requests.exceptions.SSLError("certificate verify failed"),
        ValueError("malformed JSON"),
        requests.exceptions.TooManyRedirects("30 redirects"),
        requests.exceptions.InvalidURL("bad"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_tls_and_logic_failures_are_not_retried(cause: BaseException) -> None:
    assert not classify_exception(cause).retry
    assert not classify_exception(_raised_from(cause)).retry


def test_a_real_connection_reset_is_retryable() -> None:
    """A server that accepts and resets: the exception requests raises is classified transient."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def reset_once() -> None:
        conn, _ = listener.accept()
        conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    thread = threading.Thread(target=reset_once, daemon=True)
    thread.start()
    with pytest.raises(requests.RequestException) as caught:
        requests.get(f"http://127.0.0.1:{port}/v2/", timeout=5)
    thread.join(5)
    listener.close()
    assert classify_exception(caught.value).retry


def test_explicit_retryable_attribute_wins() -> None:
    exc = RegistryError("odd", status=503)
    exc.retryable = False  # type: ignore[attr-defined]
    assert not classify_exception(exc).retry


# -- the policy ------------------------------------------------------------------------------------
def test_bounded_attempts_then_the_last_error() -> None:
    retry, sleeps = policy(attempts=4)
    errors = [RegistryError(f"e{n}", status=503) for n in range(10)]
    operation, calls = failing(*errors)
    with pytest.raises(RegistryError, match="e3"):
        retry.call(operation, what="test")
    assert calls[0] == 4
    assert len(sleeps.pauses) == 3


def test_success_after_transient_failures() -> None:
    retry, sleeps = policy()
    operation, calls = failing(RegistryError("a", status=500), requests.exceptions.ReadTimeout("t"))
    assert retry.call(operation, what="test") == "ok"
    assert calls[0] == 3
    assert len(sleeps.pauses) == 2


@pytest.mark.parametrize(
    "error",
    [
        AuthError("no", status=401),
        AuthError("no", status=403),
        RegistryError("gone", status=404),
        ValueError(),
    ],
    ids=["401", "403", "404", "logic"],
)
def test_permanent_failures_are_not_retried(error: Exception) -> None:
    retry, sleeps = policy()
    operation, calls = failing(error)
    with pytest.raises(type(error)):
        retry.call(operation, what="test")
    assert calls[0] == 1
    assert sleeps.pauses == []


def test_full_jitter_below_an_exponential_ceiling() -> None:
    retry, sleeps = policy(attempts=9, base_delay=0.5, max_delay=20.0)
    operation, _ = failing(*[RegistryError("x", status=503)] * 8)
    retry.call(operation, what="test")
    ceilings = [0.5, 1, 2, 4, 8, 16, 20, 20]
    assert [retry.backoff_ceiling(n) for n in range(1, 9)] == ceilings
    assert all(0 <= pause <= ceiling for pause, ceiling in zip(sleeps.pauses, ceilings, strict=True))
    assert len(set(sleeps.pauses)) == len(sleeps.pauses)  # jittered, not a fixed schedule


@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=2**32))
def test_backoff_is_never_negative_nor_above_the_cap(retry_number: int, seed: int) -> None:
    retry = RetryPolicy(base_delay=0.25, max_delay=15.0, rng=random.Random(seed))
    delay = retry.delay(retry_number)
    assert 0.0 <= delay <= min(15.0, retry.backoff_ceiling(retry_number))


def test_retry_after_replaces_the_backoff_and_is_capped() -> None:
    retry, sleeps = policy(max_retry_after=10.0)
    operation, _ = failing(
        RegistryResponseError("slow down", status=429, registry="r", retry_after=3.0),
        RegistryResponseError("slow down", status=503, registry="r", retry_after=3600.0),
    )
    retry.call(operation, what="test")
    assert sleeps.pauses == [3.0, 10.0]


def test_on_retry_sees_attempt_reason_and_pause() -> None:
    retry, sleeps = policy()
    seen: list[tuple[int, str, float]] = []
    operation, _ = failing(RegistryError("a", status=502))
    retry.call(operation, what="test", on_retry=lambda *args: seen.append(args))
    assert seen == [(1, "HTTP 502", sleeps.pauses[0])]


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_delay=-1)


# -- copies ----------------------------------------------------------------------------------------
ITEM = SyncItem(
    task="t", source=ImageRef("src:5000", "team/app", "1"), target=ImageRef("dst:5000", "team/app", "1")
)


def result(status: str, reason: str, attempts: int = 1) -> CopyResult:
    return CopyResult(ITEM, status, reason, 0.1, None, None, None, None, attempts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reason", "retry"),
    [
        ("network", True),
        ("server-error", True),
        ("timeout", True),
        ("rate-limit", True),
        ("index-rejected", True),
        ("auth", False),
        ("not-found", False),
        ("tls", False),
        ("invalid-reference", False),
        ("killed", False),
        ("other", False),
    ],
)
def test_copy_failure_classes(reason: str, retry: bool) -> None:
    assert copy_verdict(reason).retry is retry
    assert (reason in RETRYABLE_COPY_REASONS) is retry


def test_retry_copy_runs_again_and_sums_attempts() -> None:
    runs = iter(
        [result("failed", "server-error"), result("failed", "network", 3), result("copied", "copied")]
    )
    retry, sleeps = policy(attempts=5)
    final = retry_copy(lambda: next(runs), retry, what="copy")
    assert (final.status, final.attempts) == ("copied", 5)
    assert len(sleeps.pauses) == 2


def test_retry_copy_stops_on_a_permanent_failure_and_at_the_bound() -> None:
    retry, _ = policy(attempts=5)
    runs = iter([result("failed", "network"), result("failed", "not-found"), result("copied", "copied")])
    assert retry_copy(lambda: next(runs), retry, what="copy").reason == "not-found"
    retry, _ = policy(attempts=2)
    runs = iter([result("failed", "timeout")] * 3)
    final = retry_copy(lambda: next(runs), retry, what="copy")
    assert (final.reason, final.attempts) == ("timeout", 2)
    once = result("copied", "copied", attempts=2)
    assert retry_copy(lambda: once, retry, what="copy") is once


def test_copy_policy_defaults() -> None:
    assert copy_policy().attempts == 3
    assert copy_policy(7).backoff_ceiling(10) == 5.0
