"""The distribution reference grammar (docker/distribution `reference`), to check names before use.

Names and tags come from configs and from registries; anything that is not a well-formed repository
path, tag or digest is refused before it reaches a URL or a skopeo `docker://` reference.

    path-component := [a-z0-9]+ (separator [a-z0-9]+)*      separator := [_.] | __ | [-]*
    repository     := path-component ('/' path-component)*   at most 255 characters
    tag            := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest         := algorithm ':' lower-case hex            (sha256: 64, sha384: 96, sha512: 128)
"""

from __future__ import annotations

import ipaddress

from regmirror.rules.goregex import GoRegexp

REPOSITORY_MAX_LENGTH = 255
TAG_MAX_LENGTH = 128
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_REPOSITORY = GoRegexp(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = GoRegexp(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HEX = GoRegexp(r"[a-f0-9]+")
_HOST_LABEL = GoRegexp(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PORT = GoRegexp(r"[0-9]{1,5}")
_SEPARATORS = "._-"
_REPOSITORY_CHAR = GoRegexp(r"[a-z0-9._-]")


def valid_repository(name: str) -> bool:
    """A repository path such as `library/busybox` (no registry host, no tag, no leading `/`)."""
    return len(name) <= REPOSITORY_MAX_LENGTH and _REPOSITORY.fullmatch(name)


def valid_tag(tag: str) -> bool:
    return _TAG.fullmatch(tag)


def valid_digest(digest: str) -> bool:
    """`sha256:<64 hex>` (or sha384/sha512), lower-case hex as registries write and compare them."""
    algorithm, sep, hex_part = digest.partition(":")
    expected = DIGEST_HEX_LENGTHS.get(algorithm)
    return bool(sep) and expected == len(hex_part) and _HEX.fullmatch(hex_part)


def _character_problem(component: str) -> str | None:
    bad = sorted({ch for ch in component if not _REPOSITORY_CHAR.fullmatch(ch)})
    if not bad:
        return None
    if any(ch.isascii() and ch.isupper() for ch in bad):
        return f"component {component!r} has upper-case letters (repository names are lower case)"
    return f"component {component!r} has characters not allowed in a repository name: {''.join(bad)!r}"


def _component_problem(component: str) -> str | None:
    if not component:
        return "it has an empty path component (a leading, trailing or doubled '/')"
    problem = _character_problem(component)
    if problem:
        return problem
    for edge in (component[0], component[-1]):
        if edge in _SEPARATORS:
            return f"component {component!r} starts or ends with {edge!r}"
    return _separator_problem(component)


def _separator_problem(component: str) -> str | None:
    """Between letters/digits only `.`, `_`, `__` or a run of `-` may stand."""
    run = ""
    for ch in component + "a":
        if ch in _SEPARATORS:
            run += ch
            continue
        if run and run not in (".", "_", "__") and set(run) != {"-"}:
            return f"component {component!r} has the separator {run!r} (allowed: '.', '_', '__', '-'…)"
        run = ""
    return None


def repository_problem(name: str) -> str | None:
    """Why `name` is not a valid repository path, as a clause ("it is empty"); None when valid."""
    if not name:
        return "it is empty"
    if len(name) > REPOSITORY_MAX_LENGTH:
        return f"it is {len(name)} characters long (at most {REPOSITORY_MAX_LENGTH})"
    for component in name.split("/"):
        problem = _component_problem(component)
        if problem:
            return problem
    return None


def tag_problem(tag: str) -> str | None:
    """Why `tag` is not a valid tag, in words; None when it is valid."""
    if not tag:
        return "it is empty"
    if len(tag) > TAG_MAX_LENGTH:
        return f"it is {len(tag)} characters long (at most {TAG_MAX_LENGTH})"
    if tag[0] in ".-":
        return f"it starts with {tag[0]!r}"
    if not valid_tag(tag):
        return "it has characters other than letters, digits, '_', '.' and '-'"
    return None


def valid_reference_suffix(entry: str) -> bool:
    """`tag`, `algorithm:hex` or `tag@algorithm:hex`: what may follow a repository in a reference."""
    if "@" in entry:
        tag, _, digest = entry.partition("@")
        return valid_tag(tag) and valid_digest(digest)
    return valid_tag(entry) or valid_digest(entry)


def _split_port(host: str) -> tuple[str, str | None] | None:
    """`host[:port]` or `[v6][:port]` → (host, port); None when the brackets do not close."""
    if host.startswith("["):
        close = host.find("]")
        if close < 0:
            return None
        rest = host[close + 1 :]
        if rest and not rest.startswith(":"):
            return None
        return host[: close + 1], (rest[1:] if rest else None)
    name, sep, port = host.rpartition(":")
    return (name, port) if sep else (host, None)


def _valid_port(port: str | None) -> bool:
    return port is None or (_PORT.fullmatch(port) and 0 < int(port) <= 65535)


def _valid_host_name(name: str) -> bool:
    if name.startswith("[") and name.endswith("]"):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return False
        return True
    labels = name.split(".")
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def valid_registry_host(host: str) -> bool:
    """`host[:port]`: a DNS name, an IPv4 address or a bracketed IPv6 address, port 1-65535."""
    parts = _split_port(host)
    if parts is None:
        return False
    name, port = parts
    return _valid_port(port) and _valid_host_name(name)
