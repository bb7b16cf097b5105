# shellcheck shell=bash
# contain's chain.sh: contain's own exec chain of the tools (`run --runtime contain`, or
# CONTAIN_RUNTIME=contain), the container run without an OCI runtime or a bundle:
#   unshare-rs NAMESPACES -- cgset GROUP -- unionmount LAYERS ROOT --
#     chroot-rs --pivot --proc --dev --sys --harden -- ROOT CMD...
# (cgset comes after unshare-rs so that the namespaces are made outside the container's
# memory cgroup, as runc makes them: a new network namespace charged to a v1 memory cgroup
# costs about 1 ms more).  Read by run.sh's build_chain for such a container; never run alone.

# own_chain CID LOWERS...: the chain of container CID (its meta loaded) into CHAIN, the union
# of LOWERS (unionmount's --lower options) mounted on $ROOT/mnt in the container's own mount
# namespace (pivot_root leaves nothing of it in the host's view).
own_chain() {
	local cid=$1 c="$ROOT/containers/$1"
	local -a ns cr
	shift
	# The program is pid 1, as docker runs it (--init: chroot-rs's init, in the container).
	ns=(--fork --pid --mount --uts --ipc --no-init)
	# -t: chroot-rs sends the master of a pty of the container's devpts to unshare-rs, which
	# relays it to ours from outside the container: the program stays pid 1 (runc's
	# --console-socket)
	[ "${META[tty]}" = 1 ] && ns+=("--console-relay=$c/console.sock")
	# a session keyring of its own, as runc gives every container (chroot-rs --harden joins
	# one for the others)
	[ "${META[privileged]:-0}" = 1 ] && ns+=(--new-keyring)
	# (a user's slirp4netns container joins its holder's user namespace first: a second one
	# nested in it would leave root inside no power over the network namespace)
	[ "$ROOTLESS" = 1 ] && [ "${META[net]}" != slirp4netns ] && ns=(--user --map-root-user "${ns[@]}")
	# a network of net.sh's: its namespace, made and configured by net_up, joined first
	local -a pre=()
	case ${META[net]} in host) ;; none) ns+=(--net --loopback) ;; *) pre=("${NET_JOIN[@]}") ;; esac
	[ -n "${META[domainname]:-}" ] && ns+=(--domainname "${META[domainname]}")
	CHAIN=("${pre[@]}" "${TOOL[unshare-rs]}" "${ns[@]}" --json-status 9 --hostname "${META[hostname]}" --)
	# The devices cgroup: docker's default list, what each --device names and the
	# --device-cgroup-rule rules (a --privileged container gets every device).
	if use_cgroups; then
		local -a dev=()
		if [ "${META[privileged]:-0}" != 1 ]; then
			dev=(--device-default)
			local d
			if [ -s "$c/devices" ]; then
				while IFS= read -r d; do
					dev+=("--device-allow=${d%%:*}:${d##*:}")
				done <"$c/devices"
			fi
			for d in "${DEVRULES[@]}"; do dev+=("--device-cgroup-rule=$d"); done
		fi
		CHAIN+=("${TOOL[cgset]}" "${dev[@]}" "./$CGPARENT/$cid" --)
	fi
	CHAIN+=("${TOOL[unionmount]}" "$@" --upper "$c/upper" --work "$c/work" "$ROOT/mnt" --)
	# chroot-rs --harden (runc's: docker's capabilities, masked paths, /dev noexec, a new
	# session keyring, a sealed copy of itself; in --chroot mode a switch_root-style change of
	# root that the chroot escape cannot undo), docker's seccomp profile, the --device nodes
	# made in the new root before anything runs there, and no descriptor above 2.
	# --privileged: none of it (every capability, nothing masked, the host's /dev).
	cr=("${TOOL[chroot-rs]}" --proc --sys --preserve-fds=0)
	# /sys/fs/cgroup: the container's own cgroups alone, read-only (v2: a cgroup namespace)
	use_cgroups && cr+=(--cgroupfs)
	[ "${META[mode]}" != chroot ] && cr+=(--pivot)
	if [ "${META[privileged]:-0}" = 1 ]; then
		cr+=(--host-dev)
	else
		cr+=(--dev --harden)
		case ${META[seccomp]:-default} in
		default | unconfined) cr+=("--seccomp=${META[seccomp]:-default}") ;;
		*) cr+=("--seccomp=$c/seccomp.json") ;;
		esac
		[ "${META[nnp]:-0}" = 1 ] && cr+=(--no-new-privs)
		if [ -s "$c/devices" ]; then
			local dv
			while IFS= read -r dv; do cr+=("--device=$dv"); done <"$c/devices"
		fi
	fi
	[ "${META[init]:-0}" = 1 ] && cr+=(--init)
	[ "${META[readonly]:-0}" = 1 ] && cr+=(--readonly)
	caps_split
	cr+=("${CAP_ADDS[@]/#/--cap-add=}" "${CAP_DROPS[@]/#/--cap-drop=}")
	local v
	for v in "${VOLUMES[@]}"; do
		# (a named volume: its directory in the store)
		[[ $v == /* ]] || v=$ROOT/volumes/${v%%:*}/_data:${v#*:}
		if [[ $v == *:ro ]]; then cr+=("--ro-bind=${v%:*}"); else cr+=("--bind=${v%:*}"); fi
	done
	[ -e "$c/hosts" ] && cr+=("--bind=$c/hosts:/etc/hosts" "--bind=$c/hostname:/etc/hostname" "--bind=$c/resolv.conf:/etc/resolv.conf")
	[ -n "${META[user]:-}" ] && cr+=("--run-as=${META[user]}")
	[ -n "${META[workdir]:-}" ] && cr+=("--chdir=${META[workdir]}")
	[ "${META[tty]}" = 1 ] && cr+=("--console-socket=$c/console.sock")
	# --tmpfs, --shm-size, --ulimit: links of their own (runmore.sh)
	[ -z "${META[tmpfs]:-}" ] && [ -z "${META[ulimit]:-}" ] || chain_tmpfs_ulimit
	CHAIN+=("${cr[@]}" -- "$ROOT/mnt" "${CMD[@]}")
}

