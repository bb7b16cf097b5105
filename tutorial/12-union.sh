#!/bin/bash
# 三 联合文件系统: A has a and x, B has b and x; funionfs -o dirs=./A:./B none ./C shows a, b and
# one x; a write through C lands in A, and a write to A shows in C.
. "$(dirname "$0")/lib.sh"
need_root
cd "$TUT_TMP" || exit 1
mkdir -p A B C
echo "A's x" >A/x
: >A/a
: >B/b
echo "B's x" >B/x
showsh "cd $TUT_TMP && find A B | sort"
printf '%s[root@xingdian ~]# %s%s\n' "$B" "unionmount -o dirs=./A:./B none ./C" "$N"
unionmount -o dirs=./A:./B none ./C || {
	bad "unionmount failed"
	finish
}
on_exit "unionmount -u $TUT_TMP/C"
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
check "B is unchanged" test ! -s B/a -a "$(cat B/x)" = "B's x"
finish
