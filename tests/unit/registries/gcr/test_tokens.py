"""One Google token per process, renewed before it expires (a fake credentials object, fake clock)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from regmirror.registries.gcr import tokens


class FakeAdc:
    """What google-auth's credentials offer: refresh(request), token, expiry (naive UTC)."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.refreshes = 0
        self.token = ""
        self.expiry: dt.datetime | None = None

    def refresh(self, request: Any) -> None:
        self.refreshes += 1
        self.token = f"token-{self.refreshes}"
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.expiry = now + dt.timedelta(seconds=self.lifetime)


@pytest.fixture
def adc() -> Iterator[FakeAdc]:
    fake = FakeAdc(lifetime=3600)
    tokens.forget_google_credentials()
    tokens._state["adc"] = fake
    yield fake
    tokens.forget_google_credentials()


def test_the_token_is_reused_until_shortly_before_it_expires(adc: FakeAdc) -> None:
    now = dt.datetime.now(dt.UTC).timestamp()
    first = tokens.google_credentials(clock=lambda: now)
    assert (first.username, first.password) == ("oauth2accesstoken", "token-1")
    assert tokens.google_credentials(clock=lambda: now + 3000) is first  # 10 minutes left: kept
    renewed = tokens.google_credentials(clock=lambda: now + 3600 - tokens.RENEW_BEFORE_SECONDS + 1)
    assert renewed.password == "token-2" and adc.refreshes == 2
    assert "token-2" not in repr(renewed)
