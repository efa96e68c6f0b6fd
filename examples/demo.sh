#!/usr/bin/env bash
# `make demo`: two loopback registries, example images, `regmirror plan` then `regmirror sync`
# with examples/local.yaml, then the sync again to show the no-op resync. Registries stop at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${DEMO_PYTHON:-.venv-demo/bin/python}" -m examples.demo "$@"
