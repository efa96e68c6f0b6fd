"""What this process keeps between runs (between the messages of a warm Lambda container), and the
one way to forget it all (tests, a config reload).

Kept on purpose: the loaded config and its `sync.registries.Registries` (connections, tokens,
listings, rate-limit budgets), the ECR package's AWS sessions, clients, tokens and known repositories,
and the lister cache. Not forgotten here: the secrets the log filter redacts (forgetting one would let
it into a log line) and skopeo's running children (`sync.workdirs.abort_running` stops them).
"""

from __future__ import annotations

import sys


def reset_process_state() -> None:
    """Forget every cache this process keeps (boto3 is not imported for it)."""
    from regmirror.registries.listers.base import clear_lister_cache
    from regmirror.registries.logins import forget_logins
    from regmirror.sync.registries import reset_shared

    reset_shared()
    clear_lister_cache()
    forget_logins()
    if "regmirror.aws.config_source" in sys.modules:
        sys.modules["regmirror.aws.config_source"].clear_config_cache()
    if "regmirror.registries.gcr.tokens" in sys.modules:
        sys.modules["regmirror.registries.gcr.tokens"].forget_google_credentials()
    if "regmirror.registries.ecr.aws" in sys.modules:  # ECR code ran: it has caches to forget
        from regmirror.registries.ecr.caches import reset_caches

        reset_caches()
