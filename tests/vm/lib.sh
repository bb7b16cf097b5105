# lib.sh: helpers for the test scripts that cttest::vm runs in the VM
# (sourced before /vm/test.sh; busybox sh).
#
#   vm_result NAME ok|fail [DETAIL...]   report one result
#   vm_check NAME COMMAND [ARG...]       run COMMAND; ok when it exits 0,
#                                        detail = its last output line
#   vm_expect NAME EXPECTED ACTUAL       ok when the two strings are equal
#   vm_info KEY VALUE...                 report a measured figure
#   vm_cat FILE                          the file's content on one line
# NAME is one word (spaces become '_').  Results also go to the console, so
# the console log reads as a test transcript.

vm_mark() { echo "$*" >>"${CTOOLS_MARK:-/dev/console}"; }

vm_result() {
    _n=$(echo "$1" | tr ' ' '_'); _s=$2; shift 2
    _d=$(echo "$*" | tr '\n' ' ')
    echo "CTOOLS-RESULT $_n $_s $_d"
    [ "${CTOOLS_MARK:-/dev/console}" = /dev/console ] || vm_mark "CTOOLS-RESULT $_n $_s $_d"
}

vm_info() {
    _k=$1; shift
    echo "CTOOLS-INFO $_k $*"
    [ "${CTOOLS_MARK:-/dev/console}" = /dev/console ] || vm_mark "CTOOLS-INFO $_k $*"
}

vm_check() {
    _name=$1; shift
    _out=$("$@" 2>&1); _rc=$?
    _last=$(echo "$_out" | tail -n 1)
    if [ $_rc -eq 0 ]; then
        vm_result "$_name" ok "$_last"
    else
        vm_result "$_name" fail "exit $_rc: $_last"
    fi
    return $_rc
}

vm_expect() {
    if [ "$2" = "$3" ]; then
        vm_result "$1" ok "$3"
    else
        vm_result "$1" fail "expected '$2', got '$3'"
    fi
}

vm_cat() { tr '\n' ' ' <"$1" | sed 's/ *$//'; }
