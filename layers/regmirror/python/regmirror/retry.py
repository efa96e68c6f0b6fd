"""One retry policy for every network operation: the registry client, the listers and the re-run of a
failed copy within a run.

- Bounded: at most `attempts` tries in all.
- Exponential backoff with full jitter: before retry n, sleep uniform(0, min(max_delay, base × 2^(n-1)))
  so clients that failed together do not come back together.
- `Retry-After` (seconds or an HTTP date) is honoured instead of the backoff, capped at
  `max_retry_after` so one answer cannot park a run for hours (the rate-limit budget, not the retry
  loop, is what waits long: see ratelimit.py).
- Classified: 5xx (except 501/505), 429, connection resets, timeouts and truncated bodies are retried;
  401, 403, 404, `MANIFEST_UNKNOWN` and every other 4xx never are, and neither are TLS failures.
"""

from __future__ import annotations

import dataclasses
import email.utils
import http.client
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import requests
import urllib3.exceptions

from regmirror.model import CopyResult, FailureReason

log = logging.getLogger("regmirror.retry")

T = TypeVar("T")

# Registry error codes (distribution spec) that say "this will not change if you ask again".
PERMANENT_CODES = frozenset(
    {
        "MANIFEST_UNKNOWN",
        "MANIFEST_INVALID",
        "NAME_UNKNOWN",
        "NAME_INVALID",
        "BLOB_UNKNOWN",
        "TAG_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
    }
)
# 501 Not Implemented and 505 HTTP Version Not Supported are 5xx that no retry can fix.
_PERMANENT_5XX = frozenset({501, 505})

# Copy failure classes (relay.CopyResult.reason) worth another skopeo run within the run.
# Not: auth, not-found, tls, invalid-reference (asking again changes nothing), killed (an abort or
# the OOM killer), unavailable (the registry's circuit breaker is open), other (unknown: not worth
# a blind repeat). index-rejected is ambiguous (a 5xx, or
# a target that refuses the format) and cheap to try again within the bound.
RETRYABLE_COPY_REASONS = frozenset(
    {
        FailureReason.NETWORK,
        FailureReason.TIMEOUT,
        FailureReason.STALLED,
        FailureReason.RATE_LIMIT,
        FailureReason.SERVER_ERROR,
        FailureReason.INDEX_REJECTED,
    }
)

# Transport failures that a new attempt can cure. SSLError is a ConnectionError but never transient:
# a certificate does not become trusted by asking again.
_TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,  # body cut short (IncompleteRead), reset mid-body
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    http.client.IncompleteRead,
    http.client.RemoteDisconnected,
    ConnectionError,  # builtin: reset, refused, aborted, broken pipe
    TimeoutError,  # socket.timeout too
)
_PERMANENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.exceptions.SSLError,
    urllib3.exceptions.SSLError,
)
_CHAIN_DEPTH = 12


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to retry, why (for the log), and how long the server asked us to wait."""

    retry: bool
    reason: str
    retry_after: float | None = None


# -- parsing ----------------------------------------------------------------------------------
def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date names GMT; without a zone it is not one
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# -- classification ---------------------------------------------------------------------------
def retryable_status(status: int) -> bool:
    return status == 429 or (500 <= status <= 599 and status not in _PERMANENT_5XX)


def classify_status(status: int, codes: tuple[str, ...] = (), retry_after: float | None = None) -> Verdict:
    """Verdict for an HTTP answer: its status, the registry's error codes, its `Retry-After`."""
    permanent = sorted(set(codes) & PERMANENT_CODES)
    if permanent:
        return Verdict(False, f"HTTP {status} {permanent[0]}")
    if retryable_status(status):
        return Verdict(True, f"HTTP {status}", retry_after)
    return Verdict(False, f"HTTP {status}")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it was raised from or during (also through `raise ... from None`)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _CHAIN_DEPTH:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transport_verdict(exc: BaseException) -> Verdict:
    for cause in _causes(exc):
        if isinstance(cause, _PERMANENT_EXCEPTIONS):
            return Verdict(False, f"TLS failure ({type(cause).__name__})")
        if isinstance(cause, _TRANSIENT_EXCEPTIONS):
            return Verdict(True, type(cause).__name__)
    return Verdict(False, type(exc).__name__)


