"""Answer bodies: read with a size cap, parsed as JSON, error bodies of registries and web APIs."""

from __future__ import annotations

import json
from typing import Any

import requests

from regmirror.errors import RegistryError
from regmirror.registries.http.diagnose import short

MAX_ERROR_BYTES = 64 * 1024


def read_capped(answer: requests.Response, limit: int, what: str) -> bytes:
    """The whole body, or RegistryError when it is larger than `limit` bytes."""
    declared = answer.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        answer.close()
        raise RegistryError(f"{what}: answer of {declared} bytes exceeds the {limit}-byte limit")
    chunks, total = [], 0
    try:
        for chunk in answer.iter_content(chunk_size=256 * 1024):
            total += len(chunk)
            if total > limit:
                raise RegistryError(f"{what}: answer exceeds the {limit}-byte limit")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise RegistryError(f"{what}: reading the answer failed: {short(exc)}") from None
    finally:
        answer.close()
    return b"".join(chunks)


def parse_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise RegistryError(f"{what}: malformed JSON ({exc.__class__.__name__}: {str(exc)[:200]})") from None


def registry_error_codes(answer: requests.Response) -> tuple[tuple[str, ...], str]:
    """(codes, first message) from a registry error body `{"errors": [{"code", "message"}]}`."""
    try:
        body = json.loads(read_capped(answer, MAX_ERROR_BYTES, "error body"))
    except (RegistryError, ValueError, RecursionError, requests.RequestException):
        return (), ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return (), ""
    entries = [e for e in errors if isinstance(e, dict)]
    codes = tuple(str(e.get("code", "")) for e in entries)
    message = str(entries[0].get("message", "")) if entries else ""
    return codes, message[:300]


def error_body(answer: requests.Response) -> dict[str, Any]:
    """The JSON object of a web API's error answer (first 64 KiB only); {} when there is none. Consumes it."""
    try:
        head = next(answer.iter_content(chunk_size=MAX_ERROR_BYTES), b"")
        body = json.loads(head or b"null")
    except (ValueError, RecursionError, requests.RequestException, RuntimeError):
        body = None
    answer.close()
    return body if isinstance(body, dict) else {}


def api_detail(answer: requests.Response) -> str:
    """The message of a web API error body (`detail`, `message` or `error`), shortened; '' if none."""
    body = error_body(answer)
    for key in ("detail", "message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value[:300]
    return ""
