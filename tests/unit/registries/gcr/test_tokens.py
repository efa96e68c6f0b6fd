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


def test_absent_credentials_are_looked_up_once_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    """google-auth's lookup may wait on the metadata server: no credentials is remembered too."""
    tokens.forget_google_credentials()
    calls = []

    def no_adc() -> Any:
        calls.append(1)
        raise tokens.NoGoogleCredentials("none configured")

    monkeypatch.setattr(tokens, "_default", no_adc)
    for offset in (0, 10, 200):
        with pytest.raises(tokens.NoGoogleCredentials):
            tokens.google_credentials(clock=lambda offset=offset: 1000.0 + offset)
    assert len(calls) == 1
    with pytest.raises(tokens.NoGoogleCredentials):
        tokens.google_credentials(clock=lambda: 1000.0 + tokens.ABSENT_RECHECK_SECONDS + 1)
    assert len(calls) == 2
    tokens.forget_google_credentials()
