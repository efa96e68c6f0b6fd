"""Registries: one folder per registry kind, one HTTP stack (http/), the listers table, credentials."""
