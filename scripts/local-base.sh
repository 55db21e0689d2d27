#!/usr/bin/env bash
# Make a Debian bookworm base image with no registry: debootstrap from this machine's own apt
# source, with this machine's CA certificates copied in (a TLS-re-signing proxy needs them for pip),
# then `docker import`.   scripts/local-base.sh [IMAGE]   (default local/debian:bookworm)
set -euo pipefail
image=${1:-local/debian:bookworm}
docker=/usr/bin/docker

mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
if [ -z "$mirror" ]; then
  mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | awk '{print $2}' | head -1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

rootfs=$(mktemp -d /tmp/papanoel-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "local-base: debootstrap bookworm from $mirror" >&2
nice -n 10 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/tmp/papanoel-debootstrap.log 2>&1 \
  || { tail -20 /tmp/papanoel-debootstrap.log >&2; exit 1; }
mkdir -p "$rootfs/usr/local/share/ca-certificates" "$rootfs/etc/ssl/certs"
cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | $docker import - "$image" >/dev/null
echo "local-base: $image ready" >&2
