# shellcheck shell=bash
# contain's output.sh: what the commands print: time, size and JSON formatting, `ps`,
# `inspect`, `logs`, `stats`, `top` and the help.
# Read by the front script (contain) for the commands that need it; never run alone.

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# "5 seconds", "About a minute", "3 hours" like docker's units.HumanDuration.
human_duration() {
	local s=$1
	if [ "$s" -lt 1 ]; then
		echo "Less than a second"
	elif [ "$s" -eq 1 ]; then
		echo "1 second"
	elif [ "$s" -lt 60 ]; then
		echo "$s seconds"
	elif [ "$s" -lt 120 ]; then
		echo "About a minute"
	elif [ "$s" -lt 3600 ]; then
		echo "$((s / 60)) minutes"
	elif [ "$s" -lt 7200 ]; then
		echo "About an hour"
	elif [ "$s" -lt 172800 ]; then
		echo "$((s / 3600)) hours"
	else
		echo "$((s / 86400)) days"
	fi
}
ago() { echo "$(human_duration $(($(now) - $1))) ago"; }
# Decimal sizes as docker prints them (units.HumanSize): 1.23MB.
human_size() {
	awk -v b="$1" 'BEGIN { split("B kB MB GB TB", u, " "); i = 1;
		while (b >= 1000 && i < 5) { b /= 1000; i++ }
		if (i == 1) printf "%dB\n", b; else printf "%.3g%s\n", b, u[i] }'
}
# Binary sizes for memory: 1.5MiB.
human_bin() {
	awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); i = 1;
		while (b >= 1024 && i < 5) { b /= 1024; i++ }
		if (i == 1) printf "%dB\n", b; else printf "%.4g%s\n", b, u[i] }'
}
json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	printf '"%s"' "$s"
}
json_arr() {
	local first=1 a
	printf '['
	for a in "$@"; do
		[ $first = 1 ] || printf ','
		first=0
		json_str "$a"
	done
	printf ']'
}
# contain top CONTAINER [PS-OPTIONS]: its processes (its cgroup's, or, without cgroups, its
# pid 1 and every descendant), listed by ps (-f unless PS-OPTIONS are given).
cmd_top() {
	[ $# -ge 1 ] || die "top: usage: contain top CONTAINER [PS-OPTIONS]"
	store_init
	local cid
	cid=$(container_resolve "$1") || exit
	shift
	case $(cstate "$cid") in running | paused) ;; *) die "Container ${cid:0:12} is not running" ;; esac
	local -a pids=()
	meta_load "$cid"
	if use_cgroups && [ ${#CGDIRS[@]} -gt 0 ] && [ -r "${CGDIRS[0]}/cgroup.procs" ]; then
		mapfile -t pids <"${CGDIRS[0]}/cgroup.procs"
	else
		local init p pp
		init=$(cinit "$cid")
		local -A kids=()
		for p in /proc/[0-9]*/stat; do
			read -r pp <"$p" 2>/dev/null || continue
			pp=${pp##*) }
			read -r _ pp _ <<<"$pp"
			p=${p#/proc/}
			kids[$pp]+=" ${p%/stat}"
		done
		local -a todo=("$init")
		while [ ${#todo[@]} -gt 0 ]; do
			p=${todo[0]}
			todo=("${todo[@]:1}")
			pids+=("$p")
			# shellcheck disable=SC2206
			todo+=(${kids[$p]:-})
		done
	fi
	[ ${#pids[@]} -gt 0 ] || die "Container ${cid:0:12} has no processes"
	local IFS=,
	if [ $# -gt 0 ]; then ps "$@" -p "${pids[*]}"; else ps -f -p "${pids[*]}"; fi
}
cmd_ps() {
	local all=0 quiet=0 a
	for a in "$@"; do
		case $a in
		-a | --all) all=1 ;;
		-q | --quiet) quiet=1 ;;
		-aq | -qa) all=1 && quiet=1 ;;
		*) die "ps: unknown option '$a'" ;;
		esac
	done
	store_init
	local c cid st status
	[ $quiet = 1 ] || printf '%-14s %-16s %-24s %-16s %-26s %s\n' "CONTAINER ID" IMAGE COMMAND CREATED STATUS NAMES
	local -a all_c=("$ROOT"/containers/*/)
	[ ${#all_c[@]} -gt 0 ] && mapfile -t all_c < <(ls -1td -- "${all_c[@]}")
	for c in "${all_c[@]}"; do
		cid=$(basename "$c")
		st=$(cstate "$cid")
		[ $all = 1 ] || [ "$st" = running ] || [ "$st" = paused ] || continue
		if [ $quiet = 1 ]; then
			echo "${cid:0:12}"
			continue
		fi
		case $st in
		running) status="Up $(human_duration $(($(now) - $(cfile "$cid" started))))" ;;
		paused) status="Up $(human_duration $(($(now) - $(cfile "$cid" started)))) (Paused)" ;;
		exited) status="Exited ($(cfile "$cid" exitcode || echo 255)) $(ago "$(cfile "$cid" finished || cfile "$cid" started)")" ;;
		*) status=Created ;;
		esac
		meta_load "$cid"
		local cs="\"${CMD[*]}\""
		[ ${#cs} -gt 22 ] && cs="${cs:0:20}…\""
		printf '%-14s %-16s %-24s %-16s %-26s %s\n' "${cid:0:12}" "$(cfile "$cid" imageref)" "$cs" \
			"$(ago "$(cfile "$cid" created)")" "$status" "$(cfile "$cid" name)"
	done
}
cmd_inspect() {
	[ $# -ge 1 ] || die "inspect: usage: contain inspect CONTAINER|IMAGE..."
	store_init
	local arg first=1
	printf '['
	for arg in "$@"; do
		[ $first = 1 ] || printf ','
		first=0
		local cid="" id=""
		cid=$( (container_resolve "$arg") 2>/dev/null) || cid=""
		if [ -z "$cid" ]; then
			id=$(image_lookup "$arg") || {
				echo "]"
				die "Error: No such object: $arg"
			}
			local tags=()
			mapfile -t tags < <(image_tags "$id")
			printf '\n  {"Id":"sha256:%s","RepoTags":%s,"Size":%s,"Layers":%s,"Config":%s}' "$id" \
				"$(json_arr "${tags[@]}")" "$(image_size "$id")" \
				"$(json_arr $(sed 's/^/sha256:/' "$ROOT/images/$id/layers"))" "$(cat "$ROOT/blobs/sha256/$id")"
			continue
		fi
		local c="$ROOT/containers/$cid" st code pid lowers="" h
		st=$(cstate "$cid")
		code=$(cfile "$cid" exitcode || echo 0)
		pid=$(cinit "$cid")
		pid=${pid:-0}
		[ "$st" = running ] || [ "$st" = paused ] || pid=0
		local -a cmd limits
		meta_load "$cid"
		cmd=("${CMD[@]}")
		read_nul limits "$c/limits"
		while read -r h; do lowers+="${lowers:+:}$ROOT/layers/$h/fs"; done < <(tac "$ROOT/images/$(cfile "$cid" image)/layers")
		printf '\n  {"Id":"%s","Name":%s,"Created":"%s","Path":%s,"Args":%s,' "$cid" \
			"$(json_str "/$(cfile "$cid" name)")" "$(iso "$(cfile "$cid" created)")" "$(json_str "${cmd[0]}")" \
			"$(json_arr "${cmd[@]:1}")"
		printf '"State":{"Status":"%s","Running":%s,"Paused":%s,"Pid":%s,"ExitCode":%s,"StartedAt":%s,"FinishedAt":%s},' \
			"$st" "$([ "$st" = running ] || [ "$st" = paused ] && echo true || echo false)" \
			"$([ "$st" = paused ] && echo true || echo false)" "${pid:-0}" "${code:-0}" \
			"$(json_str "$(s=$(cfile "$cid" started) && iso "$s")")" "$(json_str "$(s=$(cfile "$cid" finished) && iso "$s")")"
		printf '"Image":"sha256:%s","Config":{"Hostname":%s,"User":%s,"Env":%s,"Cmd":%s,"Image":%s,"WorkingDir":%s,"StopSignal":%s,"Domainname":%s},' \
			"$(cfile "$cid" image)" "$(json_str "${META[hostname]}")" "$(json_str "${META[user]:-}")" \
			"$(json_arr "${CENV[@]}")" "$(json_arr "${cmd[@]}")" "$(json_str "${META[imageref]}")" \
			"$(json_str "${META[workdir]:-}")" "$(json_str "SIG${META[stopsignal]:-TERM}")" \
			"$(json_str "${META[domainname]:-}")"
		caps_split
		local -a secopts=()
		case ${META[seccomp]:-default} in
		default) ;;
		unconfined) secopts+=(seccomp=unconfined) ;;
		*) secopts+=("seccomp=${META[seccomp]}") ;;
		esac
		[ "${META[nnp]:-0}" = 1 ] && secopts+=(no-new-privileges)
		local devs="" d dh dc
		if [ -s "$c/devices" ]; then
			while IFS= read -r d; do
				dh=${d%%:*} dc=${d#*:}
				[ "$dc" = "$d" ] && dc=$dh:rwm
				[[ $dc == *:* ]] || dc=$dc:rwm
				devs+="${devs:+,}{\"PathOnHost\":$(json_str "$dh"),\"PathInContainer\":$(json_str "${dc%:*}"),\"CgroupPermissions\":$(json_str "${dc##*:}")}"
			done <"$c/devices"
		fi
		printf '"HostConfig":{"NetworkMode":"%s","AutoRemove":%s,"Root":"%s","Privileged":%s,"ReadonlyRootfs":%s,"CapAdd":%s,"CapDrop":%s,"SecurityOpt":%s,"Init":%s,"Devices":[%s],"DeviceCgroupRules":%s,"Limits":%s,"CgroupParent":%s},' \
			"$(cfile "$cid" net)" "$([ "$(cfile "$cid" autoremove)" = 1 ] && echo true || echo false)" \
			"$(cfile "$cid" mode)" "$([ "${META[privileged]:-0}" = 1 ] && echo true || echo false)" \
			"$([ "${META[readonly]:-0}" = 1 ] && echo true || echo false)" \
			"$(json_arr "${CAP_ADDS[@]}")" "$(json_arr "${CAP_DROPS[@]}")" \
			"$(json_arr "${secopts[@]}")" "$([ "${META[init]:-0}" = 1 ] && echo true || echo false)" \
			"$devs" "$(json_arr "${DEVRULES[@]}")" \
			"$(json_arr "${limits[@]}")" "$(json_str "$(cgroup_group "$cid")")"
		printf '"GraphDriver":{"Name":"overlay","Data":{"LowerDir":%s,"UpperDir":%s,"WorkDir":%s,"MergedDir":%s}},' \
			"$(json_str "$lowers")" "$(json_str "$c/upper")" "$(json_str "$c/work")" "$(json_str "$ROOT/mnt")"
		local mounts="" v
		for v in "${VOLUMES[@]}"; do
			mounts+="${mounts:+,}{\"Type\":\"bind\",\"Source\":$(json_str "${v%%:*}"),\"Destination\":$(json_str "$(
				t=${v#*:}
				echo "${t%:*}"
			)"),\"RW\":$([ "${v##*:}" = rw ] && echo true || echo false)}"
		done
		net_load
		printf '"NetworkSettings":%s,' "$(net_inspect_json "$cid")"
		printf '"Mounts":[%s],"LogPath":%s}' "$mounts" "$(json_str "$c/log")"
	done
	printf '\n]\n'
}
cmd_logs() {
	local follow=0 lines=+1
	while [ $# -gt 0 ]; do
		case $1 in
		-f | --follow) follow=1 ;;
		-n | --tail) lines=${2:-} && shift ;;
		--tail=*) lines=${1#*=} ;;
		-n?*) lines=${1#-n} ;;
		-*) die "logs: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[ "$lines" = all ] && lines=+1
	[[ $lines =~ ^\+?[0-9]+$ ]] || die "logs: invalid --tail value '$lines' (a number or all)"
	[ $# -eq 1 ] || die "logs: usage: contain logs [-f] [-n|--tail N] CONTAINER"
	store_init
	local cid
	cid=$(container_resolve "$1") || exit
	local log="$ROOT/containers/$cid/log"
	if [ $follow = 1 ] && [ -n "$(cfile "$cid" mpid)" ]; then
		tail -n "$lines" -f --pid="$(cfile "$cid" mpid)" -- "$log"
	elif [ -e "$log" ]; then
		tail -n "$lines" -- "$log"
	fi
}
# Cgroup counters of container $1: cpu_ns mem_bytes mem_limit pids
cg_counters() {
	local cid=$1 d cpu=0 mem=0 lim=0 pids=0
	meta_load "$cid"
	for d in "${CGDIRS[@]}"; do
		[ -d "$d" ] || continue
		case $d in
		*/cpuacct/* | */cpu,cpuacct/*) [ -r "$d/cpuacct.usage" ] && cpu=$(cat "$d/cpuacct.usage") ;;
		*/memory/*)
			mem=$(cat "$d/memory.usage_in_bytes" 2>/dev/null || echo 0)
			lim=$(cat "$d/memory.limit_in_bytes" 2>/dev/null || echo 0)
			;;
		*/pids/*) pids=$(cat "$d/pids.current" 2>/dev/null || echo 0) ;;
		*)
			if [ -r "$d/cpu.stat" ] && [ -r "$d/cgroup.controllers" ]; then
				cpu=$(($(awk '$1 == "usage_usec" { print $2 }' "$d/cpu.stat") * 1000))
				mem=$(cat "$d/memory.current" 2>/dev/null || echo 0)
				lim=$(cat "$d/memory.max" 2>/dev/null || echo 0)
				pids=$(cat "$d/pids.current" 2>/dev/null || echo 0)
			fi
			;;
		esac
	done
	[ "$lim" = max ] && lim=0
	echo "$cpu $mem $lim $pids"
}
cmd_stats() {
	case ${1:-} in --no-stream) shift ;; esac
	store_init
	local -a ids=()
	local a cid
	if [ $# -gt 0 ]; then
		for a in "$@"; do ids+=("$(container_resolve "$a")") || exit; done
	else
		for a in "$ROOT"/containers/*/; do
			cid=$(basename "$a")
			case $(cstate "$cid") in running | paused) ids+=("$cid") ;; esac
		done
	fi
	declare -A before=()
	local t0 t1
	# bash's clock, in microseconds (no date(1) and its %N, which not every date has)
	t0=${EPOCHREALTIME/[.,]/}000
	for cid in "${ids[@]}"; do before[$cid]=$(cg_counters "$cid" | cut -d' ' -f1); done
	[ ${#ids[@]} -gt 0 ] && sleep 1
	t1=${EPOCHREALTIME/[.,]/}000
	local total
	total=$(awk '/MemTotal/ { print $2 * 1024 }' /proc/meminfo)
	printf '%-14s %-24s %-8s %-11s %-24s %-8s %s\n' "CONTAINER ID" NAME "CPU %" "CPU TIME" "MEM USAGE / LIMIT" "MEM %" PIDS
	for cid in "${ids[@]}"; do
		local cpu mem lim pids
		read -r cpu mem lim pids < <(cg_counters "$cid")
		lim=$(awk -v l="$lim" -v t="$total" 'BEGIN { if (l == 0 || l + 0 > t + 0) print t; else print l }')
		printf '%-14s %-24s %-8s %-11s %-24s %-8s %s\n' "${cid:0:12}" "$(cfile "$cid" name)" \
			"$(awk -v a="${before[$cid]}" -v b="$cpu" -v t=$((t1 - t0)) 'BEGIN { printf "%.2f%%", (b - a) * 100 / t }')" \
			"$(awk -v b="$cpu" 'BEGIN { printf "%.2fs", b / 1e9 }')" \
			"$(human_bin "$mem") / $(human_bin "$lim")" \
			"$(awk -v m="$mem" -v l="$lim" 'BEGIN { printf "%.2f%%", m * 100 / l }')" "$pids"
	done
}
usage() {
	cat <<'EOF'
Usage: contain COMMAND [ARGS...]

A container manager built from cgset, unshare-rs, unionmount, chroot-rs and mkrootfs.

Images:
  build -t NAME[:TAG] [-f FILE] [--build-arg NAME=VALUE] [--no-cache] [--target STAGE] CONTEXT
                               build an image from a Containerfile/Dockerfile
  mkimage [--ldd] [--cmd CMD] [--entrypoint PATH] [--file SRC[:DEST]] [--env NAME=VALUE]
        [--workdir DIR] [--user USER] [--from IMAGE] NAME[:TAG] [BINARY...]
                               build an image from host binaries (mkrootfs; names also on stdin;
                               also contain build NAME BINARY...)
  import NAME[:TAG] LAYER.tar...  make an image from layer tarballs (plain, gzip, zstd)
  images                       list images (REPOSITORY TAG IMAGE ID CREATED SIZE)
  tag SOURCE NAME[:TAG]        add a tag to an image
  rmi [-f] IMAGE...            remove tags, and the image when nothing uses it
  history IMAGE                list an image's layers
  commit CONTAINER NAME[:TAG]  turn a container's writable layer into a new image
  push IMAGE DEST | pull SOURCE [NAME[:TAG]]   copy an image to or from DIR, oci:DIR[:TAG],
                               oci-archive:FILE[:TAG] or docker-archive:FILE
  save [-o FILE] IMAGE... | load [-i FILE]   one archive that docker, podman and OCI tools read

Containers:
  run [OPTIONS] IMAGE [CMD...] create and start a container
  ps [-a] [-q]                 list containers
  start ID | stop [-t S] [-s SIG] ID | restart [-t S] ID | kill [-s SIG] ID | rm [-f] ID
  pause ID | unpause ID
  wait ID...                   block until they exit; print their exit codes
  top ID [PS-OPTIONS]          the container's processes (ps -f)
  diff ID                      the changes of its layer: A added, C changed, D deleted
  export [-o FILE] ID          its file system as a tar archive (contain import reads it)
  exec [-i] [-t] [-e NAME[=VALUE]] [-u USER] [-w DIR] ID CMD...
                               run a command in a running container
  inspect ID|IMAGE             JSON
  logs [-f] [-n N] ID          output of a container (the last N lines with -n/--tail)
  stats [ID...]                cpu, memory and pids usage from the cgroups
  port ID [PORT[/PROTO]]       its published ports

Networks (as root; the CNI plugins of /usr/lib/cni):
  network create [--subnet CIDR] [--gateway IP] [--internal] NAME | ls [-q] | inspect NAME...
  network rm NAME... | prune [-f] | connect NAME ID | disconnect NAME ID

run options: -d, --rm, -i, -t, --name NAME, --cidfile FILE, --hostname NAME, --domainname NAME,
  --network bridge|none|host|container:ID|NAME (bridge as root: eth0 on contain0; none
  otherwise), -p/--publish [IP:][HOSTPORT:]CTRPORT[/tcp|udp], -P/--publish-all,
  --add-host NAME:IP, --dns IP, --dns-search DOMAIN, --dns-option OPT,
  -e/--env NAME[=VALUE], --env-file FILE, -u/--user USER[:GROUP], -w/--workdir DIR,
  -v/--volume SRC:DEST[:ro|rw], --read-only, --cap-add CAP, --cap-drop CAP, --privileged,
  --device HOST[:CONTAINER][:rwm], --device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS',
  --security-opt seccomp=unconfined|seccomp=FILE|no-new-privileges, --init (a reaping init
  as pid 1; the program is pid 1 otherwise), --stop-signal SIG,
  --chroot (chroot instead of pivot_root, as hardened), and every cgset limit flag: -c/--cpu-shares,
  --cpus, --cpu-period, --cpu-quota, --cpuset-cpus, --cpuset-mems, -m/--memory, --memory-swap,
  --memory-swappiness, --memory-reservation, --kernel-memory, --oom-kill-disable,
  --device-read-bps, --device-write-bps, --device-read-iops, --device-write-iops,
  --blkio-weight, --pids-limit.

State lives in $CONTAIN_ROOT (default /var/lib/contain, or ~/.local/share/contain when not root).
EOF
}
