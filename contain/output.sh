# shellcheck shell=bash
# contain's output.sh: what the commands print: time, size and JSON formatting, `ps`,
# `inspect`, `logs`, `stats`, `top` and the help.
# Read by the front script (contain) for the commands that need it; never run alone.

# (bash's own strftime, in UTC: no date(1) fork)
iso() { TZ=UTC0 printf '%(%Y-%m-%dT%H:%M:%SZ)T\n' "$1"; }
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
# docker's time for listings: 2024-01-02 03:04:05 +0000 UTC
list_time() { TZ=UTC0 printf '%(%Y-%m-%d %H:%M:%S +0000 UTC)T\n' "$1"; }
# opt_value NAME "$@": the value of the option in $1 (--flag=VALUE, or the next word; the
# caller shifts R_SHIFT words), into R_OPT; dies when it has none.
opt_value() {
	local n=$1
	shift
	R_SHIFT=1
	case $1 in
	--*=*) R_OPT=${1#*=} ;;
	--*)
		[ $# -ge 2 ] || die "$n: flag needs an argument: $1"
		R_OPT=$2 R_SHIFT=2
		;;
	-?)
		[ $# -ge 2 ] || die "$n: flag needs an argument: '${1#-}' in $1"
		R_OPT=$2 R_SHIFT=2
		;;
	*) R_OPT=${1:2} ;;
	esac
}
# filter_add SPEC: docker's --filter KEY=VALUE into FILTERS[KEY] (newline-separated values);
# KEYS lists the keys the command takes.
filter_add() {
	local k=${1%%=*} v=${1#*=}
	[[ $1 == *=* ]] || die "bad format of filter (expected name=value)"
	[[ " $FILTER_KEYS " == *" $k "* ]] || die "invalid filter '$k'"
	FILTERS[$k]+="$v"$'\n'
}
# filter_match KEY VALUE...: true when KEY has no filter, or one of its values matches one
# of VALUE by the test in filter_test (set by the caller).
filter_has() { [ -n "${FILTERS[$1]:-}" ]; }
# ps's rows, as Docker's ps --format sees them.
PS_HEADERS='{"ID":"CONTAINER ID","Image":"IMAGE","Command":"COMMAND","CreatedAt":"CREATED AT","RunningFor":"CREATED","Ports":"PORTS","State":"STATE","Status":"STATUS","Size":"SIZE","Names":"NAMES","Labels":"LABELS","Mounts":"MOUNTS","Networks":"NETWORKS","LocalVolumes":"LOCAL VOLUMES"}'
# contain ps [-a] [-q] [-n N] [-l] [-s] [--no-trunc] [-f KEY=VALUE]... [--format FORMAT]
cmd_ps() {
	local all=0 quiet=0 last=-1 size=0 trunc=1 format="" a
	local -A FILTERS=()
	FILTER_KEYS="status name id label ancestor exited before since volume network"
	while [ $# -gt 0 ]; do
		a=$1
		case $a in
		-a | --all) all=1 ;;
		-q | --quiet) quiet=1 ;;
		-l | --latest) last=1 ;;
		-s | --size) size=1 ;;
		--no-trunc) trunc=0 ;;
		-n | -n* | --last | --last=*)
			opt_value ps "$@"
			[[ $R_OPT =~ ^-?[0-9]+$ ]] || die "invalid argument \"$R_OPT\" for \"-n, --last\" flag: strconv.ParseInt: parsing \"$R_OPT\": invalid syntax"
			last=$R_OPT
			shift "$R_SHIFT"
			continue
			;;
		-f | -f* | --filter | --filter=*)
			opt_value ps "$@"
			filter_add "$R_OPT"
			shift "$R_SHIFT"
			continue
			;;
		--format | --format=*)
			opt_value ps "$@"
			format=$R_OPT
			shift "$R_SHIFT"
			continue
			;;
		--help) echo "Usage: contain ps [-a] [-q] [-n N] [-l] [-s] [--no-trunc] [-f KEY=VALUE] [--format FORMAT]" && return 0 ;;
		-[aqls]*)
			# grouped short flags: -aq, -as, -aqs
			local i
			for ((i = 1; i < ${#a}; i++)); do
				case ${a:i:1} in
				a) all=1 ;; q) quiet=1 ;; l) last=1 ;; s) size=1 ;;
				*) die "ps: unknown shorthand flag: '${a:i:1}' in $a" ;;
				esac
			done
			;;
		*) die "ps: unknown flag: $a (see 'contain ps --help')" ;;
		esac
		shift
	done
	store_init
	# -n, -l and the status and exited filters look at every container, as docker's do
	[ "$last" -gt 0 ] && all=1
	filter_has status && all=1
	filter_has exited && all=1
	local v
	if filter_has status; then
		while IFS= read -r v; do
			[ -z "$v" ] && continue
			case $v in created | restarting | running | removing | paused | exited | dead) ;;
			*) die "invalid filter 'status=$v'" ;; esac
		done <<<"${FILTERS[status]}"
	fi
	local -a all_c=() rows=()
	local c cid st status
	# (a directory without meta too: a creation cut short, listed as Docker's Dead)
	for c in "$ROOT"/containers/*/; do [[ $c =~ /[0-9a-f]{64}/$ ]] && all_c+=("$c"); done
	# newest first by creation: the directories' birth times (statx), else their mtimes
	if [ ${#all_c[@]} -gt 0 ]; then
		if [ "$(stat -c %W -- "${all_c[0]}" 2>/dev/null)" != 0 ]; then
			mapfile -t all_c < <(stat -c '%.9W %n' -- "${all_c[@]}" | sort -rn | cut -d' ' -f2-)
		else
			mapfile -t all_c < <(ls -1td -- "${all_c[@]}")
		fi
	fi
	[ "$last" -gt 0 ] && all_c=("${all_c[@]:0:last}")
	# before= and since=: the containers made before or after the one named (the listing is
	# newest first)
	local k ref rid i
	for k in before since; do
		filter_has "$k" || continue
		ref=$(head -n1 <<<"${FILTERS[$k]}")
		rid=$( (container_resolve "$ref") 2>/dev/null) || die "No such container: $ref"
		for ((i = 0; i < ${#all_c[@]}; i++)); do [[ ${all_c[i]} == */$rid/ ]] && break; done
		if [ "$k" = before ]; then all_c=("${all_c[@]:i+1}"); else all_c=("${all_c[@]:0:i}"); fi
		all=1
	done
	local -A anc=()
	if filter_has ancestor; then
		while IFS= read -r v; do
			[ -n "$v" ] && image_find "$v" && anc[$R_ID]=1
		done <<<"${FILTERS[ancestor]}"
	fi
	local now=$EPOCHSECONDS loaded_net=0
	for c in "${all_c[@]}"; do
		cid=${c%/}
		cid=${cid##*/}
		st=$(cstate "$cid")
		[ "$st" = removed ] && continue
		[ $all = 1 ] || [ "$st" = running ] || [ "$st" = paused ] || continue
		if [ "$st" = dead ] && ! [ -e "$c/meta" ]; then
			META=([name]= [image]= [imageref]= [net]= [created]=$now) CMD=() VOLUMES=()
		else
			meta_load "$cid" 2>/dev/null || continue
		fi
		local name=${META[name]:-} code
		code=$(cfile "$cid" exitcode || echo 255)
		# the filters: the values of one key are or-ed, the keys and-ed
		local ok m
		if filter_has status; then
			ok=0
			while IFS= read -r v; do [ "$v" = "$st" ] && ok=1; done <<<"${FILTERS[status]}"
			[ $ok = 1 ] || continue
		fi
		if filter_has exited; then
			ok=0
			[ "$st" = exited ] && while IFS= read -r v; do [ -n "$v" ] && [ "$v" = "$code" ] && ok=1; done <<<"${FILTERS[exited]}"
			[ $ok = 1 ] || continue
		fi
		if filter_has name; then
			ok=0
			while IFS= read -r v; do [ -n "$v" ] && [[ $name =~ ${v#/} ]] && ok=1; done <<<"${FILTERS[name]}"
			[ $ok = 1 ] || continue
		fi
		if filter_has id; then
			ok=0
			while IFS= read -r v; do [ -n "$v" ] && [[ $cid == "$v"* ]] && ok=1; done <<<"${FILTERS[id]}"
			[ $ok = 1 ] || continue
		fi
		local -a lbl=()
		[ -n "${META[labels]:-}" ] && eval "lbl=(${META[labels]})"
		if filter_has label; then
			ok=1
			while IFS= read -r v; do
				[ -z "$v" ] && continue
				m=0
				for a in "${lbl[@]}"; do
					if [[ $v == *=* ]]; then [ "$a" = "$v" ] && m=1; else [ "${a%%=*}" = "$v" ] && m=1; fi
				done
				[ $m = 1 ] || ok=0
			done <<<"${FILTERS[label]}"
			[ $ok = 1 ] || continue
		fi
		if filter_has ancestor; then
			[ -n "${anc[${META[image]}]:-}" ] || continue
		fi
		if filter_has volume; then
			ok=0
			while IFS= read -r v; do
				[ -z "$v" ] && continue
				for a in "${VOLUMES[@]}"; do
					m=${a%:*}
					{ [ "${a%%:*}" = "$v" ] || [ "${m#*:}" = "$v" ]; } && ok=1
				done
			done <<<"${FILTERS[volume]}"
			[ $ok = 1 ] || continue
		fi
		if filter_has network; then
			ok=0
			while IFS= read -r v; do [ -n "$v" ] && [ "$v" = "${META[net]}" ] && ok=1; done <<<"${FILTERS[network]}"
			[ $ok = 1 ] || continue
		fi
		if [ $quiet = 1 ]; then
			if [ $trunc = 1 ]; then echo "${cid:0:12}"; else echo "$cid"; fi
			continue
		fi
		local started finished
		started=$(cfile "$cid" started) || started=$now
		case $st in
		running) status="Up $(human_duration $((now - started)))" ;;
		paused) status="Up $(human_duration $((now - started))) (Paused)" ;;
		restarting) status="Restarting ($code) $(human_duration $((now - started))) ago" ;;
		exited)
			finished=$(cfile "$cid" finished) || finished=$started
			status="Exited ($code) $(human_duration $((now - finished))) ago"
			;;
		dead) status=Dead ;;
		*) status=Created ;;
		esac
		# (a dead container may have no meta: no creation time)
		[ -n "${META[created]:-}" ] || META[created]=$now
		local ports="" p
		local -a f
		if [ -e "$c/network" ]; then
			[ $loaded_net = 1 ] || net_load
			loaded_net=1
			net_conf "$cid"
			for p in "${NET_PORTS[@]}"; do
				read -ra f <<<"$p"
				ports+="${ports:+, }${f[1]}:${f[2]}->${f[3]}/${f[0]}"
			done
		fi
		local mounts="" sz=""
		for a in "${VOLUMES[@]}"; do
			m=${a%%:*}
			[[ $m == /* ]] && m=${a#*:} && m=${m%:*}
			[ $trunc = 1 ] && m=$(jq -rn --arg s "$m" "$TPL_PRELUDE"' $s | _ellipsis(15)')
			mounts+="${mounts:+,}$m"
		done
		if [ $size = 1 ]; then
			local up
			up=$(du -sb -- "$c/upper" 2>/dev/null | cut -f1)
			sz="$(human_size "${up:-0}") (virtual $(human_size $((${up:-0} + $(image_size "${META[image]}" 2>/dev/null || echo 0)))))"
		fi
		local labels="" lv=0
		for a in "${lbl[@]}"; do labels+="${labels:+,}$a"; done
		for a in "${VOLUMES[@]}"; do [[ $a == /* ]] || lv=$((lv + 1)); done
		local cmdline="${CMD[*]}" id=$cid
		[ $trunc = 1 ] && id=${cid:0:12}
		rows+=("$(printf '{"ID":"%s","Image":%s,"Command":%s,"CreatedAt":"%s","RunningFor":%s,"Ports":%s,"State":"%s","Status":%s,"Size":%s,"Names":%s,"Labels":%s,"Mounts":%s,"Networks":%s,"LocalVolumes":"%s"}' \
			"$id" "$(json_str "${META[imageref]}")" "$(json_str "$cmdline")" "$(list_time "${META[created]}")" \
			"$(json_str "$(human_duration $((now - META[created]))) ago")" "$(json_str "$ports")" "$st" \
			"$(json_str "$status")" "$(json_str "$sz")" "$(json_str "$name")" "$(json_str "$labels")" \
			"$(json_str "$mounts")" "$(json_str "${META[net]}")" "$lv")")
	done
	[ $quiet = 1 ] && return 0
	local def='table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}'
	[ $size = 1 ] && def+='\t{{.Size}}'
	# the command quoted, and cut at 20 columns unless --no-trunc, as docker shows it
	local cut='.Command |= (if $t then _ellipsis(20) else . end | tojson)'
	{
		[ ${#rows[@]} -gt 0 ] && printf '%s\n' "${rows[@]}"
		:
	} | jq -c --argjson t "$([ $trunc = 1 ] && echo true || echo false)" "$TPL_PRELUDE $cut" |
		tpl_listing "$format" "$def" "$PS_HEADERS"
}
# limits_json CID: the container's stored limits as HostConfig's resource fields (docker's
# names and units), a JSON object's members without the braces, into R_LIMITS.
limits_json() {
	local -a l
	read_nul l "$ROOT/containers/$1/limits"
	local -A n=([Memory]=0 [MemorySwap]=0 [MemoryReservation]=0 [KernelMemory]=0 [NanoCpus]=0
		[CpuShares]=0 [CpuPeriod]=0 [CpuQuota]=0 [BlkioWeight]=0 [PidsLimit]=null
		[MemorySwappiness]=null [OomKillDisable]=false)
	local -A s=([CpusetCpus]="" [CpusetMems]="")
	local -A d=([BlkioDeviceReadBps]="" [BlkioDeviceWriteBps]="" [BlkioDeviceReadIOps]="" [BlkioDeviceWriteIOps]="")
	local i k v
	for ((i = 0; i < ${#l[@]}; i++)); do
		k=${l[i]} v=${l[i + 1]:-}
		case $k in
		--oom-kill-disable)
			n[OomKillDisable]=true
			continue
			;;
		--memory) size_bytes "$v" && n[Memory]=$R_BYTES ;;
		--memory-swap) size_bytes "$v" && n[MemorySwap]=$R_BYTES ;;
		--memory-reservation) size_bytes "$v" && n[MemoryReservation]=$R_BYTES ;;
		--kernel-memory) size_bytes "$v" && n[KernelMemory]=$R_BYTES ;;
		--memory-swappiness) [[ $v =~ ^-?[0-9]+$ ]] && n[MemorySwappiness]=$v ;;
		--cpus) n[NanoCpus]=$(awk -v v="$v" 'BEGIN { printf "%d", v * 1e9 + 0.5 }') ;;
		--cpu-shares) [[ $v =~ ^[0-9]+$ ]] && n[CpuShares]=$v ;;
		--cpu-period) [[ $v =~ ^[0-9]+$ ]] && n[CpuPeriod]=$v ;;
		--cpu-quota) [[ $v =~ ^-?[0-9]+$ ]] && n[CpuQuota]=$v ;;
		--blkio-weight) [[ $v =~ ^[0-9]+$ ]] && n[BlkioWeight]=$v ;;
		--pids-limit) [[ $v =~ ^-?[0-9]+$ ]] && n[PidsLimit]=$v ;;
		--cpuset-cpus) s[CpusetCpus]=$v ;;
		--cpuset-mems) s[CpusetMems]=$v ;;
		--device-read-bps | --device-write-bps | --device-read-iops | --device-write-iops)
			local f=BlkioDevice r=${v##*:}
			case $k in
			*read*) f+=Read ;;
			*) f+=Write ;;
			esac
			case $k in
			*bps) f+=Bps && size_bytes "$r" && r=$R_BYTES ;;
			*) f+=IOps ;;
			esac
			[[ $r =~ ^[0-9]+$ ]] || r=0
			d[$f]+="${d[$f]:+,}{\"Path\":$(json_str "${v%:*}"),\"Rate\":$r}"
			;;
		esac
		i=$((i + 1))
	done
	R_LIMITS=
	for k in Memory MemoryReservation MemorySwap MemorySwappiness KernelMemory NanoCpus CpuShares CpuPeriod CpuQuota BlkioWeight PidsLimit OomKillDisable; do
		R_LIMITS+="\"$k\":${n[$k]},"
	done
	for k in CpusetCpus CpusetMems; do R_LIMITS+="\"$k\":$(json_str "${s[$k]}"),"; done
	for k in BlkioDeviceReadBps BlkioDeviceWriteBps BlkioDeviceReadIOps BlkioDeviceWriteIOps; do
		R_LIMITS+="\"$k\":[${d[$k]}],"
	done
	R_LIMITS=${R_LIMITS%,}
}
# jbool VALUE: true for 1 or true, false otherwise.
jbool() { case $1 in 1 | true) echo true ;; *) echo false ;; esac; }
# iso_or_zero EPOCH: docker's time, or its zero time when there is none.
iso_or_zero() {
	if [ -n "$1" ]; then iso "$1"; else echo 0001-01-01T00:00:00Z; fi
}
# container_json CID: the container in docker's inspect shape, one JSON object (compact).
container_json() {
	local cid=$1 c="$ROOT/containers/$1" st code pid lowers="" h oom=false err="" restarts=0
	st=$(cstate "$cid")
	code=$(cfile "$cid" exitcode || echo 0)
	[[ $code =~ ^-?[0-9]+$ ]] || code=0
	pid=$(cinit "$cid")
	[ "$st" = running ] || [ "$st" = paused ] || pid=0
	[ -s "$c/oomkilled" ] && oom=$(jbool "$(cfile "$cid" oomkilled)")
	err=$(cfile "$cid" error) || err=""
	restarts=$(cfile "$cid" restartcount) || restarts=0
	[[ $restarts =~ ^[0-9]+$ ]] || restarts=0
	local -a cmd entry=()
	# (a dead container may have no meta: its stored state cannot be read, said by the caller)
	[ -e "$c/meta" ] || return 1
	meta_load "$cid"
	cmd=("${CMD[@]}")
	read_nul entry "$ROOT/images/${META[image]}/entrypoint" 2>/dev/null
	[ -n "${META[entrypoint]+x}" ] && eval "entry=(${META[entrypoint]})"
	local -a args=("${cmd[@]:${#entry[@]}}")
	[ -r "$ROOT/images/${META[image]}/layers" ] &&
		while read -r h; do lowers+="${lowers:+:}$ROOT/layers/$h/fs"; done < <(tac "$ROOT/images/${META[image]}/layers")
	local restarting=false status=$st
	[ "$st" = restarting ] && restarting=true
	printf '{"Id":"%s","Created":"%s","Path":%s,"Args":%s,' "$cid" "$(iso "${META[created]}")" \
		"$(json_str "${cmd[0]:-}")" "$(json_arr "${cmd[@]:1}")"
	printf '"State":{"Status":"%s","Running":%s,"Paused":%s,"Restarting":%s,"OOMKilled":%s,"Dead":false,"Pid":%s,"ExitCode":%s,"Error":%s,"StartedAt":"%s","FinishedAt":"%s"},' \
		"$status" "$([ "$st" = running ] || [ "$st" = paused ] && echo true || echo false)" \
		"$([ "$st" = paused ] && echo true || echo false)" "$restarting" "$oom" "${pid:-0}" "$code" \
		"$(json_str "$err")" "$(iso_or_zero "$(cfile "$cid" started)")" \
		"$(iso_or_zero "$([ "$st" = exited ] && { cfile "$cid" finished || cfile "$cid" started; })")"
	printf '"Image":"sha256:%s","ResolvConfPath":%s,"HostnamePath":%s,"HostsPath":%s,"LogPath":%s,"Name":%s,"RestartCount":%s,"Driver":"overlay","Platform":"linux","MountLabel":"","ProcessLabel":"","AppArmorProfile":"",' \
		"${META[image]}" "$(json_str "$c/resolv.conf")" "$(json_str "$c/hostname")" "$(json_str "$c/hosts")" \
		"$(json_str "$c/log")" "$(json_str "/${META[name]}")" "$restarts"
	caps_split
	local -a secopts=() binds=()
	case ${META[seccomp]:-default} in
	default) ;;
	unconfined) secopts+=(seccomp=unconfined) ;;
	*) secopts+=("seccomp=${META[seccomp]}") ;;
	esac
	[ "${META[nnp]:-0}" = 1 ] && secopts+=(no-new-privileges)
	local devs="" d dh dc v mounts=""
	if [ -s "$c/devices" ]; then
		while IFS= read -r d; do
			dh=${d%%:*} dc=${d#*:}
			[ "$dc" = "$d" ] && dc=$dh:rwm
			[[ $dc == *:* ]] || dc=$dc:rwm
			devs+="${devs:+,}{\"PathOnHost\":$(json_str "$dh"),\"PathInContainer\":$(json_str "${dc%:*}"),\"CgroupPermissions\":$(json_str "${dc##*:}")}"
		done <"$c/devices"
	fi
	for v in "${VOLUMES[@]}"; do
		local src=${v%%:*} rest=${v#*:} mode=${v##*:} dst typ=bind name="" drv=""
		dst=${rest%:*}
		if [[ $src != /* ]]; then
			typ=volume name=$src drv=local
			src=$ROOT/volumes/$name/_data
		fi
		if [ "$mode" = ro ]; then binds+=("${v%:*}:ro"); else binds+=("${v%:*}"); fi
		mounts+="${mounts:+,}{\"Type\":\"$typ\",${name:+\"Name\":$(json_str "$name"),}\"Source\":$(json_str "$src"),\"Destination\":$(json_str "$dst"),${drv:+\"Driver\":\"$drv\",}\"Mode\":\"$([ "$mode" = ro ] && echo ro)\",\"RW\":$([ "$mode" = rw ] && echo true || echo false),\"Propagation\":\"$([ $typ = bind ] && echo rprivate)\"}"
	done
	local rp=${META[restart]:-no} rpn=0
	[[ $rp == *:* ]] && rpn=${rp#*:} && rp=${rp%%:*}
	[[ $rpn =~ ^[0-9]+$ ]] || rpn=0
	limits_json "$cid"
	local ul="" un uv
	while read -r _ un; do
		uv=${un#*=} un=${un%%=*}
		uv=${uv//unlimited/-1}
		ul+="${ul:+,}{\"Name\":\"$un\",\"Soft\":${uv%%:*},\"Hard\":${uv#*:}}"
	done < <(grep '^ulimit ' "$c/meta")
	R_LIMITS+=",\"Ulimits\":[$ul]"
	# --tmpfs (and --mount type=tmpfs) as HostConfig.Tmpfs; --shm-size as ShmSize (bytes)
	local tf="" shm=67108864 tl2 sz
	while read -r _ tl2; do
		if [ "${tl2%%:*}" = /dev/shm ] && [[ $tl2 == *size=* ]]; then
			sz=${tl2##*size=}
			size_bytes "${sz%%,*}" && shm=$R_BYTES
		else
			tf+="${tf:+,}$(json_str "${tl2%%:*}"):$(json_str "${tl2#*:}")"
		fi
	done < <(grep '^tmpfs ' "$c/meta")
	R_LIMITS+=",\"Tmpfs\":{$tf},\"ShmSize\":$shm"
	printf '"HostConfig":{"Binds":%s,"NetworkMode":"%s","RestartPolicy":{"Name":"%s","MaximumRetryCount":%s},"AutoRemove":%s,"CapAdd":%s,"CapDrop":%s,"Privileged":%s,"ReadonlyRootfs":%s,"SecurityOpt":%s,"Init":%s,"Runtime":%s,"Root":"%s",%s,"Devices":[%s],"DeviceCgroupRules":%s,"CgroupParent":%s},' \
		"$(json_arr "${binds[@]}")" "${META[net]}" "$rp" "$rpn" "$(jbool "${META[autoremove]}")" \
		"$(json_arr "${CAP_ADDS[@]}")" "$(json_arr "${CAP_DROPS[@]}")" "$(jbool "${META[privileged]:-0}")" \
		"$(jbool "${META[readonly]:-0}")" "$(json_arr "${secopts[@]}")" "$(jbool "${META[init]:-0}")" \
		"$(json_str "${META[runtime]:-contain}")" "${META[mode]}" "$R_LIMITS" "$devs" "$(json_arr "${DEVRULES[@]}")" "$(json_str "$(cgroup_group "$cid")")"
	printf '"GraphDriver":{"Name":"overlay","Data":{"LowerDir":%s,"UpperDir":%s,"WorkDir":%s,"MergedDir":%s}},' \
		"$(json_str "$lowers")" "$(json_str "$c/upper")" "$(json_str "$c/work")" "$(json_str "$ROOT/mnt")"
	printf '"Mounts":[%s],' "$mounts"
	local labels="" lk
	local -a lbl=()
	[ -n "${META[labels]:-}" ] && eval "lbl=(${META[labels]})"
	for lk in "${lbl[@]}"; do labels+="${labels:+,}$(json_str "${lk%%=*}"):$(json_str "$([[ $lk == *=* ]] && echo "${lk#*=}")")"; done
	local stopsig=${META[stopsignal]:-TERM} tmo=""
	[ -n "${META[stoptimeout]:-}" ] && tmo=",\"StopTimeout\":${META[stoptimeout]}"
	printf '"Config":{"Hostname":%s,"Domainname":%s,"User":%s,"AttachStdin":%s,"Tty":%s,"OpenStdin":%s,"Env":%s,"Cmd":%s,"Image":%s,"WorkingDir":%s,"Entrypoint":%s,"Labels":{%s},"StopSignal":%s%s},' \
		"$(json_str "${META[hostname]}")" "$(json_str "${META[domainname]:-}")" "$(json_str "${META[user]:-}")" \
		"$(jbool "${META[interactive]}")" "$(jbool "${META[tty]}")" "$(jbool "${META[interactive]}")" \
		"$(json_arr "${CENV[@]}")" "$(json_arr "${args[@]}")" "$(json_str "${META[imageref]}")" \
		"$(json_str "${META[workdir]:-}")" "$([ ${#entry[@]} -gt 0 ] && json_arr "${entry[@]}" || echo null)" \
		"$labels" "$(json_str "SIG$stopsig")" "$tmo"
	net_load
	printf '"NetworkSettings":%s}' "$(net_inspect_json "$cid")"
}
# image_json ID: the image as docker image inspect shows it (Config is the image config's
# container config: Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Labels, ...;
# Comment the newest history entry's, Author the config's).
image_json() {
	local id=$1 tags=()
	mapfile -t tags < <(image_tags "$id")
	jq -c --arg id "$id" --argjson tags "$(json_arr "${tags[@]}")" --argjson size "$(image_size "$id")" \
		--argjson layers "$(json_arr $(sed 's/^/sha256:/' "$ROOT/images/$id/layers"))" \
		'{Id: ("sha256:" + $id), RepoTags: $tags, RepoDigests: [], Parent: "",
		  Comment: (((.history // []) | last // {}) | .comment // ""), Created: (.created // ""),
		  Author: (.author // ""), Config: (.config // {}), Architecture: (.architecture // ""),
		  Os: (.os // "linux"), Size: $size, VirtualSize: $size, Layers: $layers}' \
		"$ROOT/blobs/sha256/$id"
}
# contain inspect [-f FORMAT] [--type container|image] [-s] NAME|ID...: each object as Docker
# shows it (a JSON array), or through FORMAT; a missing one is an error (status 1) after the
# others are printed.
cmd_inspect() {
	local format="" type="" a
	local -a objs=()
	while [ $# -gt 0 ]; do
		case $1 in
		-f | --format)
			[ $# -ge 2 ] || die "inspect: flag needs an argument: $1"
			format=$2
			shift
			;;
		--format=*) format=${1#*=} ;;
		-f?*) format=${1#-f} ;;
		--type)
			[ $# -ge 2 ] || die "inspect: flag needs an argument: --type"
			type=$2
			shift
			;;
		--type=*) type=${1#*=} ;;
		-s | --size) ;;
		--help) echo "Usage: contain inspect [-f FORMAT] [--type container|image] NAME|ID..." && return 0 ;;
		--) shift && objs+=("$@") && break ;;
		-*) die "inspect: unknown flag: $1" ;;
		*) objs+=("$1") ;;
		esac
		shift
	done
	case $type in "" | container | image) ;; *) die "\"$type\" is not a valid value for --type" ;; esac
	[ ${#objs[@]} -ge 1 ] || die "inspect: usage: contain inspect [-f FORMAT] NAME|ID..."
	store_init
	local rc=0 out="" cid id j
	local -a errs=()
	for a in "${objs[@]}"; do
		cid="" id=""
		[ "$type" = image ] || cid=$( (container_resolve "$a") 2>/dev/null) || cid=""
		if [ -n "$cid" ] && [ -d "$ROOT/containers/$cid" ]; then
			j=$(container_json "$cid")
		elif [ "$type" != container ] && id=$(image_lookup "$a"); then
			j=$(image_json "$id")
		else
			case $type in
			container) errs+=("Error: No such container: $a") ;;
			image) errs+=("Error: No such image: $a") ;;
			*) errs+=("Error: No such object: $a") ;;
			esac
			continue
		fi
		# a torn or odd state must never print invalid JSON
		j=$(jq -c . 2>/dev/null <<<"$j") && [ -n "$j" ] || {
			errs+=("Error: $a: its stored state cannot be read")
			continue
		}
		out+="$j"$'\n'
	done
	if [ -n "$format" ]; then
		[ -z "$out" ] || printf '%s' "$out" | tpl_apply "$format" || rc=1
	else
		# one object a line (the tutorial's scripts grep it): "[", "  {...},", "]"
		if [ -z "$out" ]; then
			echo "[]"
		else
			out=${out%$'\n'}
			printf '[\n  %s\n]\n' "${out//$'\n'/$',\n  '}"
		fi
	fi
	if [ ${#errs[@]} -gt 0 ]; then
		printf 'contain: %s\n' "${errs[@]}" >&2
		rc=1
	fi
	return $rc
}
# Cgroup counters of container $1: cpu_ns mem_bytes mem_limit pids blk_read blk_write
# (blkio's throttle counters on v1, io.stat on v2), and the bytes its network namespace
# received and sent (every interface but lo: the kernel's /proc/PID/net/dev).
cg_counters() {
	local cid=$1 d cpu=0 mem=0 lim=0 pids=0 br=0 bw=0 rx=0 tx=0 k v l op
	meta_load "$cid"
	for d in "${CGDIRS[@]}"; do
		[ -d "$d" ] || continue
		case $d in
		*/cpuacct/* | */cpu,cpuacct/*) [ -r "$d/cpuacct.usage" ] && cpu=$(<"$d/cpuacct.usage") ;;
		*/memory/*)
			mem=$(cat "$d/memory.usage_in_bytes" 2>/dev/null || echo 0)
			lim=$(cat "$d/memory.limit_in_bytes" 2>/dev/null || echo 0)
			;;
		*/pids/*) pids=$(cat "$d/pids.current" 2>/dev/null || echo 0) ;;
		*/blkio/*)
			if [ -r "$d/blkio.throttle.io_service_bytes" ]; then
				while read -r k op v; do
					case $op in Read) br=$((br + v)) ;; Write) bw=$((bw + v)) ;; esac
				done <"$d/blkio.throttle.io_service_bytes"
			fi
			;;
		*)
			if [ -r "$d/cpu.stat" ] && [ -r "$d/cgroup.controllers" ]; then
				cpu=$(($(awk '$1 == "usage_usec" { print $2 }' "$d/cpu.stat") * 1000))
				mem=$(cat "$d/memory.current" 2>/dev/null || echo 0)
				lim=$(cat "$d/memory.max" 2>/dev/null || echo 0)
				pids=$(cat "$d/pids.current" 2>/dev/null || echo 0)
				if [ -r "$d/io.stat" ]; then
					while read -r l; do
						for k in $l; do
							case $k in rbytes=*) br=$((br + ${k#*=})) ;; wbytes=*) bw=$((bw + ${k#*=})) ;; esac
						done
					done <"$d/io.stat"
				fi
			fi
			;;
		esac
	done
	[ "$lim" = max ] && lim=0
	cinit_v "$cid"
	if [ -n "$R_INIT" ] && [ "${META[net]}" != host ] && [ -r "/proc/$R_INIT/net/dev" ]; then
		local -a f
		while IFS= read -r l; do
			[[ $l == *:* ]] || continue
			k=${l%%:*}
			k=${k// /}
			[ "$k" = lo ] && continue
			read -ra f <<<"${l#*:}"
			rx=$((rx + f[0])) tx=$((tx + f[8]))
		done <"/proc/$R_INIT/net/dev"
	fi
	echo "$cpu $mem $lim $pids $br $bw $rx $tx"
}
STATS_HEADERS='{"Container":"CONTAINER","ID":"CONTAINER ID","Name":"NAME","CPUPerc":"CPU %","MemUsage":"MEM USAGE / LIMIT","MemPerc":"MEM %","NetIO":"NET I/O","BlockIO":"BLOCK I/O","PIDs":"PIDS","CPUTime":"CPU TIME"}'
# contain stats [-a] [--no-stream] [--no-trunc] [--format FORMAT] [CONTAINER...]: each
# container's use of its cgroups, measured over a second, every second until interrupted
# (once with --no-stream; a named container that ends leaves the stream).
cmd_stats() {
	local stream=1 all=0 trunc=1 format="" a
	local -a names=()
	while [ $# -gt 0 ]; do
		a=$1
		case $a in
		--no-stream) stream=0 ;;
		-a | --all) all=1 ;;
		--no-trunc) trunc=0 ;;
		--format | --format=*)
			opt_value stats "$@"
			format=$R_OPT
			shift "$R_SHIFT"
			continue
			;;
		--help) echo "Usage: contain stats [-a] [--no-stream] [--no-trunc] [--format FORMAT] [CONTAINER...]" && return 0 ;;
		-*) die "stats: unknown flag: $a" ;;
		*) names+=("$a") ;;
		esac
		shift
	done
	store_init
	local -a ids=()
	local cid
	for a in "${names[@]}"; do
		cid=$(container_resolve "$a") || exit 1
		ids+=("$cid")
	done
	local total def='table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}'
	total=$(awk '/MemTotal/ { print $2 * 1024 }' /proc/meminfo)
	local clear=""
	[ $stream = 1 ] && [ -t 1 ] && clear=$'\033[2J\033[H'
	while :; do
		local -a cur=()
		if [ ${#names[@]} -gt 0 ]; then
			cur=("${ids[@]}")
		else
			for a in "$ROOT"/containers/*/; do
				cid=${a%/}
				cid=${cid##*/}
				[ $all = 1 ] && cur+=("$cid") && continue
				case $(cstate "$cid") in running | paused) cur+=("$cid") ;; esac
			done
		fi
		local -A before=()
		local t0 t1
		# bash's clock, in microseconds (no date(1) and its %N, which not every date has)
		t0=${EPOCHREALTIME/[.,]/}000
		for cid in "${cur[@]}"; do before[$cid]=$(cg_counters "$cid" | cut -d' ' -f1); done
		[ ${#cur[@]} -gt 0 ] || [ $stream = 1 ] && sleep 1
		t1=${EPOCHREALTIME/[.,]/}000
		local -a rows=()
		local live=0
		for cid in "${cur[@]}"; do
			local cpu mem lim pids br bw rx tx st id=$cid
			[ $trunc = 1 ] && id=${cid:0:12}
			st=$(cstate "$cid")
			if [ "$st" = running ] || [ "$st" = paused ]; then
				live=1
				read -r cpu mem lim pids br bw rx tx < <(cg_counters "$cid")
			else
				cpu=${before[$cid]:-0} mem=0 lim=0 pids=0 br=0 bw=0 rx=0 tx=0
			fi
			lim=$(awk -v l="$lim" -v t="$total" 'BEGIN { if (l == 0 || l + 0 > t + 0) print t; else print l }')
			rows+=("$(printf '{"Container":%s,"ID":"%s","Name":%s,"CPUPerc":"%s","CPUTime":"%s","MemUsage":"%s","MemPerc":"%s","NetIO":"%s","BlockIO":"%s","PIDs":"%s"}' \
				"$(json_str "${names[0]:-$id}")" "$id" "$(json_str "$(cfile "$cid" name)")" \
				"$(awk -v a="${before[$cid]:-0}" -v b="$cpu" -v t=$((t1 - t0)) 'BEGIN { printf "%.2f%%", (t > 0 ? (b - a) * 100 / t : 0) }')" \
				"$(awk -v b="$cpu" 'BEGIN { printf "%.2fs", b / 1e9 }')" \
				"$(human_bin "$mem") / $(human_bin "$lim")" \
				"$(awk -v m="$mem" -v l="$lim" 'BEGIN { printf "%.2f%%", (l > 0 ? m * 100 / l : 0) }')" \
				"$(human_size "$rx") / $(human_size "$tx")" "$(human_size "$br") / $(human_size "$bw")" "$pids")")
		done
		printf '%s' "$clear"
		{
			[ ${#rows[@]} -gt 0 ] && printf '%s\n' "${rows[@]}"
			:
		} | tpl_listing "$format" "$def" "$STATS_HEADERS"
		[ $stream = 1 ] || break
		# the named containers all ended: nothing more to stream
		[ ${#names[@]} -gt 0 ] && [ $live = 0 ] && break
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
  images [-q] [--no-trunc] [-f KEY=VALUE] [--format FORMAT] [REPO[:TAG]]
                               list images (REPOSITORY TAG IMAGE ID CREATED SIZE)
  tag SOURCE NAME[:TAG]        add a tag to an image
  rmi [-f] IMAGE...            remove tags, and the image when nothing uses it
  history [-q] [--no-trunc] [--format FORMAT] IMAGE   list an image's layers
  commit [-m MSG] [-c INSTRUCTION] [-a AUTHOR] CONTAINER [NAME[:TAG]]
                               turn a container's writable layer into a new image
  push IMAGE DEST | pull SOURCE [NAME[:TAG]]   copy an image to or from DIR, oci:DIR[:TAG],
                               oci-archive:FILE[:TAG] or docker-archive:FILE
  save [-o FILE] IMAGE... | load [-i FILE]   one archive that docker, podman and OCI tools read

Containers:
  run [OPTIONS] IMAGE [CMD...] create and start a container
  ps [-a] [-q] [-n N] [-l] [-s] [--no-trunc] [-f KEY=VALUE] [--format FORMAT]
                               list containers (filters: status name id label ancestor exited
                               volume network)
  start ID | stop [-t S] [-s SIG] ID | restart [-t S] ID | kill [-s SIG] ID | rm [-f] ID
  pause ID | unpause ID
  wait ID...                   block until they exit; print their exit codes
  top ID [PS-OPTIONS]          the container's processes (ps -f)
  diff ID                      the changes of its layer: A added, C changed, D deleted
  export [-o FILE] ID          its file system as a tar archive (contain import reads it)
  exec [-i] [-t] [-e NAME[=VALUE]] [-u USER] [-w DIR] ID CMD...
                               run a command in a running container
  inspect [-f FORMAT] [--type container|image] ID|IMAGE...   JSON in Docker's shape, or
                               FORMAT: Go's template subset ({{.State.Pid}}, {{json .Config}},
                               {{range}}, {{if}}, {{index}}, {{join}}, ...; also for ps, images,
                               history and stats --format, with `table` and `json` there)
  logs [-f] [-n N] ID          output of a container (the last N lines with -n/--tail)
  stats [-a] [--no-stream] [--format FORMAT] [ID...]
                               cpu, memory, pids, net and block I/O, every second
  port ID [PORT[/PROTO]]       its published ports

  cp [-a] [-L] ID:PATH DEST|-  cp [-a] SRC|- ID:PATH   copy between a container and the host
  rename ID NAME | update [--cpus N] [-m SIZE] [--pids-limit N] [-c N] ... ID...
  attach ID                    its output from now on, our input to a -d -i one (its terminal: -dit), signals passed on
  events [--since T] [--until T] [-f KEY=VALUE] [--format F]   the store's journal: create/start/die/destroy/...
  volume create|ls|inspect|rm|prune   named volumes (run -v NAME:/path, --mount)
  container prune | image prune [-a] | system prune [-a] [--volumes] | system df
  container ls|inspect|rm|...  image ls|inspect|rm|...   Docker's names for the commands

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
# contain container|image COMMAND ...: Docker's management commands, as the plain ones
# (container ls = ps, image ls = images, image rm = rmi, ...).
cmd_group() {
	local g=$1 c=${2:-}
	[ $# -ge 2 ] || die "$g: usage: contain $g COMMAND (see 'contain --help')"
	shift 2
	case $g:$c in
	container:ls | container:list | container:ps) main ps "$@" ;;
	container:inspect) main inspect --type container "$@" ;;
	container:prune) main __prune container "$@" ;;
	container:attach | container:commit | container:cp | container:create | container:diff | \
		container:exec | container:export | container:kill | container:logs | container:pause | \
		container:port | container:rename | container:restart | container:rm | container:run | \
		container:start | container:stats | container:stop | container:top | container:unpause | \
		container:update | container:wait) main "$c" "$@" ;;
	image:ls | image:list) main images "$@" ;;
	image:inspect) main inspect --type image "$@" ;;
	image:rm) main rmi "$@" ;;
	image:prune) main __prune image "$@" ;;
	image:build | image:history | image:import | image:load | image:pull | image:push | \
		image:save | image:tag) main "$c" "$@" ;;
	*) die "'$g $c' is not a contain command (see 'contain --help')" ;;
	esac
}
