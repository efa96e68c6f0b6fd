"""The config a function runs with: a bundle (config + the files it names) in S3, read once per container.

The stack uploads the bundle as an S3 asset (zip) and passes bucket, key and the config's file name;
the bundle is unpacked into /tmp/regmirror-config/<key>/ so relative paths in the config (`ca-file`,
`ecr.lifecycle-policy`) resolve as they did at synth. `REGMIRROR_CONFIG_FILE` (a local path) takes
precedence, for container images with the config baked in and for tests.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

from regmirror.aws import names
from regmirror.config import Config, load_config

_lock = threading.Lock()
_cache: dict[tuple[str, ...], Config] = {}


def s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def _safe_extract(data: bytes, destination: Path) -> None:
    """Unzip, refusing members that would land outside `destination` (absolute or `..` paths)."""
    root = destination.resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            target = (root / member.filename).resolve()
            if not target.is_relative_to(root):
                raise ValueError(f"config bundle member {member.filename!r} points outside the bundle")
        archive.extractall(root)


def download_bundle(bucket: str, key: str, name: str, client: Any = None, base: Path | None = None) -> Path:
    """Fetch and unpack the bundle; returns the path of the config file inside it."""
    base = base or Path(tempfile.gettempdir()) / "regmirror-config"
    folder = base / Path(key).stem
    config_path = folder / name
    if config_path.is_file():  # unpacked by an earlier invocation of this container
        return config_path
    body = (client or s3_client()).get_object(Bucket=bucket, Key=key)["Body"].read()
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=base))
    _safe_extract(body, staging)
    with contextlib.suppress(OSError):  # another thread of this container won the race: use its copy
        staging.rename(folder)
    if not config_path.is_file():
        raise FileNotFoundError(f"config bundle s3://{bucket}/{key} has no {name}")
    return config_path


def load_lambda_config(client: Any = None) -> Config:
    """The function's config, cached per container (a new config is a new key, hence new containers)."""
    local = os.environ.get(names.ENV_CONFIG_FILE)
    if local:
        key: tuple[str, ...] = ("file", local)
    else:
        try:
            bucket, s3_key = os.environ[names.ENV_CONFIG_BUCKET], os.environ[names.ENV_CONFIG_KEY]
        except KeyError as missing:
            raise RuntimeError(
                f"{missing.args[0]} is not set: the function needs {names.ENV_CONFIG_BUCKET} and "
                f"{names.ENV_CONFIG_KEY} (set by the stack) or {names.ENV_CONFIG_FILE}"
            ) from None
        key = ("s3", bucket, s3_key, os.environ.get(names.ENV_CONFIG_NAME, "config.yaml"))
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            path = Path(local) if local else download_bundle(key[1], key[2], key[3], client)
            cached = _cache[key] = load_config(path)
        return cached


def clear_config_cache() -> None:
    with _lock:
        _cache.clear()
