"""Real test bed: CNCF distribution registries (plain, htpasswd, TLS, token auth) started on loopback.

Usage (see tests/conftest.py for the fixtures)::

    with RegistryServer(auth="htpasswd", tls=True) as server:
        digest = push_image(server, "team/app", "1.0", platforms=["linux/amd64", "linux/arm64"])
        assert manifest_digest(server, "team/app", "1.0") == digest
        assert server.requests(method="PUT", path_regex=r"/v2/.+/manifests/.+")
"""

from tests.testbed.files import write_config
from tests.testbed.images import (
    ImageApi,
    catalog,
    delete_manifest,
    get_manifest,
    list_tags,
    lose_layer,
    manifest_digest,
    push_image,
    push_repositories,
)
from tests.testbed.registry import RegistryServer, RequestRecord, write_authfile
from tests.testbed.skopeo import skopeo_args, skopeo_inspect_raw
from tests.testbed.token_server import TokenRequest, TokenServer

__all__ = [
    "ImageApi",
    "RegistryServer",
    "RequestRecord",
    "TokenRequest",
    "TokenServer",
    "catalog",
    "delete_manifest",
    "get_manifest",
    "list_tags",
    "lose_layer",
    "manifest_digest",
    "push_image",
    "push_repositories",
    "skopeo_args",
    "skopeo_inspect_raw",
    "write_authfile",
    "write_config",
]
