# shellcheck shell=bash
# contain's logs.sh: a container's log, kept as Docker's json-file driver keeps it (one record
# per line: {"log":"LINE\n","stream":"stdout|stderr","time":"RFC 3339, nanoseconds, UTC"}),
# written by the container's monitor (log_writer, in run.sh) and read by `contain logs`.
# Read by the front script (contain) for the commands that need it; never run alone.

# log_time_v VALUE: --since/--until's VALUE (a Unix time, a duration before now such as 10m or
# 1h30m, or a date and time `date -d` reads) into R_TIME, in the records' form (which sorts
# as text in time order).
log_time_v() {
	local v=$1 s f us=0 n u
	if [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
		s=${v%.*}
		f=${BASH_REMATCH[1]#.}
	elif [[ $v =~ ^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$ ]]; then
		local rest=$v
		while [[ $rest =~ ^([0-9]+)(\.[0-9]+)?(ns|us|µs|ms|s|m|h)(.*)$ ]]; do
			n=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]#.} u=${BASH_REMATCH[3]} rest=${BASH_REMATCH[4]}
			f=${f:0:6}
			while [ ${#f} -lt 6 ]; do f+=0; done
			n=$((10#$n * 1000000 + 10#$f))
			case $u in
			ns) n=$((n / 1000000000)) ;;
			us | µs) n=$((n / 1000000)) ;;
			ms) n=$((n / 1000)) ;;
			m) n=$((n * 60)) ;;
			h) n=$((n * 3600)) ;;
			esac
			us=$((us + n))
		done
		local t=$EPOCHREALTIME
		n=$((${t%.*} * 1000000 + 10#${t#*.} - us))
		s=$((n / 1000000))
		printf -v f '%06d' $((n % 1000000))
	else
		s=$(date -u -d "$v" '+%s.%N' 2>/dev/null) || die "invalid value for time \"$v\" (a Unix time, a duration such as 10m, or a date and time)"
		f=${s#*.}
		s=${s%.*}
	fi
	f=${f:0:9}
	while [ ${#f} -lt 9 ]; do f+=0; done
	TZ=UTC printf -v R_TIME '%(%Y-%m-%dT%H:%M:%S)T.%sZ' "$s" "$f"
}

# contain logs [-f] [-t] [-n|--tail N] [--since T] [--until T] [--details] CONTAINER: the
# container's output, its standard output's records to ours and its error's to our error, as
# docker logs writes them; -f follows the log until the container ends.
cmd_logs() {
	local follow=0 lines=+1 stamps=0 since="" until="" LC_ALL=C
	while [ $# -gt 0 ]; do
		case $1 in
		-f | --follow) follow=1 ;;
		-t | --timestamps) stamps=1 ;;
		--details) ;;
		-n | --tail) lines=${2:-} && shift ;;
		--tail=*) lines=${1#*=} ;;
		-n?*) lines=${1#-n} ;;
		--since) log_time_v "${2:-}" && since=$R_TIME && shift ;;
		--since=*) log_time_v "${1#*=}" && since=$R_TIME ;;
		--until) log_time_v "${2:-}" && until=$R_TIME && shift ;;
		--until=*) log_time_v "${1#*=}" && until=$R_TIME ;;
		-[ft][ft]) follow=1 stamps=1 ;;
		-*) die "logs: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[ "$lines" = all ] && lines=+1
	[[ $lines =~ ^\+?[0-9]+$ ]] || die "logs: invalid --tail value '$lines' (a number or all)"
	[ $# -eq 1 ] || die "logs: usage: contain logs [-f] [-t] [-n|--tail N] [--since T] [--until T] CONTAINER"
	store_init
	local cid m ms
	cid=$(container_resolve "$1") || exit
	local log="$ROOT/containers/$cid/log"
	[ -e "$log" ] || return 0
	local rec t s st l out
	# -f: until the container's monitor ends (it has written everything by then)
	m=
	if [ $follow = 1 ]; then
		cread m "$cid" mpid
		cread ms "$cid" mstart
		alive "$m" "$ms" || m=
	fi
	while IFS= read -r rec; do
		if [[ $rec != '{"log":"'* ]]; then
			# (a log of an older contain: its lines as they are)
			printf '%s\n' "$rec"
			continue
		fi
		t=${rec##*'","time":"'}
		t=${t%'"}'}
		[ -n "$since" ] && [[ $t < $since ]] && continue
		[ -n "$until" ] && [[ $t > $until ]] && continue
		s=${rec%'","time":'*}
		st=${s##*'","stream":"'}
		l=${s%'","stream":'*}
		l=${l#'{"log":"'}
		printf -v out '%b' "${l//\\\"/\\x22}"
		[ $stamps = 1 ] && out="$t $out"
		if [ "$st" = stderr ]; then
			printf '%s' "$out" >&2
		else
			printf '%s' "$out"
		fi
	done < <(if [ -n "$m" ]; then exec tail -n "$lines" -f --pid="$m" -- "$log"; else exec tail -n "$lines" -- "$log"; fi)
	return 0
}
