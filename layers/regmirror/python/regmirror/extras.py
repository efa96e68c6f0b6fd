"""Optional dependencies: the CLI needs neither boto3 nor Powertools (the `aws` extra) nor google-auth
(the `gcp` extra). A feature that needs one imports it through `load`, so a missing one is a clear
message with the install line instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from regmirror.errors import RegmirrorError

# top-level package -> the extra that installs it
EXTRA_OF = {"boto3": "aws", "botocore": "aws", "aws_lambda_powertools": "aws", "google": "gcp"}


class MissingExtra(RegmirrorError):
    """A feature the config uses needs a package that is not installed."""


def load(module: str, feature: str) -> ModuleType:
    """`module`, imported; MissingExtra naming `feature` and the extra when an optional dependency
    it imports is not installed (any other import error passes as it is)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        package = (exc.name or "").split(".")[0]
        extra = EXTRA_OF.get(package)
        if extra is None:
            raise
        raise MissingExtra(
            f"{feature} needs {package}, which is not installed: pip install 'regmirror[{extra}]'"
        ) from None
