"""Names shared by the Lambda handlers and the CDK stack (metrics, environment variables, services)."""

from __future__ import annotations

# Powertools Metrics: one namespace (POWERTOOLS_METRICS_NAMESPACE, default below), these metric names.
DEFAULT_METRICS_NAMESPACE = "Regmirror"
IMAGES_PLANNED = "ImagesPlanned"  # items a planning run produced (every state)
IMAGES_IN_SYNC = "ImagesInSync"  # target already holds the source digest: nothing enqueued
IMAGES_ENQUEUED = "ImagesEnqueued"  # copy messages sent (checked `copy` items and unchecked hand-offs)
IMAGES_HANDED_OFF = "ImagesHandedOff"  # enqueued unchecked because the planner ran out of time
IMAGES_MISSING = "ImagesMissingAtSource"
PLAN_ERRORS = "PlanErrors"  # mappings or items whose planning failed
IMAGES_COPIED = "ImagesCopied"
IMAGES_SKIPPED = "ImagesSkipped"  # the relay's own digest check found the target in sync
IMAGES_FAILED = "ImagesFailed"
IMAGES_DEFERRED = "ImagesDeferred"  # source rate-limit budget short: message put back with a delay
BYTES_COPIED = "BytesCopied"
TASKS_QUEUED = "TasksQueued"  # planning messages a scheduled or manual run queued
PUSH_EVENTS = "PushEvents"  # ECR push events received (matching a mapping or not)

# POWERTOOLS_SERVICE_NAME of each function: also the `service` dimension of its metrics.
LISTER_SERVICE = "regmirror-lister"
RELAY_SERVICE = "regmirror-relay"
PUSH_SERVICE = "regmirror-push"

# Environment variables the stack sets and the handlers read.
ENV_CONFIG_BUCKET = "REGMIRROR_CONFIG_BUCKET"
ENV_CONFIG_KEY = "REGMIRROR_CONFIG_KEY"
ENV_CONFIG_NAME = "REGMIRROR_CONFIG_NAME"  # the file's original name, for error messages
ENV_CONFIG_FILE = "REGMIRROR_CONFIG_FILE"  # a local path instead of S3 (tests, container images)
ENV_COPY_QUEUE_URL = "REGMIRROR_COPY_QUEUE_URL"
ENV_PLAN_QUEUE_URL = "REGMIRROR_PLAN_QUEUE_URL"
ENV_SECRET_MAX_AGE = "REGMIRROR_SECRET_MAX_AGE"  # noqa: S105 - a variable name: seconds a secret is cached
ENV_CHECK_WORKERS = "REGMIRROR_CHECK_WORKERS"
ENV_HANDOFF_RESERVE = "REGMIRROR_HANDOFF_RESERVE_SECONDS"
ENV_RETRY_BASE_SECONDS = "REGMIRROR_RETRY_BASE_SECONDS"  # backoff before a failed message returns
ENV_PUSH_REGISTRY_ALIASES = "REGMIRROR_PUSH_REGISTRY_ALIASES"  # JSON {"<ecr host>": "<host in config>"}
