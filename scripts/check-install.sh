#!/usr/bin/env bash
# Checks `make install` and `make uninstall` into a scratch DESTDIR with the
# debug build: every binary, man page and completion lands where it should,
# each page renders with `man -l` and lists every option of `--help`, and
# uninstall removes all of it.
set -uo pipefail
cd "$(dirname "$0")/.."
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "install check failed: $*" >&2; }

if ! make -s install PROFILE=debug DESTDIR="$dest" HELPERDIR=/sbin >/dev/null; then
    bad "make install"
    echo "install: $pass passed, $((fail)) failed"
    exit 1
fi
p=$dest/usr/local
for t in stress-rs cgset unshare-rs mkrootfs contain; do
    [ -x "$p/bin/$t" ] && ok || bad "$t not in bin"
done
for t in chroot-rs unionmount runc-rs; do
    [ -x "$p/sbin/$t" ] && ok || bad "$t not in sbin"
done
[ -L "$dest/sbin/mount.unionmount" ] && ok || bad "mount.unionmount helper link"
# contain's networking code, where the installed contain looks for it
for f in common store run runmore chain containers output images build registry net runtime runtimemore template cp volumes admin events logs; do
    [ -f "$p/share/ctools/contain-$f.sh" ] && bash -n "$p/share/ctools/contain-$f.sh" && ok || bad "contain-$f.sh not in share/ctools"
done
# the installed front script finds them: its help (output.sh) and a usage error of run (run.sh)
"$p/bin/contain" --help 2>/dev/null | grep -q '^Usage' && ok || bad "installed contain --help"
o=$(CONTAIN_ROOT=$dest/croot "$p/bin/contain" run 2>&1)
grep -q 'contain run \[OPTIONS\]' <<<"$o" && ok || bad "installed contain run: $o"
for page in man1/stress-rs.1 man1/cgset.1 man1/unshare-rs.1 man1/mkrootfs.1 man1/contain.1 \
    man8/chroot-rs.8 man8/unionmount.8 man8/runc-rs.8 man7/ctools.7; do
    f=$p/share/man/$page
    if [ ! -f "$f" ]; then bad "$page missing"; continue; fi
    text=$(MANWIDTH=200 man -l "$f" 2>/dev/null)
    if grep -q '^NAME' <<<"$text" && grep -q 'EXIT STATUS' <<<"$text"; then ok; else bad "$page does not render"; fi
    name=$(basename "$page"); name=${name%.*}
    [ "$name" = ctools ] || [ "$name" = contain ] && continue
    # Every long option that --help lists appears in the page's OPTIONS.
    for opt in $("$p"/*bin/"$name" --help 2>/dev/null | sed -E "s/\[alias(es)?: [^]]*\]//g" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
        if grep -q -- "$opt" <<<"$text"; then ok; else bad "$page lacks $opt"; fi
    done
done
for t in stress-rs cgset unshare-rs mkrootfs chroot-rs unionmount runc-rs; do
    f=$p/share/bash-completion/completions/$t
    [ -f "$f" ] && bash -n "$f" && ok || bad "bash completion $t"
    [ -f "$p/share/zsh/site-functions/_$t" ] && ok || bad "zsh completion $t"
    [ -f "$p/share/fish/vendor_completions.d/$t.fish" ] && ok || bad "fish completion $t"
done
# contain's completion (hand-written): commands, options, containers and images of a
# state directory.
f=$p/share/bash-completion/completions/contain
if [ -f "$f" ] && bash -n "$f"; then
    ok
    st=$(mktemp -d)
    mkdir -p "$st/containers/0123456789abcdef"
    printf 'name web\nimage x\n' >"$st/containers/0123456789abcdef/meta"
    echo "app latest 00ff" >"$st/repositories"
    complete_words() { # WORD... (the last is the one completed)
        bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            _contain; printf "%s\n" "${COMPREPLY[@]}"' _ "$f" "$@"
    }
    export CONTAIN_ROOT=$st
    [[ $(complete_words contain res) == $'restart' ]] && ok || bad "contain completion: commands"
    [ "$(complete_words contain exec w)" = web ] && ok || bad "contain completion: container names"
    [ "$(complete_words contain stop 0123)" = 0123456789ab ] && ok || bad "contain completion: ids"
    [ "$(complete_words contain run -e X=1 ap)" = app:latest ] && ok || bad "contain completion: images"
    [[ $(complete_words contain run --vol) == --volume ]] && ok || bad "contain completion: run options"
    [[ $(complete_words contain run --net h) == host ]] && ok || bad "contain completion: --net"
    unset CONTAIN_ROOT
    rm -rf "$st"
else
    bad "bash completion contain"
fi
make -s uninstall DESTDIR="$dest" HELPERDIR=/sbin >/dev/null || bad "make uninstall"
left=$(find "$dest" -type f -o -type l | wc -l)
[ "$left" = 0 ] && ok || bad "uninstall left $left files"
echo "install: $pass passed, $fail failed"
[ "$fail" = 0 ]
