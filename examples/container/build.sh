#!/usr/bin/env bash
# Builds the CLI image without Docker: a Debian bookworm root filesystem from packages.txt
# (mmdebstrap), regmirror installed into it (install.sh, with this machine's pip: its cp311 wheels
# match bookworm's Python 3.11), packed as an OCI image layout (umoci) tagged `regmirror:latest`.
#   build.sh OUT     → OUT/rootfs (the tree), OUT/oci (the image; `skopeo copy oci:OUT/oci:latest docker://…`)
# Needs root (mmdebstrap, chown) and the Debian mirror; run by `make image`, before the tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
pip=${PIP:-"$repo/.venv/bin/python -m pip"}
packages=$(grep -v '^#' "$here/packages.txt" | paste -sd, -)
rm -rf "$out/rootfs" "$out/oci" "$out/bundle"
mmdebstrap --quiet --variant=essential --include="$packages" bookworm "$out/rootfs"
want=$(chroot "$out/rootfs" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
have=$($pip --version | sed -E 's/.*python ([0-9]+\.[0-9]+).*/\1/')
[ "$want" = "$have" ] || { echo "build.sh: the image's Python is $want, this pip's $have" >&2; exit 1; }
bash "$here/install.sh" "$repo" "$out/rootfs" "$pip"
# bytecode by the image's own Python (a read-only root filesystem cannot cache it at run time)
chroot "$out/rootfs" python3 -m compileall -q /opt/regmirror
umoci init --layout "$out/oci"
umoci new --image "$out/oci:latest"
umoci unpack --image "$out/oci:latest" "$out/bundle"
rm -rf "$out/bundle/rootfs"
mv "$out/rootfs" "$out/bundle/rootfs"
umoci repack --image "$out/oci:latest" "$out/bundle"
umoci config --image "$out/oci:latest" --config.user regmirror --config.workingdir /config \
    --config.entrypoint /usr/local/bin/regmirror --config.cmd --help \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --architecture "$(dpkg --print-architecture)" --os linux
mv "$out/bundle/rootfs" "$out/rootfs"
rm -rf "$out/bundle"
echo "built $out/oci:latest (root filesystem in $out/rootfs)"
