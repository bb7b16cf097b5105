# shellcheck shell=bash
# contain's cp.sh: `contain cp` between a container's file system and the host, in both
# directions, through the container's root: every symbolic link of the container's path is
# resolved inside that root (an absolute one from the root, `..` stopping at it), never by
# the kernel from the host's view, so that a link the container planted cannot point the
# copy out of it.  A running container's root is /proc/PID/root; a stopped one's is its
# union (its layer over the image's), mounted for the copy in a mount namespace of its own.
# Read by the front script (contain) for the commands that need it; never run alone.

# cp_fail MESSAGE: docker's status for a failed copy (1).
cp_fail() {
	echo "contain: $*" >&2
	exit 1
}

# root_walk PATH FOLLOW LOOK: PATH (absolute in a container's root; "" and . skipped, ..
# stopping at the root) walked with every symbolic link on the way resolved inside that root
# (the last one too when FOLLOW is 1; an absolute one from the root; 40 at most), never by
# the kernel from the host's view.  LOOK P tells what the root has at P (a path in it): R_KIND
# link, none (the walk ends: status 1) or anything else, and R_AT, the host's path of that
# entry.  Into R_CUR the path reached in the root, R_KIND and R_AT as its last look left
# them; status 1 (R_ERR) on a loop or a link that cannot be read.  (cp_resolve's walk over a
# root the kernel shows, runtimemore.sh's rt_union_file's over an image's layers.)
root_walk() {
	local follow=$2 look=$3 cur="" c t hops=0
	local -a todo tp
	IFS=/ read -ra todo <<<"$1"
	while [ ${#todo[@]} -gt 0 ]; do
		c=${todo[0]}
		todo=("${todo[@]:1}")
		case $c in
		"" | .) continue ;;
		..)
			cur=${cur%/*}
			continue
			;;
		esac
		"$look" "$cur/$c"
		if [ "$R_KIND" = link ] && { [ ${#todo[@]} -gt 0 ] || [ "$follow" = 1 ]; }; then
			((++hops <= 40)) || {
				R_ERR="too many levels of symbolic links: $1"
				return 1
			}
			t=$(readlink -- "$R_AT") || {
				R_ERR="cannot read the symbolic link $cur/$c"
				return 1
			}
			[[ $t == /* ]] && cur=""
			IFS=/ read -ra tp <<<"$t"
			todo=("${tp[@]}" "${todo[@]}")
		elif [ "$R_KIND" = none ]; then
			return 1
		else
			cur+=/$c
		fi
	done
	R_CUR=$cur
}

# cp_resolve ROOT PATH FOLLOW: PATH (absolute in the container) as a host path under ROOT into
# R_PATH, every symbolic link on the way resolved inside ROOT (the last one too when FOLLOW
# is 1; root_walk).  Status 1 (R_ERR) on a loop.
cp_resolve() {
	CP_ROOT=$1
	root_walk "$2" "$3" cp_look || return 1
	R_PATH=$1$R_CUR
}
# cp_look P: root_walk's LOOK for a root the kernel shows (CP_ROOT): a link or not, at
# CP_ROOT/P (a missing entry is walked on: the copy says what is missing).
cp_look() {
	R_AT=$CP_ROOT$1
	if [ -L "$R_AT" ]; then R_KIND=link; else R_KIND=entry; fi
}

# contain cp [-a] [-L] [-q] SRC DEST: one of them CONTAINER:PATH, the other a host path
# (docker cp's rules: a directory DEST receives SRC by its name, SRC/. copies a directory's
# contents, a missing DEST is created as SRC's copy).
cmd_cp() {
	local archive=0 follow=0 a
	local -a args=()
	while [ $# -gt 0 ]; do
		case $1 in
		-a | --archive) archive=1 ;;
		-L | --follow-link) follow=1 ;;
		-q | --quiet) ;;
		-aL | -La) archive=1 follow=1 ;;
		--help) echo "Usage: contain cp [-a] [-L] CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH" && return 0 ;;
		--) shift && args+=("$@") && break ;;
		-?*) cp_fail "cp: unknown flag: $1" ;;
		*) args+=("$1") ;;
		esac
		shift
	done
	[ ${#args[@]} -eq 2 ] || cp_fail "\"contain cp\" requires exactly 2 arguments (see 'contain cp --help')"
	local src=${args[0]} dst=${args[1]} dir cref cpath hpath
	# CONTAINER:PATH, as docker tells it from a host path: a colon before any slash
	cp_side() { [[ $1 == [!/.]*:* ]] && [[ ${1%%:*} != */* ]]; }
	if cp_side "$src" && cp_side "$dst"; then
		cp_fail "copying between containers is not supported"
	elif cp_side "$src"; then
		dir=from cref=${src%%:*} cpath=${src#*:} hpath=$dst
	elif cp_side "$dst"; then
		dir=to cref=${dst%%:*} cpath=${dst#*:} hpath=$src
	else
		cp_fail "must specify at least one container source"
	fi
	[ -n "$cpath" ] || cp_fail "cp: the container path is empty"
	[[ $cpath == /* ]] || cpath=/$cpath
	store_init
	local cid
	cid=$( (container_resolve "$cref") 2>/dev/null) || cp_fail "Error: No such container: $cref"
	if [ "$dir" = to ]; then
		[ "$hpath" = - ] || [ -e "$hpath" ] || [ -L "$hpath" ] ||
			cp_fail "could not find the file $hpath on the host: no such file or directory"
		[ "$(cfile "$cid" readonly)" = 1 ] && ! [ "$hpath" = - ] &&
			cp_fail "container rootfs is marked read-only"
	fi
	case $(cstate "$cid") in
	running | paused)
		local init
		init=$(cinit "$cid")
		[ -n "$init" ] && [ -d "/proc/$init/root" ] || cp_fail "container ${cid:0:12} has no process to copy through"
		cp_do "$dir" "/proc/$init/root" "$cpath" "$hpath" "$follow" "$archive" "$cref"
		;;
	*)
		# a stopped container: its union, mounted in a mount namespace of our own
		meta_load "$cid"
		tool_paths
		local c="$ROOT/containers/$cid" h
		local -a ls lowers=()
		mapfile -t ls <"$ROOT/images/${META[image]}/layers"
		for ((h = ${#ls[@]} - 1; h >= 0; h--)); do lowers+=(--lower "$ROOT/layers/${ls[h]}/fs"); done
		local -a ns=(--mount)
		[ "$ROOTLESS" = 1 ] && ns=(--user --map-root-user --mount)
		# (a relative host path is the caller's: the copy runs from the same directory)
		"${TOOL[unshare-rs]}" "${ns[@]}" -- "${TOOL[unionmount]}" "${lowers[@]}" --upper "$c/upper" \
			--work "$c/work" "$ROOT/mnt" -- "$BASH" "$0" __cp "$dir" "$ROOT/mnt" "$cpath" "$hpath" \
			"$follow" "$archive" "$cref"
		;;
	esac
}

# cp_do from|to ROOT CPATH HOSTPATH FOLLOW ARCHIVE NAME: the copy, ROOT being the container's
# root as this process sees it.
cp_do() {
	local dir=$1 root=$2 cpath=$3 hpath=$4 follow=$5 archive=$6 name=$7 contents=0
	local -a own=(--no-same-owner)
	[ "$archive" = 1 ] && own=(--same-owner)
	if [ "$dir" = from ]; then
		[[ $cpath == */. ]] && contents=1
		cp_resolve "$root" "$cpath" "$follow" || cp_fail "$R_ERR"
		local s=$R_PATH
		[ -e "$s" ] || [ -L "$s" ] || cp_fail "Could not find the file $cpath in container $name"
		if [ "$hpath" = - ]; then
			# a tar archive of it on stdout, as docker cp writes one
			if [ $contents = 1 ]; then
				tar --numeric-owner -C "$s" -cf - .
			else
				tar --numeric-owner -C "${s%/*}/" -cf - -- "${s##*/}"
			fi
			return
		fi
		[ -d "$s" ] && ! [ -L "$s" ] && [ -e "$hpath" ] && ! [ -d "$hpath" ] &&
			cp_fail "cannot copy directory to a file: $hpath"
		[ -e "$hpath" ] || [[ $hpath != */ ]] || cp_fail "destination directory $hpath does not exist"
		local -a cpo=(-R -P --preserve=mode,timestamps,links)
		[ "$archive" = 1 ] && cpo=(-a)
		if [ $contents = 1 ] && [ -d "$s" ]; then
			[ -d "$hpath" ] || mkdir -- "$hpath" || cp_fail "cannot create $hpath"
			cp "${cpo[@]}" -- "$s/." "$hpath" || cp_fail "copying $cpath failed"
		else
			cp "${cpo[@]}" -- "$s" "$hpath" || cp_fail "copying $cpath failed"
		fi
		return
	fi
	# into the container: the destination is resolved inside its root (its last link too, as
	# docker resolves it); what is made below it comes from a tar stream that replaces any
	# link met on the way (GNU tar unlinks a member's existing file or link, and replaces a
	# link by a directory member), so nothing is written through a link of the container.
	cp_resolve "$root" "$cpath" 1 || cp_fail "$R_ERR"
	local d=$R_PATH target name_in
	local -a tarc
	if [ "$hpath" = - ]; then
		[ -d "$d" ] || cp_fail "destination \"$name:$cpath\" must be a directory"
		tar -C "$d" -x "${own[@]}" -f - || cp_fail "extracting into $cpath failed"
		return
	fi
	[[ $hpath == */. ]] && [ -d "$hpath" ] && contents=1
	if [ -d "$d" ]; then
		target=$d
		if [ $contents = 1 ]; then
			tarc=(-C "$hpath" .)
		else
			local hb=${hpath%/}
			hb=${hb##*/}
			[ -n "$hb" ] || hb=.
			tarc=(-C "$(dirname -- "$hpath")" -- "$hb")
			[ "$hb" = . ] && tarc=(-C "$hpath" .)
		fi
		tar --numeric-owner -cf - "${tarc[@]}" | tar -C "$target" -x "${own[@]}" -f - ||
			cp_fail "copying into $cpath failed"
		return
	fi
	# a new name (or an existing file): made in its parent, which must be a directory
	target=${d%/*}
	name_in=${d##*/}
	[ -d "$target/" ] || cp_fail "no such directory: ${cpath%/*}"
	[[ $cpath == */ ]] && ! [ -d "$hpath" ] && cp_fail "destination directory $cpath does not exist"
	if [ -e "$d" ] && [ -d "$hpath" ]; then
		cp_fail "cannot copy a directory to a file: $cpath"
	fi
	# staged under the new name in our own directory, then streamed in
	local stage
	stage=$(mktemp -d "$ROOT/tmp/cp.XXXXXX") || cp_fail "cannot make a work directory"
	trap 'rm -rf -- "$stage"' EXIT
	if [ -d "$hpath" ]; then
		cp -a -- "$hpath" "$stage/$name_in" || cp_fail "cannot read $hpath"
	else
		cp -a -P -- "$hpath" "$stage/$name_in" || cp_fail "cannot read $hpath"
	fi
	tar --numeric-owner -C "$stage" -cf - -- "$name_in" | tar -C "$target" -x "${own[@]}" -f - ||
		cp_fail "copying into $cpath failed"
}
