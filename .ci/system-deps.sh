#!/usr/bin/env bash
# Installs the Debian packages regmirror's tests and demo need, only when something is missing.
# `system-deps.sh demo`: only what `make demo` needs.
set -euo pipefail
need=()
command -v skopeo >/dev/null || need+=(skopeo)
command -v docker-registry >/dev/null || need+=(docker-registry)
if [ "${1:-all}" != demo ]; then  # `make demo` needs only skopeo, the registry and Python
  command -v node >/dev/null || need+=(nodejs)
  command -v npm >/dev/null || need+=(npm)
  [ -x /usr/bin/time ] || need+=(time)  # bench: peak RSS of a child
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)  # the CLI image (examples/container/build.sh)
  command -v umoci >/dev/null || need+=(umoci)
  command -v tmux >/dev/null || need+=(tmux)  # tests: the live display as a terminal renders it
  command -v systemd-analyze >/dev/null || need+=(systemd)  # tests: the example units verified
fi
command -v python3 >/dev/null || need+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}" ca-certificates
fi
