# shellcheck shell=bash
# contain's common.sh: the store the commands share: its layout, names, image references, a
# container's stored settings and state, the lock, cgroups, the tools' paths and the
# environment a chain runs with.
# Read by the front script (contain) for the commands that need it; never run alone.

# Store layout, created on first use.
store_init() {
	[ -d "$ROOT/containers" ] && [ -d "$ROOT/names" ] && [ -d "$ROOT/tmp" ] &&
		[ -d "$ROOT/mnt" ] && [ -e "$ROOT/repositories" ] && return 0
	mkdir -p "$ROOT/blobs/sha256" "$ROOT/layers" "$ROOT/images" "$ROOT/containers" \
		"$ROOT/names" "$ROOT/tmp" "$ROOT/mnt" || die "cannot create the state directory $ROOT"
	[ -e "$ROOT/repositories" ] || : >>"$ROOT/repositories"
}

# Read a NUL-separated file into the array named $1.
read_nul() {
	local -n _arr=$1
	_arr=()
	[ -s "$2" ] || return 0
	mapfile -d '' -t _arr <"$2"
}

# A readable random name, docker style: adjective_scientist, into R_RANDOM_NAME.
random_name_v() {
	local adj=(admiring adoring affectionate amazing awesome blissful bold brave busy clever
		compassionate competent confident cool dazzling determined eager ecstatic elastic
		elated elegant epic festive focused friendly gallant gifted gracious happy hopeful
		jolly keen kind laughing loving lucid magical modest nice nifty nostalgic optimistic
		peaceful pensive practical quirky relaxed serene sharp sleepy stoic strange sweet
		tender trusting upbeat vibrant wizardly xenodochial youthful zealous)
	local who=(albattani allen archimedes babbage bell bohr brahmagupta cannon curie darwin
		dijkstra einstein euclid euler fermat feynman franklin galileo gauss goldberg hamilton
		hopper hypatia joliot kepler knuth lamport lovelace mayer mccarthy meitner mendel
		newton noether pascal pasteur poincare ritchie shannon stallman thompson torvalds
		turing wiles wozniak yalow zhukovsky)
	local r=$SRANDOM
	R_RANDOM_NAME="${adj[r % ${#adj[@]}]}_${who[(r / 97) % ${#who[@]}]}"
}

# name_claim NAME CID: make NAME container CID's, atomically ($ROOT/names/NAME holds the id).
# Fails, with R_HOLDER set, when another existing container has it; a name whose container is
# gone (a crash between removal and release) is taken over.  Status 2 on an I/O error.
name_claim() {
	local f="$ROOT/names/$1" rc
	R_HOLDER=
	set -C
	{ echo "$2" >"$f"; } 2>/dev/null
	rc=$?
	set +C
	[ $rc = 0 ] && return 0
	# made but not written: the disk is full (status 2)
	[ -e "$f" ] && ! [ -s "$f" ] && rm -f -- "$f" && return 2
	IFS= read -r R_HOLDER <"$f" 2>/dev/null
	if [ -n "$R_HOLDER" ] && [ -d "$ROOT/containers/$R_HOLDER" ] && [ "$R_HOLDER" != "$2" ]; then
		return 1
	fi
	echo "$2" >"$f"
}
# name_release NAME CID: drop NAME if CID holds it.
name_release() {
	local f="$ROOT/names/$1" o=
	[ -n "$1" ] && [ -e "$f" ] || return 0
	IFS= read -r o <"$f" 2>/dev/null
	[ "$o" = "$2" ] && rm -f -- "$f"
	return 0
}

