"""Error types shared by the core. Each carries enough context to be printed as is."""

from __future__ import annotations


class RegmirrorError(Exception):
    """Base class of every error the core raises on purpose."""


class ConfigError(RegmirrorError):
    """Invalid configuration: names the file, line, column and field path.

    `str()` gives one line per problem, e.g.
    ``config.yaml:12:7: tasks[2].mappings[0].to: expected 'regex:<re>,<replacement>'``.
    """

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UsageError(RegmirrorError):
    """The command line asks for something the config cannot give (e.g. `--task` selecting nothing)."""


class ConfigProblem:
    """One validation problem with its location (line/column are 1-based; 0 when unknown)."""

    def __init__(self, file: str, line: int, column: int, field: str, message: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"ConfigProblem({self})"


class RegistryError(RegmirrorError):
    """A registry answered with an error or could not be reached."""

    def __init__(
        self, message: str, *, status: int | None = None, registry: str = "", unreachable: bool = False
    ) -> None:
        self.status = status
        self.registry = registry
        self.unreachable = unreachable  # no answer at all (refused, timed out): the circuit breaker counts it
        super().__init__(message)


class RegistryUnavailable(RegistryError):
    """The registry's circuit breaker is open: several operations in a row got no answer from it, so
    the rest of the run fails at once instead of waiting on it image by image."""

    retryable = False


class AuthError(RegistryError):
    """Credentials were refused or could not be obtained."""


class SecretUnavailable(AuthError):
    """A credential reference names a secret that is not there (an unset `env:` variable): `validate`
    warns (CI may check configs without their secrets), a run that needs the credentials fails."""


class ListerError(RegmirrorError):
    """A lister could not produce the repository list."""


class PlanLimitError(RegmirrorError):
    """A mapping matched more images than its `max-images` guard allows."""


class RegistryResponseError(RegistryError):
    """An HTTP error answer; `codes` holds the registry's error codes (e.g. ("UNSUPPORTED",))."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        registry: str,
        codes: tuple[str, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, registry=registry)
        self.codes = codes
        self.retry_after = retry_after  # seconds, from the answer's Retry-After (read by retry)


class TokenError(AuthError):
    """The token server refused the credentials or gave no usable token."""
