"""One registry API operation (request, status check, body read) run as a whole under the client's
retry policy and its registry's circuit breaker: `retried`, the decorator of every client method
that talks to the registry, whichever API area (`client`, `referrers_api`) defines it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from regmirror.errors import RegistryError, RegistryUnavailable
from regmirror.registries.http.breaker import Breakers
from regmirror.retry import RetryPolicy


class Operable(Protocol):
    """What `retried` needs of a client."""

    registry: str
    breakers: Breakers
    _retry: RetryPolicy

    def _note_retry(self, _attempt: int, _reason: str, _pause: float) -> None: ...


_C = TypeVar("_C", bound=Operable)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def retried(operation: Callable[Concatenate[_C, _P], _R]) -> Callable[Concatenate[_C, _P], _R]:
    """Run one API operation under the client's retry policy; tell the breaker how it went."""

    @functools.wraps(operation)
    def run(client: _C, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        name = operation.__name__.strip("_")
        what = f"{client.registry}: {name} {' '.join(map(str, args))}".rstrip()
        breakers = client.breakers

        def attempt() -> _R:
            breakers.admit(client.registry)  # each attempt: a breaker opened meanwhile ends the retries
            return operation(client, *args, **kwargs)

        try:
            result = client._retry.call(attempt, what=what, on_retry=client._note_retry)
        except RegistryUnavailable:
            raise
        except RegistryError as exc:
            if exc.unreachable:
                breakers.unreachable(client.registry, str(exc))
            else:
                breakers.answered(client.registry)
            raise
        breakers.answered(client.registry)
        return result

    return run


def repository_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"
