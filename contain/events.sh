# shellcheck shell=bash
# contain's events.sh: `contain events`, Docker's event stream read from the store's journal
# ($ROOT/events, one JSON line per event in Docker's shape, appended by ev_emit in common.sh
# at each transition: a container's create, start, die (exitCode), oom, kill (signal), stop,
# pause, unpause, restart, rename (oldName), destroy; a volume's create and destroy; an
# image's tag, untag and delete), kept to about CONTAIN_EVENTS_MAX bytes (events.1 holds the
# part before).  Without --until (or with one to come) the stream follows the journal.
# Read by the front script (contain) for the commands that need it; never run alone.

ev_fail() {
	echo "contain: $*" >&2
	exit 1
}

# ev_time VALUE: docker's --since/--until (unix seconds, an RFC 3339 date, or a duration
# back from now: 10m, 1h30m, 45s) into R_TIME (unix seconds).
ev_time() {
	local v=$1 t=0 n u
	if [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
		R_TIME=${v%%.*}
	elif [[ $v =~ ^([0-9]+(h|m|s))+$ ]]; then
		while [[ $v =~ ^([0-9]+)(h|m|s)(.*)$ ]]; do
			n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]} v=${BASH_REMATCH[3]}
			case $u in h) t=$((t + n * 3600)) ;; m) t=$((t + n * 60)) ;; s) t=$((t + n)) ;; esac
		done
		R_TIME=$((EPOCHSECONDS - t))
	else
		R_TIME=$(date -u -d "$v" +%s 2>/dev/null) || return 1
	fi
}

# ev_rotate: the journal moved to events.1 (the one older part kept) once it is past
# CONTAIN_EVENTS_MAX bytes (1 MiB); called by ev_emit (common.sh) now and then.  Writers that
# opened it before the rename finish in events.1; two rotations at once may lose the older part.
ev_rotate() {
	local f="$ROOT/events" n
	n=$(stat -c %s -- "$f" 2>/dev/null) || return 0
	[ "$n" -gt "${CONTAIN_EVENTS_MAX:-1048576}" ] || return 0
	mv -f -- "$f" "$f.1" 2>/dev/null
	return 0
}

# contain events [--since T] [--until T] [-f KEY=VALUE]... [--format FORMAT]
cmd_events() {
	local since="" until="" format=""
	local -A FILTERS=()
	FILTER_KEYS="container event type image volume"
	while [ $# -gt 0 ]; do
		case $1 in
		--since | --since=*)
			opt_value events "$@"
			ev_time "$R_OPT" || ev_fail "events: invalid --since value \"$R_OPT\": unix seconds, a date or a duration (10m)"
			since=$R_TIME
			shift "$R_SHIFT"
			continue
			;;
		--until | --until=*)
			opt_value events "$@"
			ev_time "$R_OPT" || ev_fail "events: invalid --until value \"$R_OPT\": unix seconds, a date or a duration (10m)"
			until=$R_TIME
			shift "$R_SHIFT"
			continue
			;;
		-f | -f* | --filter | --filter=*)
			opt_value events "$@"
			filter_add "$R_OPT"
			shift "$R_SHIFT"
			continue
			;;
		--format | --format=*)
			opt_value events "$@"
			format=$R_OPT
			shift "$R_SHIFT"
			continue
			;;
		--help) echo "Usage: contain events [--since T] [--until T] [-f KEY=VALUE] [--format FORMAT]" && return 0 ;;
		*) ev_fail "events: unknown flag: $1" ;;
		esac
		shift
	done
	store_init
	# the filters as one jq test on an event
	local sel="true" k v vals
	for k in "${!FILTERS[@]}"; do
		vals=()
		while IFS= read -r v; do [ -n "$v" ] && vals+=("$v"); done <<<"${FILTERS[$k]}"
		local js
		js=$(printf '%s\n' "${vals[@]}" | jq -R . | jq -sc .)
		case $k in
		container) sel+=" and (.Type == \"container\" and ($js | any(. as \$v | (\$e.Actor.ID | startswith(\$v)) or \$e.Actor.Attributes.name == \$v)))" ;;
		event) sel+=" and ($js | index([\$e.Action]) != null)" ;;
		type) sel+=" and ($js | index([\$e.Type]) != null)" ;;
		image) sel+=" and ($js | any(. as \$v | (\$e.from // \$e.Actor.Attributes.name // \"\") as \$i | \$i == \$v or \$i == (\$v + \":latest\")))" ;;
		volume) sel+=" and (.Type == \"volume\" and ($js | index([\$e.Actor.ID]) != null))" ;;
		esac
	done
	local tpl=""
	if [ -n "$format" ]; then
		if [ "$format" = json ] || [ "$format" = '{{json .}}' ]; then
			# (the line as it was written: jq would round timeNano)
			tpl='$raw'
		else
			tpl_compile "$format"
			tpl=$R_JQ
		fi
	fi
	# an event as docker prints it: TIME TYPE ACTION ID (attributes)
	local plain='(.time | strftime("%Y-%m-%dT%H:%M:%S.")) + ($raw | capture("\"timeNano\":[0-9]*(?<f>[0-9]{9})[,}]").f) + "Z " + .Type + " " + .Action + " " + .Actor.ID + " (" + ([.Actor.Attributes | to_entries | sort_by(.key)[] | "\(.key)=\(.value)"] | join(", ")) + ")"'
	local out=$plain
	[ -n "$tpl" ] && out="($tpl)"
	local f="$ROOT/events" now=$EPOCHSECONDS
	# (events.1 only when the past is asked for)
	local -a past=()
	[ -n "$since" ] && [ -e "$f.1" ] && past=("$f.1")
	# without --since, a stream shows what happens from now on
	[ -n "$since" ] || since=$now
	local prog="$TPL_PRELUDE . as \$raw | fromjson? | select(.time >= $since${until:+ and .time <= $until}) | . as \$e | select($sel) | $out"
	if [ -n "$until" ] && [ "$until" -le "$now" ]; then
		# --until in the past: what happened until then, and the end
		cat -- "${past[@]}" "$f" 2>/dev/null | jq -R -r "$prog"
		return
	fi
	# followed by name (a rotation goes on to the new journal) while we live (a client killed
	# leaves no reader behind); --until to come ends it then
	local -a tl=(tail -n +1 -F --pid=$$ -- "$f")
	[ -n "$until" ] && tl=(timeout "$((until - now + 1))" "${tl[@]}")
	: >>"$f"
	{
		[ ${#past[@]} -gt 0 ] && cat -- "${past[@]}"
		"${tl[@]}" 2>/dev/null
	} | jq --unbuffered -R -r "$prog"
	return 0
}
