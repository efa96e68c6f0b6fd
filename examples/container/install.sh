#!/bin/sh
# Installs regmirror into a root filesystem: SOURCE (the repository) into ROOT (/ in the Dockerfile,
# the mmdebstrap tree in build.sh), with the pinned versions, and adds the non-root user.
#   install.sh SOURCE ROOT [PIP]     (PIP: the pip to use, default `python3 -m pip`)
set -eu
source_dir=$1 root=$2 pip=${3:-python3 -m pip}
$pip install --quiet --disable-pip-version-check --no-compile --target "$root/opt/regmirror" \
    -c "$source_dir/requirements-cli.txt" "$source_dir"
rm -rf "$root/opt/regmirror/bin"
mkdir -p "$root/usr/local/bin" "$root/config"
cat > "$root/usr/local/bin/regmirror" <<'SH'
#!/bin/sh
PYTHONPATH=/opt/regmirror exec python3 -m regmirror.cli.main "$@"
SH
chmod 0755 "$root/usr/local/bin/regmirror"
# uid/gid 10001: the same in every build, so mounted configs and records can be owned by it
grep -q '^regmirror:' "$root/etc/group" || echo 'regmirror:x:10001:' >> "$root/etc/group"
grep -q '^regmirror:' "$root/etc/passwd" \
    || echo 'regmirror:x:10001:10001:regmirror:/home/regmirror:/usr/sbin/nologin' >> "$root/etc/passwd"
mkdir -p "$root/home/regmirror"
chown 10001:10001 "$root/home/regmirror" "$root/config"
