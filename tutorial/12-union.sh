#!/bin/bash
# 三 联合文件系统: A has a and x, B has b and x; funionfs -o dirs=./A:./B none ./C shows a, b and
# one x.  funionfs makes every branch read-write unless marked =ro, so an edit made through C
# lands in the branch that holds the file: C/a and C/x in A (A's x hides B's), C/b in B.
# unionmount serves that union from user space (FUSE): overlayfs has a single writable layer.
# Beside it, the overlay form (B read-only, what Docker's image layers are): every change lands
# in A, and B stays as it was.
. "$(dirname "$0")/lib.sh"
need_root
cd "$TUT_TMP" || exit 1
mkdir -p A B C
: >A/a
echo "A's x" >A/x
: >B/b
echo "B's x" >B/x
showsh "cd $TUT_TMP && find A B | sort"
show unionmount -o dirs=./A:./B none ./C || {
	bad "unionmount failed"
	finish
}
on_exit "unionmount -u $TUT_TMP/C"
showsh "grep ' $TUT_TMP/C ' /proc/self/mountinfo | sed 's/.* - //'"
showsh "cd $TUT_TMP && ls C"
check_eq "C has a, b and x once" "a b x" "$(ls C | tr '\n' ' ' | sed 's/ $//')"
check_eq "x is A's" "A's x" "$(cat C/x)"
showsh "echo hello >> C/a"
show cat C/a
show cat A/a
check_eq "the write through C is in A" hello "$(cat A/a)"
showsh "echo hello1 >> A/a"
show cat A/a
show cat C/a
check_eq "the write to A shows in C" "hello hello1" "$(cat C/a | tr '\n' ' ' | sed 's/ $//')"
showsh "echo hello >> C/b"
show cat B/b
check_eq "the write to C/b is in B, which holds b" hello "$(cat B/b)"
check "A has no copy of b" test ! -e A/b
showsh "echo hello >> C/x"
show cat A/x
check_eq "the write to C/x is in A, whose x C shows" "A's x hello" "$(cat A/x | tr '\n' ' ' | sed 's/ $//')"
check_eq "B's x is unchanged" "B's x" "$(cat B/x)"
showsh "echo new > C/new; ls A B"
check "a new file goes to the first branch, A" test -f A/new -a ! -e B/new
check "no work directory is left beside A" test ! -e .A.work
show unionmount -u C

title "the overlay form: B read-only, as Docker's layers are"
mkdir -p A2 B2
echo "A's x" >A2/x
: >A2/a
: >B2/b
echo "B's x" >B2/x
show unionmount -o dirs=./A2:./B2=ro none ./C || {
	bad "unionmount (overlay form) failed"
	finish
}
showsh "grep ' $TUT_TMP/C ' /proc/self/mountinfo | sed 's/.* - //'"
showsh "echo hello >> C/b"
show cat A2/b
check_eq "the write to C/b is copied up into A2" hello "$(cat A2/b)"
check "B2/b is unchanged" test ! -s B2/b
show unionmount -u C
check "unionmount -u removes the work directory it made beside A2" test ! -e .A2.work
finish