def classify_exception(exc: BaseException) -> Verdict:
    """Verdict for an exception.

    An explicit `retryable` attribute wins; then an HTTP `status` attribute (RegistryError and its
    kind, with `codes` and `retry_after` when they have them); otherwise the exception and its causes
    are looked at for a transport failure (a RegistryError raised `from None` keeps its `__context__`).
    """
    explicit = getattr(exc, "retryable", None)
    if isinstance(explicit, bool):
        return Verdict(explicit, str(exc)[:200] or type(exc).__name__, _float_attr(exc, "retry_after"))
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool):
        codes = getattr(exc, "codes", ())
        return classify_status(
            status, tuple(codes) if isinstance(codes, tuple) else (), _float_attr(exc, "retry_after")
        )
    return _transport_verdict(exc)


def _float_attr(obj: object, name: str) -> float | None:
    value = getattr(obj, name, None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def copy_verdict(reason: str) -> Verdict:
    """Verdict for a failed copy by its failure class (relay.CopyResult.reason)."""
    return Verdict(reason in RETRYABLE_COPY_REASONS, reason)


# -- the policy -------------------------------------------------------------------------------
OnRetry = Callable[[int, str, float], None]  # (attempt that failed, reason, seconds until the next)


@dataclass(frozen=True)
class RetryPolicy:
    """Immutable and thread-safe; `sleep` and `rng` are injectable for tests."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def backoff_ceiling(self, retry: int) -> float:
        """Upper bound of the jittered sleep before retry number `retry` (1-based)."""
        exponent = min(max(retry - 1, 0), 62)
        return min(self.max_delay, self.base_delay * float(1 << exponent))

    def delay(self, retry: int, verdict: Verdict | None = None) -> float:
        """Seconds to sleep before retry number `retry`: the capped `Retry-After`, else full jitter."""
        if verdict is not None and verdict.retry_after is not None:
            return min(max(verdict.retry_after, 0.0), self.max_retry_after)
        return self.rng.uniform(0.0, self.backoff_ceiling(retry))

    def _pause(self, attempt: int, verdict: Verdict, what: str, on_retry: OnRetry | None) -> None:
        pause = self.delay(attempt, verdict)
        log.info(
            "%s: %s (attempt %d of %d); retrying in %.2fs",
            what,
            verdict.reason,
            attempt,
            self.attempts,
            pause,
        )
        if on_retry is not None:
            on_retry(attempt, verdict.reason, pause)
        self.sleep(pause)

    def call(
        self,
        operation: Callable[[], T],
        *,
        what: str,
        classify: Callable[[BaseException], Verdict] = classify_exception,
        on_retry: OnRetry | None = None,
    ) -> T:
        """`operation()`, again after a transient exception; the last exception propagates."""
        attempt = 1
        while True:
            try:
                return operation()
            except Exception as exc:
                verdict = classify(exc)
                if not verdict.retry or attempt >= self.attempts:
                    raise
                self._pause(attempt, verdict, what, on_retry)
                attempt += 1

    def call_until(
        self,
        operation: Callable[[], T],
        judge: Callable[[T], Verdict | None],
        *,
        what: str,
        on_retry: OnRetry | None = None,
    ) -> tuple[T, int]:
        """Run `operation` until `judge(result)` is None or says not to retry, or attempts run out.

        For operations that report failure in their result (a CopyResult) rather than by raising.
        Returns the last result and the number of attempts made.
        """
        attempt = 1
        while True:
            result = operation()
            verdict = judge(result)
            if verdict is None or not verdict.retry or attempt >= self.attempts:
                return result, attempt
            self._pause(attempt, verdict, what, on_retry)
            attempt += 1


NO_RETRY = RetryPolicy(attempts=1)


def copy_policy(attempts: int = 3) -> RetryPolicy:
    """Re-runs of a failed copy within a run: `attempts` skopeo runs in all, the pauses between
    them jittered below 1 s, 2 s, 4 s, then 5 s."""
    return RetryPolicy(attempts=attempts, base_delay=1.0, max_delay=5.0)


def retry_copy(copy: Callable[[], CopyResult], policy: RetryPolicy, *, what: str) -> CopyResult:
    """Run a copy, and again (with the policy's backoff) while it fails with a retryable class.

    skopeo's own `--retry-times` covers network errors inside one run but not 5xx answers or a
    truncated manifest; this covers both, across runs. The result is the last run's, with `attempts`
    summed over every run.
    """
    total = 0

    def once() -> CopyResult:
        nonlocal total
        result = copy()
        total += result.attempts
        return result

    def judge(result: CopyResult) -> Verdict | None:
        return copy_verdict(result.reason) if result.status == "failed" else None

    result, runs = policy.call_until(once, judge, what=what)
    return result if runs == 1 else dataclasses.replace(result, attempts=total)