# This process's own cgroup directory for every controller contain uses, into CG_OWN: the v1
# hierarchy's, else the v2 directory (listed once).  From /proc/self/cgroup, without a fork.
CG_CONTROLLERS="cpu cpuacct memory blkio pids freezer cpuset devices"
CG_OWN=()
cg_own_dirs() {
	[ ${#CG_OWN[@]} -gt 0 ] && return 0
	local line ctrls path c v2= v2used=0
	local -a lines
	local -A own=()
	# (mapfile: `read` takes a file that cannot seek, as procfs's, a byte per system call)
	mapfile -t lines </proc/self/cgroup
	for line in "${lines[@]}"; do
		ctrls=${line#*:}
		path=${ctrls#*:}
		ctrls=${ctrls%%:*}
		[ -z "$ctrls" ] && v2=$path
		for c in ${ctrls//,/ }; do own[$c]=$path; done
	done
	for c in $CG_CONTROLLERS; do
		if [ -n "${own[$c]+set}" ] && [ -d "/sys/fs/cgroup/$c" ]; then
			path=${own[$c]}
			CG_OWN+=("/sys/fs/cgroup/$c${path%/}")
		elif [ $v2used = 0 ] && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
			CG_OWN+=("/sys/fs/cgroup${v2%/}")
			v2used=1
		fi
	done
}

# split_ref REF: sets R_NAME and R_TAG (NAME alone means NAME:latest), unchecked.
split_ref() {
	local ref=$1 last=${1##*:}
	if [ "$last" != "$ref" ] && [ "${last#*/}" = "$last" ]; then
		R_NAME=${ref%:*}
		R_TAG=$last
	else
		R_NAME=$ref
		R_TAG=latest
	fi
}

# image_find REF: R_ID = the full image id of a tag or unique id prefix; returns 1 if none,
# 2 if ambiguous.
image_find() {
	local ref=$1 n t i m
	R_ID=
	# (the stored tags are valid: a ref equal to one needs no check)
	split_ref "$ref"
	while read -r n t i; do
		[ "$n" = "$R_NAME" ] && [ "$t" = "$R_TAG" ] && {
			R_ID=$i
			return 0
		}
	done <"$ROOT/repositories"
	ref=${ref#sha256:}
	[[ $ref =~ ^[0-9a-f]{1,64}$ ]] || return 1
	m=("$ROOT/images/$ref"*)
	[ ${#m[@]} -eq 1 ] && {
		R_ID=${m[0]##*/}
		return 0
	}
	[ ${#m[@]} -gt 1 ] && return 2
	return 1
}
# image_resolve_v REF: R_ID = the image, or die with docker's message.
image_resolve_v() {
	local rc=0
	image_find "$1" || rc=$?
	case $rc in
	0) ;;
	2) die "image id prefix '$1' is ambiguous" ;;
	*)
		parse_ref "$1" && die "Unable to find image '$R_NAME:$R_TAG' locally"
		die "Unable to find image '$1' locally"
		;;
	esac
}
# A container's state is in as few files as can be, because on a journaling file system a
# file costs 0.1 to 0.2 ms to create and 0.25 to 0.9 ms to remove:
#   meta  the fields fixed at creation, "KEY VALUE" lines: META_KEYS, the command (cmd) and
#         the environment (env, NAME=VALUE words), each shell-quoted, one "cgdir DIR" line
#         per cgroup directory and one "volume SRC:DEST:ro|rw" line per -v;
#   run   exists while a monitor runs the container, and is its lock on the container's
#         layer: the monitor creates it exclusively (a second one cannot), RUN_KEYS: its pid
#         and start time (mpid, mstart: /proc/PID/stat's field 22, so that a pid the kernel
#         gave again is never taken for it), the chain's first process (pid, pstart);
#         unshare-rs appends its --json-status lines to it (the host pid of the container's
#         pid 1).  Removed by the monitor once the run's end is recorded in state;
#   state the end of the last run (or "status created"), STATE_KEYS, written whole (a
#         temporary file renamed over it) and only while no run file is there;
#   restartcount, paused, limits, devices, log: a file each, when there is one.
META_KEYS=" name image imageref created hostname net mode autoremove interactive tty user workdir readonly privileged caps env cmd init stopsignal seccomp nnp domainname runtime restart "
RUN_KEYS=" status started mpid mstart pid pstart "
STATE_KEYS=" status started exitcode finished error oomkilled mpid "
# cread VAR CID FIELD: VAR = the container's FIELD (empty, status 1, when it has none).
cread() {
	local -n _cr=$1
	_cr=
	local _crd="$ROOT/containers/$2" _crf _crk _crv
	if [ -r "$_crd/$3" ]; then
		IFS= read -r _cr <"$_crd/$3"
		return 0
	fi
	if [[ $META_KEYS == *" $3 "* ]]; then
		_crf=$_crd/meta
	elif [[ $RUN_KEYS == *" $3 "* ]] && [ -e "$_crd/run" ]; then
		_crf=$_crd/run
	elif [[ $STATE_KEYS == *" $3 "* ]]; then
		_crf=$_crd/state
	else
		return 1
	fi
	[ -r "$_crf" ] || return 1
	while IFS=' ' read -r _crk _crv; do
		[ "$_crk" = "$3" ] && {
			_cr=$_crv
			return 0
		}
	done <"$_crf"
	return 1
}

# proc_start_v PID: the start time of process PID (field 22 of /proc/PID/stat, in clock ticks
# since boot) into R_START; status 1 when there is no such process (or only its zombie).
proc_start_v() {
	local -a _l _f
	local IFS=$' \t\n'
	R_START=
	[ -n "$1" ] || return 1
	mapfile -t _l 2>/dev/null <"/proc/$1/stat" || return 1
	[ ${#_l[@]} -gt 0 ] || return 1
	# (after the command's name, in parentheses, which may hold anything)
	_f=(${_l[0]##*) })
	[ "${_f[0]}" != Z ] && [ "${_f[0]}" != X ] || return 1
	R_START=${_f[19]:-}
	[ -n "$R_START" ]
}

# A container's settings: its meta (META; its cgdir, volume and devrule lines in CGDIRS,
# VOLUMES and DEVRULES), its command (CMD) and environment (CENV), as cmd_run made them or
# meta_load read them back (store.sh).
declare -gA META=()
META_CID=
CGDIRS=()
VOLUMES=()
DEVRULES=()
CMD=()
CENV=()
use_cgroups() { [ "$ROOTLESS" = 0 ] && [ "${CONTAIN_NO_CGROUPS:-0}" != 1 ]; }

# Remove the container's cgroup everywhere.  Our parent group stays, as docker's does: making
# it again for every container would cost a mkdir and an rmdir per hierarchy.
cgroup_remove() {
	local cid=$1 d i p
	use_cgroups || return 0
	[ "$META_CID" = "$cid" ] || meta_load "$cid"
	if [ ${#CGDIRS[@]} -eq 0 ]; then
		# (no meta: where its cgroup would be)
		cg_own_dirs
		CGDIRS=("${CG_OWN[@]/%//$CGPARENT/$cid}")
	fi
	# The container's processes have usually ended with its pid 1: rmdir is enough (a
	# builtin where bash's loadable rmdir is installed; it takes no "--", and these paths
	# are absolute; it goes on past a directory it cannot remove); cgset kills and removes
	# the rest.
	# (an OCI runtime, runc-rs's delete, has removed them already: nothing to remove)
	local -a left=() procs
	for d in "${CGDIRS[@]}"; do [ -d "$d" ] && left+=("$d"); done
	[ ${#left[@]} -gt 0 ] || return 0
	rmdir "${left[@]}" 2>/dev/null && return 0
	cgset --delete --kill "./$CGPARENT/$cid" >/dev/null 2>&1
	for d in "${left[@]}"; do
		[ -d "$d" ] || continue
		# A memory cgroup stays busy while its killed processes free their memory: retry
		# for up to 5 s.
		for ((i = 0; i < 100; i++)); do
			procs=()
			[ -r "$d/cgroup.procs" ] && mapfile -t procs <"$d/cgroup.procs"
			for p in "${procs[@]}"; do kill -9 "$p" 2>/dev/null; done
			rmdir "$d" 2>/dev/null && break
			[ -d "$d" ] || break
			sleep 0.05
		done
	done
	return 0
}

# The chain's tools by absolute path, in the array TOOL: the chain runs with the container's
# environment, whose PATH need not find them.  (hash looks them up without a fork.)
declare -gA TOOL=()
tool_paths() {
	local t
	for t in unshare-rs cgset unionmount chroot-rs "$@"; do
		[ -n "${TOOL[$t]:-}" ] && continue
		hash "$t" 2>/dev/null || die "cannot find $t in PATH (make install puts the tools in /usr/local/bin and /usr/local/sbin)"
		TOOL[$t]=${BASH_CMDS[$t]}
	done
}

# with_env CMD...: run CMD with the container's environment CENV and nothing else of ours:
# every variable bash was given unexported (their names from /proc/self/environ, one builtin
# call), exported functions too, and the ones bash exports itself; then exec.  Call it in a
# ( ) subshell: bash's exec adds SHLVL back anywhere else.  (A variable whose name bash cannot
# hold, like A-B, is passed on: only a new process could drop it.)
# Every descriptor above 2 is closed first but KEEP_FD's (the status descriptor of run's
# unshare-rs): nothing the caller opened reaches the chain, nor the container; except where
# FDS_CLOSED_BY_CHAIN is set: the chain's last link closes them itself (run_once's own chain).
KEEP_FD= FDS_CLOSED_BY_CHAIN=
close_fds() {
	local _f
	for _f in /proc/self/fd/*; do
		_f=${_f##*/}
		[ "$_f" -gt 2 ] && [ "$_f" != 255 ] && [ "$_f" != "$KEEP_FD" ] && [ -e "/proc/self/fd/$_f" ] &&
			exec {_f}>&-
	done
	return 0
}
with_env() {
	local -a _env
	local _f
	[ -n "$FDS_CLOSED_BY_CHAIN" ] || close_fds
	mapfile -d '' -t _env </proc/self/environ
	export -n "${_env[@]%%=*}" PWD OLDPWD _ 2>/dev/null
	# (the exported functions' names: a loop over the environment only when there is one)
	[[ ${_env[*]} == *BASH_FUNC_* ]] && for _f in "${_env[@]}"; do
		[[ $_f == BASH_FUNC_* ]] || continue
		_f=${_f%%=*}
		_f=${_f#BASH_FUNC_}
		export -nf "${_f%\%\%}" 2>/dev/null
	done
	unset SHLVL
	[ ${#CENV[@]} -gt 0 ] && export "${CENV[@]}"
	exec "$@"
}

# image_file IMAGE PATH: PATH (relative) in IMAGE's union of layers into R_FILE, a regular
# file of one of its layers; status 1 when there is none.  No link of a layer is followed on
# the host: a link on the way (an image's /etc/passwd -> /etc/shadow) is resolved inside the
# image's root, as the container would see it, by runtime.sh's union walk; so are the
# whiteouts and opaque directories of an image of several layers.  An image of one layer
# whose PATH has no link on the way (the common case) is looked at directly.
image_file() {
	local -a ls
	local h f p
	mapfile -t ls <"$ROOT/images/$1/layers"
	if [ ${#ls[@]} = 1 ]; then
		f=$ROOT/layers/${ls[0]}/fs
		p=$2
		while [ -n "$p" ]; do
			f+=/${p%%/*}
			[[ $p == */* ]] && p=${p#*/} || p=
			[ -L "$f" ] && break
		done
		if ! [ -L "$f" ]; then
			[ -f "$f" ] && R_FILE=$f && return 0
			return 1
		fi
	fi
	use runtime
	RT_LAYERS=()
	for ((h = ${#ls[@]} - 1; h >= 0; h--)); do RT_LAYERS+=("$ROOT/layers/${ls[h]}/fs"); done
	rt_union_file "/$2"
}
remove_container() {
	local cid=$1 c="$ROOT/containers/$1" name
	[ -e "$c/network" ] && net_load && net_down "$cid"
	cgroup_remove "$cid"
	# the name first: a removal cut short leaves a container without its name file (its
	# name is in its meta), never a name file without its container
	cread name "$cid" name
	local img=${META[imageref]:-}
	[ "${META_CID:-}" = "$cid" ] || cread img "$cid" imageref
	name_release "$name" "$cid"
	rm -rf -- "${c:?}"
	# Overlayfs's work/work is mode 000 in a user namespace, and holds a directory of its own
	# with volatile: the user (not root) may remove it only once it is readable again.
	if [ -e "$c" ]; then
		chmod -R u+rwx -- "$c" 2>/dev/null
		rm -rf -- "$c"
	fi
	[ -e "$c" ] && warn "cannot remove $c entirely"
	ev_emit container destroy "$cid" "\"image\":\"$img\",\"name\":\"$name\"" "$img"
	return 0
}

# json_esc TEXT: TEXT escaped for the inside of a JSON string (quote, backslash, control
# characters) into R_JSON, with bash alone: the log writers call it for every line.
json_esc() {
	local s=${1//\\/\\\\} o="" i c
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	if [[ $s == *[$'\001'-$'\037'$'\177']* ]]; then
		for ((i = 0; i < ${#s}; i++)); do
			c=${s:i:1}
			case $c in [$'\001'-$'\037'$'\177']) printf -v c '\\u%04x' "'$c" ;; esac
			o+=$c
		done
		s=$o
	fi
	R_JSON=$s
}

# Read on first use: bash parses a whole file as it reads it, and a start of a container would
# pay for code it never runs.  Each function of store.sh is a stub here: its first call reads
# the file, which defines the function over the stub, and calls it.
write_nul() { use store && write_nul "$@"; }
parse_ref() { use store && parse_ref "$@"; }
alive() { use store && alive "$@"; }
put() { use store && put "$@"; }
meta_load() { use store && meta_load "$@"; }
lock() { use store && lock "$@"; }
unlock() { use store && unlock "$@"; }
now() { use store && now "$@"; }
image_lookup() { use store && image_lookup "$@"; }
image_resolve() { use store && image_resolve "$@"; }
cfile() { use store && cfile "$@"; }
cinit_v() { use store && cinit_v "$@"; }
cinit() { use store && cinit "$@"; }
cgroup_group() { use store && cgroup_group "$@"; }
sha256_of() { use store && sha256_of "$@"; }
container_resolve() { use store && container_resolve "$@"; }
cstate_v() { use store && cstate_v "$@"; }
cstate() { use store && cstate "$@"; }
monitor_lost() { use store && monitor_lost "$@"; }
json_str() { use store && json_str "$@"; }
json_arr() { use store && json_arr "$@"; }
size_bytes() { use store && size_bytes "$@"; }

# ev_emit TYPE ACTION ID ATTRIBUTES [FROM]: one event in the store's journal ($ROOT/events),
# in Docker's shape (ATTRIBUTES: JSON members; the values contain writes are names, ids and
# numbers, which need no escaping), a line written by one write(2) in append mode, so that
# writers at once never interleave; no process started.  On about one event in 64 (each one
# with CONTAIN_EVENTS_MAX set) the journal's size is looked at: the position of our descriptor
# after the append (its end, from /proc/self/fdinfo: no process), and past CONTAIN_EVENTS_MAX
# bytes (1 MiB) ev_rotate (events.sh) moves it.
ev_emit() {
	local t=${EPOCHREALTIME/./} s= fd p=0 l
	[ "$1" = volume ] || s="\"status\":\"$2\",\"id\":\"$3\",${5:+\"from\":\"$5\",}"
	printf -v l '{%s"Type":"%s","Action":"%s","Actor":{"ID":"%s","Attributes":{%s}},"scope":"local","time":%s,"timeNano":%s000}\n' \
		"$s" "$1" "$2" "$3" "$4" "${t:0:${#t}-6}" "$t"
	if [ $((t % 64)) != 0 ] && [ -z "${CONTAIN_EVENTS_MAX:-}" ]; then
		printf '%s' "$l" 2>/dev/null >>"$ROOT/events"
		return 0
	fi
	{ exec {fd}>>"$ROOT/events"; } 2>/dev/null || return 0
	printf '%s' "$l" >&$fd 2>/dev/null
	while read -r s l; do [ "$s" = pos: ] && p=$l && break; done <"/proc/self/fdinfo/$fd"
	exec {fd}>&-
	[ "$p" -gt "${CONTAIN_EVENTS_MAX:-1048576}" ] 2>/dev/null && ev_rotate
	return 0
}
# ev_container ACTION CID [ATTRIBUTES]: a container's event, with its image and name.
ev_container() {
	local n=${META[name]:-} i=${META[imageref]:-}
	[ "${META_CID:-}" = "$2" ] || {
		cread n "$2" name
		cread i "$2" imageref
	}
	ev_emit container "$1" "$2" "${3:+$3,}\"image\":\"$i\",\"name\":\"$n\"" "$i"
}
ev_rotate() { use events && ev_rotate "$@"; }
