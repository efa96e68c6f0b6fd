"""What went wrong in a skopeo run, from its stderr: a failure class (the retry policy decides by it)
and the number of attempts skopeo made."""

from __future__ import annotations

import re

from regmirror.model import FailureReason

_FATAL_MSG = re.compile(r'level=fatal msg="((?:[^"\\]|\\.)*)"')

# Of the network failures, those that got no answer at all (what a registry's circuit breaker counts):
# not a 5xx, a reset or a cut body, which come from a registry (or proxy) that is there.
_NO_ANSWER = (
    "connection refused",
    "no such host",
    "i/o timeout",
    "network is unreachable",
    "no route to host",
    "handshake timeout",
    "context deadline exceeded",
    "server misbehaving",
)


# First match wins; checked against skopeo's final (`level=fatal`) message, lower-cased.
# Samples of real skopeo 1.9 stderr for each class: tests/unit/sync/data/ (see test_skopeo_args.py).
_ERROR_CLASSES: tuple[tuple[FailureReason, tuple[str, ...]], ...] = (
    (
        FailureReason.TLS,
        (
            "x509:",
            "tls: ",
            "http response to https client",
            "does not look like a tls handshake",
            "certificate",
        ),
    ),
    (
        FailureReason.AUTH,
        (
            "unauthorized",
            "authentication required",
            "access to the resource is denied",
            "denied:",
            "invalid username/password",
            "incorrect username or password",
            "no basic auth credentials",
            "401 unauthorized",
            "403 forbidden",
        ),
    ),
    (FailureReason.RATE_LIMIT, ("toomanyrequests", "too many requests", "429 ", "rate limit")),
    (
        FailureReason.NOT_FOUND,
        (
            "manifest unknown",
            "name unknown",
            "repository name not known",
            "no image found in image index",
            "no image found in manifest list",
            "blob unknown",
            "not found",
        ),
    ),
    (
        FailureReason.NETWORK,
        (
            *_NO_ANSWER,
            "connection reset",
            "broken pipe",
            "unexpected eof",
            ": eof",
            "502 bad gateway",
            "503 service unavailable",
            "504 gateway timeout",
        ),
    ),
    (
        FailureReason.SERVER_ERROR,
        (
            "internal server error",
            "bad gateway",
            "service unavailable",
            "gateway timeout",
            "invalid status code from registry 5",
            "unexpected http status: 5",
        ),
    ),
    (FailureReason.INDEX_REJECTED, ("manifest list must be converted",)),
)


def _final_message(stderr: str) -> str:
    """skopeo's last `level=fatal` message (else all of stderr), lower-cased."""
    fatal = _FATAL_MSG.findall(stderr)
    return (fatal[-1] if fatal else stderr).lower()


def got_no_answer(stderr: str) -> bool:
    """Whether a skopeo run's final error says a registry did not answer at all."""
    text = _final_message(stderr)
    return any(needle in text for needle in _NO_ANSWER)


def classify_error(stderr: str) -> FailureReason:
    """Failure class of a skopeo run from its stderr (the final fatal message when there is one)."""
    text = _final_message(stderr)
    for reason, needles in _ERROR_CLASSES:
        if any(needle in text for needle in needles):
            return reason
    return FailureReason.OTHER


def count_attempts(stderr: str) -> int:
    """skopeo logs one "Failed, retrying in ..." warning per retry."""
    return 1 + stderr.count("retrying in")
