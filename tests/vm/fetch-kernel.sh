#!/bin/sh
# fetch-kernel.sh: put Debian cloud kernels where the VM tests (cttest::vm,
# tests/tests/vm_*.rs) look for them.  Idempotent: does nothing when the
# kernels are already cached.  CI calls it after `apt-get update`.
#
#   tests/vm/fetch-kernel.sh [PACKAGE]
#
# With no PACKAGE it caches two kernels:
#   current  the newest linux-image-<version>-cloud-amd64 that apt knows
#            (signed image; the cloud flavour boots fast, has virtio,
#            cgroup v2 with every controller, and keeps loop/overlay as
#            modules), which most tests boot;
#   legacy   the newest of Debian 12's own 6.1 series, for the tests of a
#            kernel before 6.5 (overlayfs's legacy mount context).
# PACKAGE makes that package the current one.
#
# Layout of the cache ($CTOOLS_VM_CACHE, default /var/cache/ctools-vm):
#   <version>/vmlinuz              the kernel image
#   <version>/modules/<version>/   lib/modules of the package (.ko.xz)
#   <version>/config               the kernel's build configuration
#   current -> <version>           the kernel most tests boot
#   legacy -> <version>            the 6.1 kernel
#
# Needs: apt-get (with package lists), dpkg-deb.  Prints the current
# version's directory on stdout; diagnostics go to stderr.
set -eu

cache=${CTOOLS_VM_CACHE:-/var/cache/ctools-vm}

cached() { [ -f "$cache/$1/vmlinuz" ] && [ -d "$cache/$1/modules" ]; }

if [ $# -eq 0 ] && cached current && cached legacy; then
    (cd "$cache/current" && pwd -P)
    exit 0
fi

# newest PATTERN: the newest cloud kernel package whose version matches the
# extended regular expression PATTERN
newest() {
    apt-cache pkgnames linux-image- 2>/dev/null |
        grep -E "^linux-image-$1-cloud-amd64\$" | sort -V | tail -n 1 || true
}

# fetch PACKAGE LINK: the package's kernel in the cache, LINK pointing at it
fetch() {
    version=${1#linux-image-}
    if ! cached "$version"; then
        mkdir -p "$cache"
        work=$(mktemp -d "$cache/.fetch.XXXXXX")
        trap 'rm -rf "$work"' EXIT INT TERM
        chmod 755 "$work"
        echo "fetch-kernel.sh: downloading $1" >&2
        # apt-get download writes into the current directory; as root it warns that
        # the _apt user cannot write there, which is harmless.
        (cd "$work" && apt-get download -q "$1" 2>&1 | grep -v 'unsandboxed' >&2) || true
        deb=$(ls "$work"/*.deb 2>/dev/null | head -n 1 || true)
        if [ -z "$deb" ]; then
            echo "fetch-kernel.sh: apt-get download $1 failed" >&2
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
        rm -rf "$work"
        trap - EXIT INT TERM
    fi
    ln -sfn "$version" "$cache/$2"
}

if [ $# -gt 0 ]; then
    fetch "$1" current
    echo "$cache/$version"
    exit 0
fi

pkg=$(newest '[0-9][^ ]*')
old=$(newest '6\.1\.[0-9][^ ]*')
if [ -z "$pkg" ] || [ -z "$old" ]; then
    echo "fetch-kernel.sh: no linux-image-*-cloud-amd64 package (or none of the 6.1 series) known to apt (run apt-get update; Debian 12's archive with the cloud flavour needed)" >&2
    exit 1
fi
cached current || fetch "$pkg" current
cached legacy || fetch "$old" legacy
(cd "$cache/current" && pwd -P)
