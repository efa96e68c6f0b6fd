"""Which scheme a host speaks. With skip-tls-verify (dregsy's meaning: plain HTTP allowed) HTTPS is
tried first and plain HTTP once HTTPS fails; a confirmed HTTPS answer rules the fallback out."""

from __future__ import annotations

from urllib.parse import urlsplit


class SchemeChoice:
    """The scheme of one host, learnt from the first answer. Shared by threads: the worst a race does
    is one more HTTPS try."""

    def __init__(self, *, plain_http: bool, may_fall_back: bool) -> None:
        self.known: str | None = "http" if plain_http else None if may_fall_back else "https"
        self._may_fall_back = may_fall_back

    @property
    def scheme(self) -> str:
        """ "https" or "http"; with the fallback allowed and no answer yet, "https" (tried first)."""
        return self.known or "https"

    def answered(self, url: str) -> None:
        """An answer came over `url`'s scheme: it is the host's scheme from now on."""
        if self.known is None:
            self.known = urlsplit(url).scheme

    def fall_back(self, url: str) -> str | None:
        """The plain-HTTP URL to try after HTTPS failed on `url`; None when that is not allowed."""
        # Another thread may have switched to HTTP meanwhile: only a confirmed HTTPS answer rules it out.
        if self.known == "https" or not self._may_fall_back or not url.startswith("https://"):
            return None
        self.known = "http"
        return "http://" + url.removeprefix("https://")
