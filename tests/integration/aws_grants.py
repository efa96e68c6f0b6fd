"""The IAM actions each Lambda handler actually uses, checked against what the stack grants its role.

Every AWS API call made while a handler runs (`load_handler` wraps `lambda_handler`; calls from the
handler's worker threads count too) is recorded as the IAM action it needs. After each AWS-mode test,
each recorded action must be allowed by some statement of that function's role in the stack
synthesized from the maximal config of tests/infrastructure/test_stack.py: a call the code makes
without a grant (the relay's `sqs:SendMessage` once was) fails the test that made it.

Actions only, not resources: the test configs name other queues and repositories than the
synthesized one; resource scoping is asserted on the template (tests/infrastructure/test_stack.py).
"""

from __future__ import annotations

import fnmatch
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.client

# An API operation whose IAM action has another name (the SQS batch calls need the single action).
ACTION_OF = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


class CallRecorder:
    """IAM actions used per function; thread-safe. One per process (`RECORDER`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._function: str | None = None
        self.calls: dict[str, set[str]] = {}
        self._installed = False
        # With IAM enforced (tests/integration/aws_iam.py): the client to send a function's call through.
        self.route: Callable[[str, Any], Any] | None = None

    def install(self) -> None:
        """Hook botocore once: every API call of any client passes here."""
        with self._lock:
            if self._installed:
                return
            self._installed = True
        original = botocore.client.BaseClient._make_api_call
        recorder = self

        def recording(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            function = recorder.record(client.meta.service_model.signing_name, operation_name)
            route = recorder.route
            if function is not None and route is not None:
                client = route(function, client)
            return original(client, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]

    def record(self, service: str, operation: str) -> str | None:
        """Record the call for the function running now, if any; return that function."""
        action = f"{service}:{operation}"
        with self._lock:
            if self._function is not None:
                self.calls.setdefault(self._function, set()).add(ACTION_OF.get(action, action))
            return self._function

    @contextmanager
    def invoking(self, function: str) -> Iterator[None]:
        with self._lock:
            outer, self._function = self._function, function
        try:
            yield
        finally:
            with self._lock:
                self._function = outer

    def take(self) -> dict[str, set[str]]:
        with self._lock:
            calls, self.calls = self.calls, {}
        return calls


RECORDER = CallRecorder()


def recorded(function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler`, with the API calls it makes recorded for `function`."""
    RECORDER.install()

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        with RECORDER.invoking(function):
            return handler(*args, **kwargs)

    return run


@functools.cache
def granted_statements() -> dict[str, tuple[dict[str, Any], ...]]:
    """The Allow statements of each function's role (and the relay's Fargate task's), from one synth
    of the maximal test config with large images on."""
    import tempfile

    from tests.infrastructure.conftest import make_settings, synth_stack
    from tests.infrastructure.test_stack import role_id_of, statements_of, write_config

    folder = Path(tempfile.mkdtemp(prefix="regmirror-grants-"))
    config = write_config(folder)
    s = synth_stack(make_settings(config, large_images={"enabled": True}), folder / "cdk.out")
    assert s.stack.push is not None and s.stack.large_images is not None
    roles = {
        "lister": role_id_of(s, s.stack.planning.function),
        "relay": role_id_of(s, s.stack.copy.function),
        "push": role_id_of(s, s.stack.push.function),
        "task": s.stack.get_logical_id(s.stack.large_images.task_role.node.default_child),
    }
    return {
        name: tuple(st for st in statements_of(s, role) if st.get("Effect", "Allow") == "Allow")
        for name, role in roles.items()
    }


def granted_actions() -> dict[str, tuple[str, ...]]:
    """Action patterns of each function's role."""
    from tests.infrastructure.test_stack import as_list

    return {
        name: tuple(a for st in statements for a in as_list(st["Action"]))
        for name, statements in granted_statements().items()
    }


def ungranted(calls: dict[str, set[str]]) -> dict[str, list[str]]:
    """Per function, the recorded actions no statement of its role allows."""
    if not calls:
        return {}
    grants = granted_actions()
    missing = {
        function: sorted(a for a in actions if not any(fnmatch.fnmatchcase(a, p) for p in grants[function]))
        for function, actions in calls.items()
    }
    return {function: actions for function, actions in missing.items() if actions}
