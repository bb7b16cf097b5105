#!/bin/sh
# fetch-kernel.sh: put a Debian cloud kernel where the cgroup v2 VM tests
# (cttest::vm, tests/tests/vm_*.rs) look for it.  Idempotent: does nothing
# when a kernel is already cached.  CI calls it after `apt-get update`.
#
#   tests/vm/fetch-kernel.sh [PACKAGE]
#
# PACKAGE defaults to the newest linux-image-<version>-cloud-amd64 that apt
# knows (signed image; the cloud flavour boots fast, has virtio, cgroup v2
# with every controller, and keeps loop/overlay as modules).
#
# Layout of the cache ($CTOOLS_VM_CACHE, default /var/cache/ctools-vm):
#   <version>/vmlinuz              the kernel image
#   <version>/modules/<version>/   lib/modules of the package (.ko.xz)
#   <version>/config               the kernel's build configuration
#   current -> <version>           the kernel the tests boot
#
# Needs: apt-get (with package lists), dpkg-deb.  Prints the cached
# version's directory on stdout; diagnostics go to stderr.
set -eu

cache=${CTOOLS_VM_CACHE:-/var/cache/ctools-vm}

if [ $# -eq 0 ] && [ -f "$cache/current/vmlinuz" ] && [ -d "$cache/current/modules" ]; then
    (cd "$cache/current" && pwd -P)
    exit 0
fi

pkg=${1:-}
if [ -z "$pkg" ]; then
    pkg=$(apt-cache pkgnames linux-image- 2>/dev/null |
        grep -E '^linux-image-[0-9][^ ]*-cloud-amd64$' | sort -V | tail -n 1 || true)
fi
if [ -z "$pkg" ]; then
    echo "fetch-kernel.sh: no linux-image-*-cloud-amd64 package known to apt (run apt-get update; Debian/Ubuntu archive with the cloud flavour needed)" >&2
    exit 1
fi
version=${pkg#linux-image-}

if [ -f "$cache/$version/vmlinuz" ] && [ -d "$cache/$version/modules" ]; then
    ln -sfn "$version" "$cache/current"
    echo "$cache/$version"
    exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
chmod 755 "$work"
echo "fetch-kernel.sh: downloading $pkg" >&2
# apt-get download writes into the current directory; as root it warns that
# the _apt user cannot write there, which is harmless.
(cd "$work" && apt-get download -q "$pkg" 2>&1 | grep -v 'unsandboxed' >&2) || true
deb=$(ls "$work"/*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
    echo "fetch-kernel.sh: apt-get download $pkg failed" >&2
    exit 1
fi
dpkg-deb -x "$deb" "$work/x"
img=$(ls "$work"/x/boot/vmlinuz-* | head -n 1)
out="$work/$version"
mkdir -p "$out"
cp "$img" "$out/vmlinuz"
cp "$work"/x/boot/config-* "$out/config" 2>/dev/null || true
if [ -d "$work/x/usr/lib/modules" ]; then
    mv "$work/x/usr/lib/modules" "$out/modules"
else
    mv "$work/x/lib/modules" "$out/modules"
fi
rm -rf "$cache/$version"
mv "$out" "$cache/$version"
ln -sfn "$version" "$cache/current"
echo "$cache/$version"
