#!/bin/bash
# Run util-linux's own tests that use unshare or nsenter (TS_CMD_UNSHARE,
# TS_CMD_NSENTER) against unshare-rs:
#
#   util-linux-suite.sh BINARY [SRCDIR]
#
# BINARY is unshare-rs; it is called through symlinks named unshare and
# nsenter.  SRCDIR is an unpacked util-linux source tree (configured and
# built there when it is not yet); without it the Debian source package is
# fetched with apt-get into a temporary directory (its own package lists and
# cache: nothing on the system changes), from sid, else trixie, else
# bookworm, and built there.  The upstream files are used where they lie
# and never copied into this repository.
#
# The suite's helpers (test_mkfds, test_sigreceive, test_strerror) and lsns
# come from that tree, built with its configure (about 5 minutes on two
# cores).  lsfd/mkfds-cdev-tun is left out: it makes a tun interface in the
# caller's own network namespace, which our tests never change.
#
# With UL_COMPARE=1 the same tests also run against the system's unshare and
# nsenter and against the tree's own, for the README's figures.
#
# Output: one `PASS|FAIL|SKIP component/test` line per test and run, then
# `util-linux VERSION: unshare-rs passed N of M`.  Needs root.  Exit: 0 every
# test passed, 1 a failure or skip, 77 the sources are unavailable.
set -u
bin=$(readlink -f "${1:?usage: util-linux-suite.sh BINARY [SRCDIR]}")
src=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "$src" ]; then
  a=$work/apt
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/src"
  got=
  for suite in sid trixie bookworm; do
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >"$a/src.list"
    O=(-o "Dir::Etc::sourcelist=$a/src.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$a/lists"
       -o "Dir::Cache=$a/cache" -o Debug::NoLocking=1 -qq)
    rm -rf "$a/lists" && mkdir -p "$a/lists/partial"
    apt-get "${O[@]}" update >>"$work/apt.log" 2>&1 || continue
    # Only the upstream tarball matters (a mirror may lack the .dsc).
    (cd "$a/src" && apt-get "${O[@]}" source --download-only util-linux) >>"$work/apt.log" 2>&1
    got=$(ls "$a"/src/util-linux_*.orig.tar.* 2>/dev/null | head -n 1)
    [ -n "$got" ] && break
  done
  if [ -z "$got" ]; then
    echo "util-linux-suite.sh: cannot fetch the util-linux sources (apt output below)" >&2
    cat "$work/apt.log" >&2
    exit 77
  fi
  tar -C "$work" -xf "$got" || exit 77
  src=$(echo "$work"/util-linux-*/)
fi
cd "$src" || exit 77
version=$(sed -n 's/^PACKAGE_VERSION=.\(.*\).$/\1/p' configure 2>/dev/null | head -n 1)

tests=()
for t in $(grep -l -E 'TS_CMD_(UNSHARE|NSENTER)' tests/ts/*/* 2>/dev/null | sort); do
  case $t in
    */mkfds-cdev-tun) echo "SKIP ${t#tests/ts/} (makes a tun interface in the host's network namespace)" ;;
    *) tests+=("${t#tests/ts/}") ;;
  esac
done
[ ${#tests[@]} -gt 0 ] || { echo "util-linux-suite.sh: no unshare or nsenter tests in $src" >&2; exit 77; }

if [ ! -x lsns ] || [ ! -x test_mkfds ] || [ ! -x test_sigreceive ] || [ ! -x test_strerror ]; then
  if [ ! -f config.h ]; then
    ./configure --disable-all-programs --enable-lsns --enable-libsmartcols --enable-libmount \
      --enable-libblkid --enable-unshare --enable-nsenter --disable-nls --without-python \
      --without-systemd --without-udev --without-ncursesw --without-tinfo --without-readline \
      --disable-liblastlog2 --disable-pam-lastlog2 --without-econf --disable-bash-completion \
      --disable-asciidoc --disable-poman --without-btrfs --without-cryptsetup --without-selinux \
      --without-audit --without-user --without-libz --without-libmagic >"$work/build.log" 2>&1 ||
      { echo "util-linux-suite.sh: configure failed" >&2; tail -30 "$work/build.log" >&2; exit 1; }
  fi
  make -j"$(nproc)" lsns unshare nsenter test_sigreceive test_mkfds test_strerror >>"$work/build.log" 2>&1 ||
    { echo "util-linux-suite.sh: build failed" >&2; tail -30 "$work/build.log" >&2; exit 1; }
fi

mkdir -p "$work/ours"
ln -sf "$bin" "$work/ours/unshare"
ln -sf "$bin" "$work/ours/nsenter"

# run LABEL UNSHARE NSENTER: the tests against one pair; prints the lines,
# sets PASSED.
run() {
  local label=$1 out line name desc
  out=$(TS_CMD_UNSHARE=$2 TS_CMD_NSENTER=$3 tests/run.sh --builddir="$PWD" "${tests[@]}" 2>&1)
  PASSED=0
  for name in "${tests[@]}"; do
    desc=$(sed -n 's/^TS_DESC="\(.*\)"$/\1/p' "tests/ts/$name")
    line=$(grep -F "$desc" <<<"$out" | head -n 1)
    case $line in
      *"... OK"*) echo "PASS $name ($label)"; PASSED=$((PASSED + 1)) ;;
      *SKIPPED*) echo "SKIP $name ($label): ${line##*SKIPPED }" ;;
      *) echo "FAIL $name ($label): ${line##*... }" ;;
    esac
  done
  if [ "$label" = unshare-rs ] && [ "$PASSED" != ${#tests[@]} ]; then
    # The diffs of what failed.
    for name in "${tests[@]}"; do
      for f in tests/diff/"$name" tests/output/"$name".err; do
        [ -s "$f" ] && { echo "--- $f"; head -40 "$f"; }
      done
    done
  fi
}

if [ "${UL_COMPARE:-0}" = 1 ]; then
  run "system $(unshare --version | sed -n '1s/.* //p')" "$(command -v unshare)" "$(command -v nsenter)"
  echo "util-linux $version: system unshare and nsenter passed $PASSED of ${#tests[@]}"
  run "util-linux $version" "$PWD/unshare" "$PWD/nsenter"
  echo "util-linux $version: its own unshare and nsenter passed $PASSED of ${#tests[@]}"
fi
run unshare-rs "$work/ours/unshare" "$work/ours/nsenter"
echo "util-linux $version: unshare-rs passed $PASSED of ${#tests[@]}"
[ "$PASSED" = ${#tests[@]} ]
