"""The config file's JSON Schema (`regmirror schema`), for editors (yaml-language-server) and CI.

Built from the config models, whose value types (config.base) say what their validators accept
beyond the Python type (durations as Go strings or numbers, numbers read as text, lists written as
nothing), with a description for every field. A field without a description fails the tests, so a
new field cannot ship undocumented. Unknown keys are refused by the schema (regmirror warns about
them: a typo such as `mapping:` is what an editor should point at).
"""

from __future__ import annotations

from typing import Any

from regmirror.config.models import Config

PUBLISHED = "docs/regmirror.schema.json"  # the copy in the repository, kept equal by a test

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Config": {
        "relay": "dregsy's relay: `skopeo` (`docker` is accepted and runs as skopeo).",
        "watch": "dregsy's watch flag: accepted, ignored.",
        "skopeo": "How regmirror runs skopeo.",
        "docker": "dregsy's docker relay settings: accepted, ignored (a warning).",
        "dockerhost": "dregsy's deprecated top-level docker host: ignored (a warning).",
        "api-version": "dregsy's deprecated top-level docker API version: ignored (a warning).",
        "lister": "Defaults for every repository lister (catalog, ECR, Docker Hub, index).",
        "retry": "How often failed work is tried again within a run.",
        "credentials-from-environment": "Registries without `auth` use your logins: auth.json, "
        "~/.docker/config.json and its credential helpers (default true).",
        "tasks": "The sync tasks, in order.",
    },
    "SkopeoConfig": {
        "binary": "The skopeo to run (a name on PATH or a path).",
        "certs-dir": "A certs.d-style folder (one sub-folder per registry host) for skopeo and regmirror.",
        "stall-timeout": "A copy that moves no byte for this long is killed and tried again; 0 = never.",
        "timeout": "The longest one copy may take (a Go duration or seconds).",
    },
    "DockerConfig": {
        "dockerhost": "dregsy's docker host: ignored.",
        "api-version": "dregsy's docker API version: ignored.",
    },
    "GlobalListerConfig": {
        "maxItems": "At most this many repositories per listing; 0 = the default (none), negative = none.",
        "cacheDuration": "How long a listing is reused: a Go duration (a number is nanoseconds, as in "
        "dregsy); negative = no cache.",
        "pageSize": "Repositories asked per page (1-1000).",
        "pageLimit": "A listing reading more pages than this fails (a registry paging without end).",
        "nameLimit": "A listing returning more names than this fails.",
    },
    "RetryConfig": {
        "attempts": "Tries per registry API operation (a page, a HEAD, a GET).",
        "copy-attempts": "skopeo runs per image before it counts as failed.",
        "breaker-failures": "Operations in a row without an answer that open a registry's circuit breaker; "
        "0 = never.",
        "breaker-cooldown": "How long an open circuit breaker refuses a registry before it tries again.",
    },
    "Task": {
        "name": "The task's name (`regmirror sync -run NAME` selects it).",
        "interval": "Seconds between runs of `regmirror run` (at least 30); 0 = run once.",
        "schedule": "An EventBridge schedule for AWS mode: `rate(...)` or `cron(...)`.",
        "verbose": "dregsy's per-task verbose flag.",
        "source": "The registry to read from.",
        "target": "The registry to write to.",
        "mappings": "Which repositories and tags to mirror, and where to.",
        "referrers": "Signatures, attestations, SBOMs copied with the images: true (default), false, "
        "or {artifact-types: [...]}.",
    },
    "MappingConfig": {
        "from": "A repository path, or `regex:<RE2>` matched against the source's repository list.",
        "to": "Where the images go: a path, or `regex:<pattern>,<replacement>`; default: the same path.",
        "tags": "Which tags: names, `regex:`, `semver:`, `keep:latest N` and `!` exclusions; default all.",
        "platform": "`all` (every platform of a multi-arch image, the default) or one `os/arch[/variant]`.",
        "max-images": "Refuse to plan more images than this (a guard against runaway regexes).",
        "referrers": "This mapping's referrers setting (true, false or {artifact-types: [...]}); "
        "default: the task's.",
    },
    "ReferrersConfig": {
        "artifact-types": "Only referrers of these artifact types (media types) are copied.",
    },
    "RegistryConfig": {
        "registry": "host[:port][/prefix]; public ECR is public.ecr.aws.",
        "auth": "Credentials: base64 of dregsy's JSON or of `user:password`, `env:VAR`, "
        "`secretsmanager:ID` (AWS), or `none`; default: your logins.",
        "skip-tls-verify": "Do not verify the registry's TLS certificate.",
        "insecure": "Talk plain HTTP to the registry.",
        "kind": "The registry's kind when its host does not tell it (`gcr`: Google's, behind a proxy).",
        "ca-file": "A PEM file of CAs the registry's certificate is verified against.",
        "auth-refresh": "ECR: renew the token after this long (a Go duration; at least 1h).",
        "lister": "How the repository list is read (for `from: regex:`).",
        "role-arn": "ECR: an IAM role assumed first (cross-account mirroring).",
        "region": "ECR: the region, when the host does not name it.",
        "ecr": "ECR target: how missing repositories are created.",
        "rate-limit-floor": "Stop pulling when the registry's rate-limit budget falls to this many pulls.",
        "max-concurrent-copies": "At most this many copies from or to this registry at once.",
    },
    "ListerConfig": {
        "type": "`catalog` (the registry's _catalog), `ecr`, `dockerhub` or `index` (a search API).",
        "search": "The search term of an `index` lister.",
        "namespaces": "Docker Hub: the namespaces (users, organisations) to list besides your own.",
        "baseUrl": "The lister API's base URL (a mirror, a VPC endpoint, a test server).",
        "pageSize": "Repositories asked per page.",
        "maxItems": "At most this many repositories; negative = no limit; default: the global setting.",
    },
    "EcrRepositorySettings": {
        "tag-mutability": "MUTABLE (default) or IMMUTABLE.",
        "scan-on-push": "Scan images on push (default false).",
        "kms-key": "Encrypt with this KMS key (an ARN, id or alias); default AES256.",
        "lifecycle-policy": "A lifecycle policy: a JSON file relative to the config, or inline JSON.",
    },
}


def config_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a regmirror / dregsy config file."""
    schema = Config.model_json_schema(by_alias=True, mode="validation")
    models = {"Config": schema, **schema.get("$defs", {})}
    for model, body in models.items():
        body.pop("title", None)
        for name, field in body.get("properties", {}).items():
            field.pop("title", None)
            field["description"] = DESCRIPTIONS.get(model, {}).get(name, "")
    # top-level `x-…` keys hold YAML anchors (`x-registries: &local`): ignored, as in Compose files
    schema["patternProperties"] = {"^x-": {}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "regmirror config (dregsy format)",
        **schema,
    }
