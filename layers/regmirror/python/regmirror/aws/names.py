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
IMAGES_COPIED_BY_MANIFEST = "ImagesCopiedByManifest"  # of copied: a manifest PUT, no skopeo (sync.retag)
IMAGES_SKIPPED = "ImagesSkipped"  # the relay's own digest check found the target in sync
IMAGES_FAILED = "ImagesFailed"
IMAGES_DEFERRED = "ImagesDeferred"  # source rate-limit budget short: message put back with a delay
IMAGES_TO_FARGATE = "ImagesToFargate"  # too big or too slow for Lambda: given to a Fargate task
BYTES_COPIED = "BytesCopied"
REFERRERS_COPIED = "ReferrersCopied"  # signatures, attestations, SBOMs copied with their images
REFERRERS_FAILED = "ReferrersFailed"  # ... that could not be copied (their image's message is retried)
REFERRERS_DUE = "ReferrersDue"  # in-sync images the planner enqueued because their target lacks referrers
TASKS_QUEUED = "TasksQueued"  # planning messages a scheduled or manual run queued
PUSH_EVENTS = "PushEvents"  # ECR push events received (matching a mapping or not)

# POWERTOOLS_SERVICE_NAME of each function: also the `service` dimension of its metrics.
LISTER_SERVICE = "regmirror-lister"
RELAY_SERVICE = "regmirror-relay"
PUSH_SERVICE = "regmirror-push"
TASK_SERVICE = "regmirror-relay-task"  # the relay's Fargate task

# Environment variables the stack sets and the handlers read.
ENV_CONFIG_BUCKET = "REGMIRROR_CONFIG_BUCKET"
ENV_CONFIG_KEY = "REGMIRROR_CONFIG_KEY"
ENV_CONFIG_NAME = "REGMIRROR_CONFIG_NAME"  # the file's original name, for error messages
ENV_CONFIG_FILE = "REGMIRROR_CONFIG_FILE"  # a local path instead of S3 (tests, container images)
ENV_COPY_QUEUE_URL = "REGMIRROR_COPY_QUEUE_URL"
ENV_PLAN_QUEUE_URL = "REGMIRROR_PLAN_QUEUE_URL"
ENV_SECRET_MAX_AGE = "REGMIRROR_SECRET_MAX_AGE"  # noqa: S105 - a variable name: seconds a secret is cached
DEFAULT_SECRET_MAX_AGE = 300  # seconds a Secrets Manager secret is cached per container
ENV_CHECK_WORKERS = "REGMIRROR_CHECK_WORKERS"
ENV_HANDOFF_RESERVE = "REGMIRROR_HANDOFF_RESERVE_SECONDS"
ENV_RETRY_BASE_SECONDS = "REGMIRROR_RETRY_BASE_SECONDS"  # backoff before a failed message returns
ENV_PUSH_REGISTRY_ALIASES = "REGMIRROR_PUSH_REGISTRY_ALIASES"  # JSON {"<ecr host>": "<host in config>"}
# The relay's hand-off of large images to Fargate (unset: every image is copied in Lambda).
ENV_FARGATE_CLUSTER = "REGMIRROR_FARGATE_CLUSTER"
ENV_FARGATE_TASK_DEFINITION = "REGMIRROR_FARGATE_TASK_DEFINITION"
ENV_FARGATE_CONTAINER = "REGMIRROR_FARGATE_CONTAINER"
ENV_FARGATE_SUBNETS = "REGMIRROR_FARGATE_SUBNETS"  # comma-separated subnet ids
ENV_FARGATE_SECURITY_GROUPS = "REGMIRROR_FARGATE_SECURITY_GROUPS"  # comma-separated
ENV_FARGATE_SIZE_LIMIT = "REGMIRROR_FARGATE_SIZE_LIMIT_BYTES"
ENV_FARGATE_TIMEOUT_RESERVE = "REGMIRROR_FARGATE_TIMEOUT_RESERVE_SECONDS"
# The Fargate task's input and where it puts a message it could not copy.
ENV_COPY_MESSAGE = "REGMIRROR_COPY_MESSAGE"
ENV_DEAD_LETTER_QUEUE_URL = "REGMIRROR_DEAD_LETTER_QUEUE_URL"
