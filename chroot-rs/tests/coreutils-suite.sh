#!/bin/bash
# Run GNU coreutils' own chroot tests (chroot-fail.sh, chroot-credentials.sh)
# against a chroot binary: coreutils-suite.sh BINARY [SRCDIR]
#
# SRCDIR is an unpacked coreutils source tree; without it the Debian source
# package is fetched with apt-get (private lists and cache under a temporary
# directory, nothing on the system is changed), which needs the archive to be
# reachable.  The upstream files are used where they lie and never copied
# into this repository.  Runs as root (chroot-credentials.sh needs it), under
# `setpriv --groups=0` because the test expects root to have supplementary
# group 0.  Exit: 0 both pass, 1 a failure, 77 the sources are unavailable.
set -u
bin=$(readlink -f "${1:?usage: coreutils-suite.sh BINARY [SRCDIR]}")
src=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "$src" ]; then
  a=$work/apt
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/src"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" >"$a/src.list"
  O=(-o "Dir::Etc::sourcelist=$a/src.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$a/lists"
     -o "Dir::Cache=$a/cache" -o Debug::NoLocking=1 -qq)
  if ! { apt-get "${O[@]}" update && (cd "$a/src" && apt-get "${O[@]}" source --download-only coreutils); } >"$work/apt.log" 2>&1; then
    echo "coreutils-suite.sh: cannot fetch the coreutils sources (see apt output below)" >&2
    cat "$work/apt.log" >&2
    exit 77
  fi
  tar -C "$work" -xf "$a"/src/coreutils_*.orig.tar.* || exit 77
  src=$(echo "$work"/coreutils-*)
fi
cd "$src" || exit 77
tests=$(ls tests/*/chroot-fail.sh tests/*/chroot-credentials.sh 2>/dev/null)
[ -n "$tests" ] || { echo "coreutils-suite.sh: no chroot tests in $src" >&2; exit 77; }
mkdir -p "$work/src"
ln -sf "$bin" "$work/src/chroot"
echo '#define HAVE_SETGROUPS 1' >"$work/config.h"
rc=0
for t in $tests; do
  (
    . tests/lang-default
    export VERSION=$(sed -n 's/^VERSION = //p' Makefile 2>/dev/null || true)
    export abs_top_builddir=$work abs_top_srcdir=$PWD abs_srcdir=$PWD \
      built_programs="chroot pwd rm" fail=0 srcdir=. top_srcdir=. \
      CONFIG_HEADER=$work/config.h PACKAGE_VERSION=$(rm --version | sed -n '1s/.* //p') \
      SHELL=/bin/bash PATH=$work/src:$PATH
    setpriv --groups=0 bash "$t" >"$work/log" 2>&1
  )
  r=$?
  case $r in
    0) echo "PASS $t" ;;
    77) echo "SKIP $t"; sed -n '/^+ skip_\|skipped test/p' "$work/log" | tail -3; rc=1 ;;
    *) echo "FAIL $t (rc=$r)"; tail -40 "$work/log"; rc=1 ;;
  esac
done
exit $rc
