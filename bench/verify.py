"""Did a run copy what it claims? Target digests must equal the expected (source) digests.

Uses the test bed's own HTTP client (independent of regmirror's), one per thread.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.testbed import ImageApi, RegistryServer

WORKERS = 4


def digests_in(server: RegistryServer, refs: list[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    """HEAD every (repository, tag) of `server`: its digest, or None when absent."""
    local = threading.local()

    def head(ref: tuple[str, str]) -> tuple[tuple[str, str], str | None]:
        if not hasattr(local, "api"):
            local.api = ImageApi(server)
        return ref, local.api.head_manifest(*ref)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(pool.map(head, refs))


def verify_target(target: RegistryServer, expected: dict[tuple[str, str], str]) -> dict[str, Any]:
    """{"valid": bool, "checked": n, "wrong": [...first few mismatches...]}."""
    seen = digests_in(target, list(expected))
    wrong = [
        {"ref": f"{repo}:{tag}", "expected": digest, "found": seen.get((repo, tag))}
        for (repo, tag), digest in expected.items()
        if seen.get((repo, tag)) != digest
    ]
    return {"valid": not wrong, "checked": len(expected), "wrong_count": len(wrong), "wrong": wrong[:5]}
