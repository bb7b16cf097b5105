# shellcheck shell=bash
# contain's store.sh: the half of common.sh that a plain `contain run` does not reach: the store's
# lock, image and container lookups, a container's live state (cstate_v, monitor_lost), its
# meta read back (meta_load), whole-file writes (put), JSON and size helpers.  common.sh
# declares a stub of each function here that reads this file on its first call (see
# autoload there), and the front script reads it for the commands that use it.
# Read by the front script (contain) for the commands that need it; never run alone.

# write_nul FILE WORD...: the WORDs into FILE, each ended by a NUL (read_nul reads them).
write_nul() {
	local f=$1
	shift
	[ $# -eq 0 ] && {
		: >"$f"
		return
	}
	printf '%s\0' "$@" >"$f"
}

# parse_ref REF: split_ref, and true when NAME and TAG are valid.
parse_ref() {
	split_ref "$1"
	# (the tag's length apart: a {0,127} repetition costs bash 0.4 ms to compile per call)
	[[ $R_NAME =~ ^[a-z0-9]+([._/-]+[a-z0-9]+)*$ ]] && [ ${#R_TAG} -le 128 ] &&
		[[ $R_TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]]
}

# alive PID START: PID runs and is the process that started at START (never pid alone).
alive() {
	[ -n "$1" ] && [ -n "$2" ] && proc_start_v "$1" && [ "$R_START" = "$2" ]
}

# put FILE TEXT: FILE holds TEXT, whole or not changed: a temporary file beside it, renamed
# over it.  Status 1, with R_ERR, on an I/O error (ENOSPC).
put() {
	local t="$1.tmp$BASHPID"
	if { printf '%s' "$2" >"$t"; } 2>/dev/null && mv -f -- "$t" "$1" 2>/dev/null; then
		return 0
	fi
	rm -f -- "$t" 2>/dev/null
	R_ERR="cannot write ${1##*/} of the container: ${3:-an I/O error (is the disk full?)}"
	return 1
}

meta_load() {
	local k v
	META=()
	CGDIRS=()
	VOLUMES=()
	DEVRULES=()
	CMD=()
	META_CID=$1
	# (a container whose creation was cut short has none: Dead)
	[ -s "$ROOT/containers/$1/meta" ] || return 1
	while IFS=' ' read -r k v; do
		case $k in
		cgdir) CGDIRS+=("$v") ;;
		volume) VOLUMES+=("$v") ;;
		devrule) DEVRULES+=("$v") ;;
		*) META[$k]=$v ;;
		esac
	done <"$ROOT/containers/$1/meta"
	eval "CMD=(${META[cmd]:-})"
	if [ -n "${META[env]+x}" ]; then
		eval "CENV=(${META[env]})"
	else
		# made before contain kept an environment: docker's defaults
		CENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
			"HOSTNAME=${META[hostname]:-}" "HOME=/root")
	fi
	META_CID=$1
}

# One lock for the changes that span several entries of the state (images, tags, removal
# checks): fd 9 on $ROOT/.lock.  Creating a container needs none: its id is claimed by an
# atomic mkdir and its name by an exclusive create in $ROOT/names.
lock() {
	store_init
	exec 9>>"$ROOT/.lock" || die "cannot open $ROOT/.lock"
	flock 9 || die "cannot lock $ROOT/.lock"
}

unlock() {
	exec 9>&-
}

now() { echo "$EPOCHSECONDS"; }

# image_lookup REF: prints the full image id; returns 1 if none, 2 if ambiguous.
image_lookup() {
	image_find "$1" || return
	echo "$R_ID"
}

image_resolve() {
	image_resolve_v "$1"
	echo "$R_ID"
}

# cfile CID FIELD: prints the container's FIELD (its file, else its meta line).
cfile() {
	if [ -r "$ROOT/containers/$1/$2" ]; then
		echo "$(<"$ROOT/containers/$1/$2")"
		return 0
	fi
	local _cfv
	cread _cfv "$1" "$2" && echo "$_cfv"
}

