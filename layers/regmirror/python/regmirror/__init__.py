"""regmirror: mirror container images between registries (dregsy-compatible)."""

__version__ = "0.1.0"
