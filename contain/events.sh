# shellcheck shell=bash
# contain's events.sh: `contain events`, Docker's event stream read from the store: a
# container's create, start, pause, die (with its exit code) from the times its state keeps,
# and a volume's create.  Without --until the stream goes on (the store polled twice a
# second) until interrupted.  A removed container's events went with it: contain keeps no
# daemon journal.
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

# ev_collect: every event the store shows now, one "TIME RANK JSON" line each.
ev_collect() {
	local c cid t code name image ref d n
	for c in "$ROOT"/containers/*/; do
		cid=${c%/}
		cid=${cid##*/}
		[ -e "$c/meta" ] || continue
		cread name "$cid" name
		cread ref "$cid" imageref
		cread t "$cid" created && ev_line "$t" 0 container create "$cid" "$ref" "$name"
		cread t "$cid" started && [ -n "$t" ] && ev_line "$t" 1 container start "$cid" "$ref" "$name"
		[ -e "$c/paused" ] && ev_line "$(stat -c %Y -- "$c/paused")" 2 container pause "$cid" "$ref" "$name"
		if [ "$(cstate "$cid")" = exited ]; then
			t=$(cfile "$cid" finished) || t=$(cfile "$cid" started) || t=
			code=$(cfile "$cid" exitcode) || code=0
			[ -n "$t" ] && ev_line "$t" 3 container die "$cid" "$ref" "$name" "$code"
		fi
	done
	for d in "$ROOT"/volumes/*/; do
		n=${d%/}
		n=${n##*/}
		[[ $n == .new.* ]] && continue
		t=$(sed -n 's/^created //p' "$d/meta" 2>/dev/null)
		[ -n "$t" ] && ev_line "$t" 0 volume create "$n" "" "$n"
	done
}
# ev_line TIME RANK TYPE ACTION ID IMAGE NAME [EXITCODE]
ev_line() {
	local attrs
	if [ "$3" = container ]; then
		attrs="{\"image\":$(json_str "$6"),\"name\":$(json_str "$7")${8:+,\"exitCode\":$(json_str "$8")}}"
	else
		attrs="{\"driver\":\"local\"}"
	fi
	printf '%s %s {"status":"%s","id":"%s","from":%s,"Type":"%s","Action":"%s","Actor":{"ID":"%s","Attributes":%s},"scope":"local","time":%s,"timeNano":%s000000000}\n' \
		"$1" "$2" "$4" "$5" "$(json_str "$6")" "$3" "$4" "$5" "$attrs" "$1" "$1"
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
		image) sel+=" and ($js | any(. as \$v | \$e.from == \$v or \$e.from == (\$v + \":latest\")))" ;;
		volume) sel+=" and (.Type == \"volume\" and ($js | index([\$e.Actor.ID]) != null))" ;;
		esac
	done
	local tpl=""
	if [ -n "$format" ]; then
		[ "$format" = json ] && format='{{json .}}'
		tpl_compile "$format"
		tpl=$R_JQ
	fi
	# an event as docker prints it: TIME TYPE ACTION ID (attributes)
	local plain='(.time | strftime("%Y-%m-%dT%H:%M:%S.000000000Z")) + " " + .Type + " " + .Action + " " + .Actor.ID + " (" + ([.Actor.Attributes | to_entries | sort_by(.key)[] | "\(.key)=\(.value)"] | join(", ")) + ")"'
	local out=$plain
	[ -n "$tpl" ] && out="($tpl)"
	local -A seen=()
	local now line t
	# without --since, a stream shows what happens from now on
	[ -n "$since" ] || since=$EPOCHSECONDS
	while :; do
		now=$EPOCHSECONDS
		local -a lines=()
		mapfile -t lines < <(ev_collect | sort -n -k1,1 -k2,2 -s)
		local -a new=()
		for line in "${lines[@]}"; do
			[ -n "${seen[$line]:-}" ] && continue
			seen[$line]=1
			t=${line%% *}
			[ "$t" -ge "$since" ] || continue
			[ -n "$until" ] && [ "$t" -gt "$until" ] && continue
			line=${line#* }
			new+=("${line#* }")
		done
		if [ ${#new[@]} -gt 0 ]; then
			printf '%s\n' "${new[@]}" | jq -r "$TPL_PRELUDE . as \$e | select($sel) | $out" || return 1
		fi
		# --until in the past (or reached): what happened until then, and the end
		[ -n "$until" ] && [ "$now" -ge "$until" ] && break
		sleep 0.5
	done
}