# The host pid of the container's pid 1, from unshare-rs's status line in run, into R_INIT
# (empty while there is none).  A container run by an OCI runtime (a bundle): that line names
# the runtime's process, whose root is the host's, so the pid is the runtime's own record of
# the container's init (runc-rs's "pid", runc's "init_process_pid" in ROOT/runtime/CID/
# state.json), and none when the runtime keeps no such record (crun): never the host's root.
cinit_v() {
	local t=
	R_INIT=
	[ -r "$ROOT/containers/$1/run" ] || return 0
	IFS= read -r -d '' t <"$ROOT/containers/$1/run"
	# (bundle/config.json: a store of an earlier contain, whose bundle was a directory of its own)
	if ! [ -e "$ROOT/containers/$1/config.json" ] && ! [ -e "$ROOT/containers/$1/bundle/config.json" ]; then
		[[ $t =~ \"child-pid\":([0-9]+) ]] && R_INIT=${BASH_REMATCH[1]}
		return 0
	fi
	# A runtime's: once its chain runs (its "pid" line; the runtime's state of an earlier run,
	# killed before its own cleanup, is gone by then), the runtime's record.
	[[ $t == *$'\npid '[0-9]* ]] || return 0
	t=
	[ -r "$ROOT/runtime/$1/state.json" ] && IFS= read -r -d '' t <"$ROOT/runtime/$1/state.json"
	[[ $t =~ \"(init_process_)?pid\":([1-9][0-9]*) ]] && R_INIT=${BASH_REMATCH[2]}
	return 0
}

cinit() {
	cinit_v "$1"
	echo "$R_INIT"
}

cgroup_group() { echo "./$CGPARENT/$1"; }

sha256_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# container_resolve ARG: a name, a full id or a unique id prefix.
container_resolve() {
	local arg=$1 c m=() cid n
	for c in "$ROOT"/containers/*/; do
		cid=${c%/}
		cid=${cid##*/}
		cread n "$cid" name && [ "$n" = "$arg" ] && {
			echo "$cid"
			return 0
		}
	done
	if [[ $arg =~ ^[0-9a-f]{1,64}$ ]]; then
		for c in "$ROOT/containers/$arg"*/; do m+=("$(basename "$c")"); done
		[ ${#m[@]} -eq 1 ] && {
			echo "${m[0]}"
			return 0
		}
		[ ${#m[@]} -gt 1 ] && die "container id prefix '$arg' is ambiguous"
	fi
	die "Error: No such container: $arg"
}

# cstate_v CID: the live state into R_STATE: created, running, paused, exited or removed.
# Running means a monitor runs it: its run file names a live process (pid and start time).
# A run file whose monitor is gone (killed) is settled here first (monitor_lost), so that
# every command shows the same state.
cstate_v() {
	local c="$ROOT/containers/$1" m ms s
	R_STATE=removed
	[ -d "$c" ] || return 0
	# a creation cut short (or one under way, for a moment): no meta
	[ -s "$c/meta" ] || {
		R_STATE=dead
		return 0
	}
	if [ -e "$c/run" ]; then
		cread m "$1" mpid
		cread ms "$1" mstart
		if [ -z "$m" ] || alive "$m" "$ms"; then
			# (no mpid yet: a monitor between creating the file and writing it)
			R_STATE=running
			[ -e "$c/paused" ] && R_STATE=paused
			cread s "$1" status && [ "$s" = restarting ] && R_STATE=restarting
			[ -n "$m" ] || monitor_lost "$1" || return 0
			[ -e "$c/run" ] && return 0
		else
			monitor_lost "$1"
		fi
		[ -d "$c" ] || return 0
	fi
	cread s "$1" status || s=created
	R_STATE=$s
}

cstate() {
	cstate_v "$1"
	echo "$R_STATE"
}

# monitor_lost CID: the monitor of the container's run file is gone without recording the
# run's end (it was killed): end what is left of the run (the chain's first process, the
# container's processes, its cgroup and network) and record it as exited (255) with the
# reason in its state's error.  Serialized on the run file itself (a flock on it): the
# first of several callers settles it.  Status 1 when the monitor turns out to be alive.
monitor_lost() {
	local cid=$1 c="$ROOT/containers/$1" fd m ms p ps started mt rec=
	exec {fd}<"$c/run" 2>/dev/null || return 0
	flock "$fd" 2>/dev/null
	if ! [ "$c/run" -ef "/proc/self/fd/$fd" ]; then
		exec {fd}<&-
		return 0
	fi
	cread m "$cid" mpid
	cread ms "$cid" mstart
	if [ -z "$m" ]; then
		# a run file never written: a monitor killed between making it and writing it (or
		# one doing so now: left alone for 10 s)
		mt=$(stat -c %Y -- "$c/run" 2>/dev/null) || mt=0
		[ $((EPOCHSECONDS - mt)) -ge 10 ] || {
			exec {fd}<&-
			return 1
		}
	elif alive "$m" "$ms"; then
		exec {fd}<&-
		return 1
	fi
	# A monitor killed after recording the end, before removing its run file.
	[ -n "$m" ] && [ -r "$c/state" ] && grep -qx "mpid $m" "$c/state" && rec=1
	if [ -z "$rec" ]; then
		cread p "$cid" pid
		cread ps "$cid" pstart
		alive "$p" "$ps" && kill -KILL "$p" 2>/dev/null
		# the container's pid 1: started after the monitor, in a PID namespace of its own
		cinit_v "$cid"
		if [ -n "$R_INIT" ] && [ -n "$ms" ] && proc_start_v "$R_INIT" && [ "$R_START" -ge "$ms" ] &&
			! [ "/proc/$R_INIT/ns/pid" -ef /proc/self/ns/pid ]; then
			kill -KILL "$R_INIT" 2>/dev/null
		fi
		[ -e "$c/network" ] && net_load && net_down "$cid"
		cgroup_remove "$cid"
		cread started "$cid" started
		put "$c/state" "status exited
started ${started:-$EPOCHSECONDS}
exitcode 255
finished $EPOCHSECONDS
error the container's monitor was killed: its processes were ended and its exit status is lost
mpid $m
" || warn "$R_ERR"
		ev_container die "$cid" '"exitCode":"255"'
	fi
	rm -f -- "$c/run" "$c/paused"
	exec {fd}<&-
	local ar
	cread ar "$cid" autoremove
	[ "$ar" = 1 ] && remove_container "$cid"
	return 0
}

# json_str TEXT: TEXT as a JSON string; json_arr TEXT...: a JSON array of them.
json_str() {
	json_esc "$1"
	printf '"%s"' "$R_JSON"
}

json_arr() {
	local a o=""
	for a in "$@"; do
		json_esc "$a"
		o+=",\"$R_JSON\""
	done
	printf '[%s]' "${o#,}"
}

# size_bytes SIZE: docker's RAMInBytes (64m, 1g, 512k, 100b, 1.5g; 1024-based) into
# R_BYTES; -1 stays -1.
size_bytes() {
	local v=${1,,} m=1
	v=${v%b}
	case $v in
	-1) R_BYTES=-1 && return 0 ;;
	*k) m=1024 ;;
	*m) m=1048576 ;;
	*g) m=1073741824 ;;
	*t) m=1099511627776 ;;
	*p) m=1125899906842624 ;;
	esac
	[ $m = 1 ] || v=${v%?}
	[[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || {
		R_BYTES=0
		return 1
	}
	if [[ $v == *.* ]]; then
		R_BYTES=$(awk -v v="$v" -v m="$m" 'BEGIN { printf "%d", v * m }')
	else
		R_BYTES=$((v * m))
	fi
}
