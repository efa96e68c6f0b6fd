"""The distribution (OCI registry HTTP API v2) kind: the default for any registry."""
