"""The ECR package's process-wide caches (kept across messages of a warm Lambda container)."""

from __future__ import annotations

from regmirror.registries.ecr import aws, repositories, tokens


def reset_caches() -> None:
    """Forget sessions, clients, tokens and known repositories (tests; a config reload)."""
    aws.reset()
    tokens.reset()
    repositories.reset()
