# shellcheck shell=bash
# contain's template.sh: --format, the Go template subset Docker users type, run by jq:
# tpl_compile turns a template into a jq program (tpl_apply runs it on JSON objects), and
# tpl_table aligns tab-separated rows by display width as Go's tabwriter does for Docker.
# Supported: text, {{.A.B}}, {{.}}, {{$}}, {{$.A}}, variables ({{$x := .A}}, {{range $i, $e :=
# .X}}), pipelines ({{.A | upper}}), (sub expressions), {{if}}/{{else if}}/{{else}}/{{end}},
# {{range}} (with {{else}}), {{with}}, {{- and -}} trimming, comments, and the functions json,
# index, join, split, lower, upper, title, len, eq, ne, lt, le, gt, ge, and, or, not, print,
# println, printf (%s %v %d %q %%, with a width), slice, truncate, pad; `table` in front of a
# listing's template.
# Read by the front script (contain) for the commands that need it; never run alone.

# The jq functions the compiled programs call.  _s prints a value as Go's text/template does
# (a missing one as <no value>, a map as map[k:v ...], a list as [a b]); _t is Go's truth.
TPL_PRELUDE='
def _s: if type == "string" then . elif type == "null" then "<no value>"
  elif type == "array" then "[" + (map(_s) | join(" ")) + "]"
  elif type == "object" then "map[" + ([to_entries | sort_by(.key)[] | .key + ":" + (.value | _s)] | join(" ")) + "]"
  else tostring end;
def _t: if . == null or . == false or . == 0 or . == "" or . == [] or . == {} then false else true end;
def _iter: if type == "object" then to_entries | sort_by(.key) | .[].value elif type == "array" then .[]
  elif . == null then empty else error("range can'"'"'t iterate over \(tojson)") end;
def _ent: if type == "object" then to_entries | sort_by(.key) | .[] elif type == "array" then to_entries | .[]
  elif . == null then empty else error("range can'"'"'t iterate over \(tojson)") end;
def _idx(k): if . == null then null elif type == "array" and (k | type) != "number" then error("cannot index slice with \(k | tojson)") else .[k] end;
def _w: [explode[] | if (. >= 4352 and . <= 4447) or (. >= 11904 and . <= 42191) or (. >= 44032 and . <= 55203)
  or (. >= 63744 and . <= 64255) or (. >= 65072 and . <= 65103) or (. >= 65280 and . <= 65376)
  or (. >= 65504 and . <= 65510) or (. >= 127744 and . <= 128591) or (. >= 129280 and . <= 129535)
  or (. >= 131072 and . <= 262141) then 2 elif (. >= 768 and . <= 879) or . == 8203 then 0 else 1 end] | add // 0;
def _pad(n): . + (" " * ([n - _w, 0] | max) // "");
def _lpad(n): (" " * ([n - _w, 0] | max) // "") + .;
def _ellipsis(n): if _w <= n then . else
  reduce explode[] as $c ({s: [], w: 0, done: false};
    if .done then . else ([$c] | implode | _w) as $cw |
      if .w + $cw <= n - 1 then .s += [$c] | .w += $cw else .done = true end end)
  | (.s | implode) + "…" end;
def _title: [splits(" ") | (.[:1] | ascii_upcase) + .[1:]] | join(" ");
'

# tpl_compile TEMPLATE: the jq program for TEMPLATE into R_JQ (its input: one object; its
# output: one string).  Dies, with Docker's words, on a template it cannot parse.
tpl_compile() {
	local t=$1 text act trim_next=0
	# the frames of the open blocks: kind, the parent's buffer, the then-buffer, the block's
	# expression, whether an `else if` opened it, its open variable scopes
	local -a fk=() fo=() ft=() fe=() fc=() fp=()
	local cur='""' par=0 n
	R_TPL_VARS=" "
	while :; do
		if [[ $t != *'{{'* ]]; then
			text=$t
			t=
		else
			text=${t%%'{{'*}
			t=${t#*'{{'}
		fi
		if [ $trim_next = 1 ]; then
			text=${text#"${text%%[![:space:]]*}"}
			trim_next=0
		fi
		[[ $t == -[[:space:]]* ]] && text=${text%"${text##*[![:space:]]}"}
		[ -n "$text" ] && cur+=" + $(json_str "$text")"
		[ -z "$t" ] && break
		[[ $t == *'}}'* ]] || tpl_die "unclosed action"
		act=${t%%'}}'*}
		t=${t#*'}}'}
		[[ $act == -[[:space:]]* ]] && act=${act:1}
		if [[ $act == *[[:space:]]- ]]; then
			act=${act%-}
			trim_next=1
		fi
		act=${act#"${act%%[![:space:]]*}"}
		act=${act%"${act##*[![:space:]]}"}
		[[ $act == /\** ]] && continue
		[ -n "$act" ] || tpl_die "missing value for command"
		tpl_lex "$act"
		case ${TK[0]} in
		range | if | with)
			local kind=${TK[0]} vars=""
			TK=("${TK[@]:1}")
			[ "$kind" = range ] && tpl_range_vars && vars=$R_VARS
			[ ${#TK[@]} -gt 0 ] || tpl_die "missing value for $kind"
			tpl_pipeline 0 ${#TK[@]}
			fk+=("$kind${vars:+ $vars}") fo+=("$cur") ft+=("") fe+=("$R_EXPR") fc+=(0) fp+=("$par")
			cur='""' par=0
			;;
		else)
			n=$((${#fk[@]} - 1))
			[ $n -ge 0 ] || tpl_die "unexpected {{else}}"
			[ -z "${ft[n]}" ] || tpl_die "expected end; found {{else}}"
			tpl_close_scopes
			ft[n]=$cur
			cur='""' par=0
			if [ ${#TK[@]} -gt 1 ]; then
				[ "${TK[1]}" = if ] || [ "${TK[1]}" = with ] || tpl_die "unexpected ${TK[1]} in else"
				local kind=${TK[1]}
				TK=("${TK[@]:2}")
				[ ${#TK[@]} -gt 0 ] || tpl_die "missing value for $kind"
				tpl_pipeline 0 ${#TK[@]}
				fk+=("$kind") fo+=("$cur") ft+=("") fe+=("$R_EXPR") fc+=(1) fp+=(0)
			fi
			;;
		end)
			while :; do
				n=$((${#fk[@]} - 1))
				[ $n -ge 0 ] || tpl_die "unexpected {{end}}"
				tpl_close_scopes
				local body=$cur els=${ft[n]} kind=${fk[n]} e=${fe[n]} chained=${fc[n]} blk
				if [ -n "$els" ]; then
					blk=$els els=$body body=$blk
				fi
				case $kind in
				if) blk="(if (($e) | _t) then ($body) else (${els:-\"\"}) end)" ;;
				with) blk="(($e) as \$__w | if (\$__w | _t) then (\$__w | ($body)) else (${els:-\"\"}) end)" ;;
				range*)
					local v1="" v2="" it
					read -r _ v1 v2 <<<"$kind"
					if [ -n "$v2" ]; then
						it="_ent | .key as \$v_$v1 | .value as \$v_$v2 | .value"
					elif [ -n "$v1" ]; then
						it="_iter | . as \$v_$v1"
					else
						it="_iter"
					fi
					if [ -n "$els" ]; then
						blk="(($e) as \$__r | if ([\$__r | _iter] | length) > 0 then ([\$__r | $it | ($body)] | join(\"\")) else ($els) end)"
					else
						blk="([($e) | $it | ($body)] | join(\"\"))"
					fi
					;;
				esac
				cur=${fo[n]} par=${fp[n]}
				unset 'fk[n]' 'fo[n]' 'ft[n]' 'fe[n]' 'fc[n]' 'fp[n]'
				cur+=" + $blk"
				[ "$chained" = 1 ] || break
			done
			;;
		*)
			if [[ ${TK[0]} == \$* ]] && [ "${TK[1]:-}" = := ]; then
				local v=${TK[0]#\$}
				[[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || tpl_die "bad variable name ${TK[0]}"
				tpl_pipeline 2 ${#TK[@]}
				cur+=" + (($R_EXPR) as \$v_$v | \"\""
				R_TPL_VARS+="$v "
				par=$((par + 1))
			else
				tpl_pipeline 0 ${#TK[@]}
				cur+=" + (($R_EXPR) | _s)"
			fi
			;;
		esac
	done
	[ ${#fk[@]} -eq 0 ] || tpl_die "unexpected EOF"
	tpl_close_scopes
	R_JQ=". as \$__root | $cur"
}
tpl_close_scopes() {
	while [ "$par" -gt 0 ]; do
		cur+=")"
		par=$((par - 1))
	done
}
tpl_die() {
	echo "contain: template parsing error: template: :1: $*" >&2
	exit 125
}
# tpl_lex ACTION: its tokens into TK (strings keep their quotes).
tpl_lex() {
	local a=$1 i=0 n=${#1} c j
	TK=()
	while [ $i -lt $n ]; do
		c=${a:i:1}
		case $c in
		[[:space:]]) i=$((i + 1)) ;;
		'(' | ')' | '|' | ',')
			TK+=("$c")
			i=$((i + 1))
			;;
		'"')
			j=$((i + 1))
			while [ $j -lt $n ] && [ "${a:j:1}" != '"' ]; do
				[ "${a:j:1}" = '\' ] && j=$((j + 1))
				j=$((j + 1))
			done
			[ $j -lt $n ] || tpl_die "unterminated quoted string"
			TK+=("${a:i:j-i+1}")
			i=$((j + 1))
			;;
		'`')
			j=$((i + 1))
			while [ $j -lt $n ] && [ "${a:j:1}" != '`' ]; do j=$((j + 1)); done
			[ $j -lt $n ] || tpl_die "unterminated raw quoted string"
			TK+=("${a:i:j-i+1}")
			i=$((j + 1))
			;;
		*)
			j=$i
			while [ $j -lt $n ] && [[ ${a:j:1} != [[:space:]\(\)\|,] ]]; do j=$((j + 1)); done
			TK+=("${a:i:j-i}")
			i=$j
			;;
		esac
	done
	[ ${#TK[@]} -gt 0 ] || tpl_die "missing value for command"
}
# tpl_range_vars: `$i, $e :=` or `$e :=` at the front of TK, into R_VARS (and taken off).
tpl_range_vars() {
	R_VARS=
	if [[ ${TK[0]:-} == \$?* ]] && [ "${TK[1]:-}" = , ] && [[ ${TK[2]:-} == \$?* ]] && [ "${TK[3]:-}" = := ]; then
		R_VARS="${TK[0]#\$} ${TK[2]#\$}"
		TK=("${TK[@]:4}")
	elif [[ ${TK[0]:-} == \$?* ]] && [ "${TK[1]:-}" = := ]; then
		R_VARS=${TK[0]#\$}
		TK=("${TK[@]:2}")
	else
		return 0
	fi
	local v
	for v in $R_VARS; do
		[[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || tpl_die "bad variable name \$$v"
		R_TPL_VARS+="$v "
	done
}
# tpl_pipeline FROM TO: the tokens TK[FROM..TO) (commands joined by |) as a jq expression,
# into R_EXPR.
tpl_pipeline() {
	local from=$1 to=$2 i depth=0 start=$1 prev=""
	for ((i = from; i <= to; i++)); do
		if [ $i -eq "$to" ] || { [ "${TK[i]}" = '|' ] && [ $depth -eq 0 ]; }; then
			[ $i -gt "$start" ] || tpl_die "missing command in pipeline"
			tpl_command "$start" "$i" "$prev"
			prev=$R_EXPR
			start=$((i + 1))
			continue
		fi
		case ${TK[i]} in '(') depth=$((depth + 1)) ;; ')') depth=$((depth - 1)) ;; esac
	done
	[ $depth -eq 0 ] || tpl_die "unclosed left paren"
	R_EXPR=$prev
}
# tpl_command FROM TO PIPED: one command (a function and its arguments, or an operand); PIPED
# is the previous command's expression (the last argument).
tpl_command() {
	local from=$1 to=$2 piped=$3 f=${TK[$1]} i depth
	local -a args=()
	i=$((from + 1))
	if [[ $f =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && [ "$f" != true ] && [ "$f" != false ] && [ "$f" != nil ]; then
		while [ $i -lt "$to" ]; do
			if [ "${TK[i]}" = '(' ]; then
				local s=$i
				depth=0
				while [ $i -lt "$to" ]; do
					case ${TK[i]} in '(') depth=$((depth + 1)) ;; ')') depth=$((depth - 1)) ;; esac
					[ $depth -eq 0 ] && break
					i=$((i + 1))
				done
				local saved=$R_EXPR
				tpl_pipeline $((s + 1)) "$i"
				args+=("($R_EXPR)")
				R_EXPR=$saved
				i=$((i + 1))
				# a field of a sub expression's value: (index .A 0).Name
				if [ $i -lt "$to" ] && [[ ${TK[i]} == .?* ]]; then
					tpl_fields "${TK[i]}"
					args[-1]="(${args[-1]} | $R_FLD)"
					i=$((i + 1))
				fi
			else
				tpl_operand "${TK[i]}"
				args+=("$R_EXPR")
				i=$((i + 1))
			fi
		done
		[ -n "$piped" ] && args+=("($piped)")
		tpl_func "$f" "${args[@]}"
		return
	fi
	# an operand: a value (which takes no piped argument), or a parenthesized pipeline
	[ -z "$piped" ] || tpl_die "can't give argument to non-function $f"
	if [ "$f" = '(' ]; then
		depth=0
		i=$from
		while [ $i -lt "$to" ]; do
			case ${TK[i]} in '(') depth=$((depth + 1)) ;; ')') depth=$((depth - 1)) ;; esac
			[ $depth -eq 0 ] && break
			i=$((i + 1))
		done
		tpl_pipeline $((from + 1)) "$i"
		R_EXPR="($R_EXPR)"
		i=$((i + 1))
		if [ $i -lt "$to" ] && [[ ${TK[i]} == .?* ]]; then
			tpl_fields "${TK[i]}"
			R_EXPR="($R_EXPR | $R_FLD)"
			i=$((i + 1))
		fi
		[ $i -eq "$to" ] || tpl_die "unexpected ${TK[i]} in operand"
		return
	fi
	[ $((to - from)) -eq 1 ] || tpl_die "function \"${f#.}\" not defined"
	tpl_operand "$f"
}
# tpl_fields .A.B: the jq path into R_FLD.
tpl_fields() {
	local p=${1#.} k
	local -a ks
	R_FLD=.
	[ -n "$p" ] || return 0
	IFS=. read -ra ks <<<"$p"
	R_FLD=
	for k in "${ks[@]}"; do
		[[ $k =~ ^[A-Za-z0-9_]+$ ]] || tpl_die "bad character in field name \"$k\""
		R_FLD+=" | _idx(\"$k\")"
	done
	R_FLD="(.${R_FLD})"
}
tpl_operand() {
	local o=$1
	case $o in
	.*)
		tpl_fields "$o"
		R_EXPR=$R_FLD
		;;
	\$*)
		local v=${o#\$} rest=""
		[[ $v == *.* ]] && rest=.${v#*.} v=${v%%.*}
		if [ -z "$v" ]; then
			v='$__root'
		else
			[[ $R_TPL_VARS == *" $v "* ]] || tpl_die "undefined variable \"\$$v\""
			v="\$v_$v"
		fi
		if [ -n "$rest" ]; then
			tpl_fields "$rest"
			R_EXPR="($v | $R_FLD)"
		else
			R_EXPR=$v
		fi
		;;
	'"'*) R_EXPR=$o ;;
	'`'*)
		o=${o#\`}
		R_EXPR=$(json_str "${o%\`}")
		;;
	true | false) R_EXPR=$o ;;
	nil) R_EXPR=null ;;
	*)
		[[ $o =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || tpl_die "function \"$o\" not defined"
		R_EXPR=$o
		;;
	esac
}
# tpl_func NAME ARGS...: a function call as a jq expression, into R_EXPR.
tpl_func() {
	local f=$1 k
	shift
	local n=$#
	tpl_argc() { [ "$n" -ge "$1" ] && { [ -z "${2:-}" ] || [ "$n" -le "$2" ]; } || tpl_die "wrong number of args for $f: want $1 got $n"; }
	case $f in
	json)
		tpl_argc 1 1
		R_EXPR="($1 | tojson)"
		;;
	index)
		tpl_argc 1
		R_EXPR="($1"
		shift
		local k
		for k in "$@"; do R_EXPR+=" | _idx($k)"; done
		R_EXPR+=")"
		;;
	join)
		tpl_argc 2 2
		R_EXPR="([$1 | _iter | _s] | join($2 | _s))"
		;;
	split)
		tpl_argc 2 2
		R_EXPR="($1 | _s | split($2 | _s))"
		;;
	lower)
		tpl_argc 1 1
		R_EXPR="($1 | _s | ascii_downcase)"
		;;
	upper)
		tpl_argc 1 1
		R_EXPR="($1 | _s | ascii_upcase)"
		;;
	title)
		tpl_argc 1 1
		R_EXPR="($1 | _s | _title)"
		;;
	len)
		tpl_argc 1 1
		R_EXPR="($1 | length)"
		;;
	eq)
		tpl_argc 2
		local a=$1 r="false"
		shift
		for k in "$@"; do r+=" or ($a == $k)"; done
		R_EXPR="($r)"
		;;
	ne)
		tpl_argc 2 2
		R_EXPR="($1 != $2)"
		;;
	lt | le | gt | ge)
		tpl_argc 2 2
		local op
		case $f in lt) op='<' ;; le) op='<=' ;; gt) op='>' ;; ge) op='>=' ;; esac
		R_EXPR="($1 $op $2)"
		;;
	not)
		tpl_argc 1 1
		R_EXPR="($1 | _t | not)"
		;;
	and | or)
		tpl_argc 2
		R_EXPR=$1
		shift
		for k in "$@"; do
			if [ "$f" = and ]; then
				R_EXPR="(($R_EXPR) as \$__a | if (\$__a | _t) then $k else \$__a end)"
			else
				R_EXPR="(($R_EXPR) as \$__a | if (\$__a | _t) then \$__a else $k end)"
			fi
		done
		;;
	print | println)
		local p="\"\"" prevstr=1
		for k in "$@"; do
			# (Go's print puts a space between two operands when neither is a string)
			p+=" + ($k | if type == \"string\" then . else _s end)"
		done
		[ $n -gt 0 ] || p='""'
		[ "$f" = println ] && p+=' + "\n"'
		: "$prevstr"
		R_EXPR="($p)"
		;;
	printf)
		tpl_argc 1
		tpl_printf "$@"
		;;
	slice)
		tpl_argc 1 3
		case $n in
		1) R_EXPR="$1" ;;
		2) R_EXPR="($1 | .[$2:])" ;;
		3) R_EXPR="($1 | .[$2:$3])" ;;
		esac
		;;
	truncate)
		tpl_argc 2 2
		R_EXPR="($1 | _s | .[:($2)])"
		;;
	pad)
		tpl_argc 3 3
		R_EXPR="((\" \" * ($2) // \"\") + ($1 | _s) + (\" \" * ($3) // \"\"))"
		;;
	*) tpl_die "function \"$f\" not defined" ;;
	esac
}
# tpl_printf FORMAT ARGS...: Go's printf for a literal FORMAT: %s %v %d %q %%, with a width
# (%-10s, %5d).
tpl_printf() {
	local fmt=$1 e="\"\"" piece="" i=0 a
	shift
	local -a args=("$@")
	[[ $fmt == '"'*'"' ]] || tpl_die "printf: the format must be a quoted string"
	fmt=$(jq -r . <<<"$fmt") || tpl_die "printf: bad format string"
	while [ -n "$fmt" ]; do
		if [[ $fmt =~ ^%(-?)([0-9]*)([svdqf%]) ]]; then
			[ -n "$piece" ] && e+=" + $(json_str "$piece")" && piece=""
			fmt=${fmt:${#BASH_REMATCH[0]}}
			if [ "${BASH_REMATCH[3]}" = % ]; then
				piece+=%
				continue
			fi
			a=${args[i]:-null}
			i=$((i + 1))
			case ${BASH_REMATCH[3]} in
			q) a="($a | tojson)" ;;
			*) a="($a | _s)" ;;
			esac
			if [ -n "${BASH_REMATCH[2]}" ]; then
				if [ -n "${BASH_REMATCH[1]}" ]; then a="($a | _pad(${BASH_REMATCH[2]}))"; else a="($a | _lpad(${BASH_REMATCH[2]}))"; fi
			fi
			e+=" + $a"
		else
			piece+=${fmt:0:1}
			fmt=${fmt:1}
		fi
	done
	[ -n "$piece" ] && e+=" + $(json_str "$piece")"
	R_EXPR="($e)"
}

# tpl_apply TEMPLATE: each JSON object of stdin through TEMPLATE, a line each.  Status 1 with
# Docker's message when the template fails on a value.
tpl_apply() {
	tpl_compile "$1"
	local err
	if ! err=$(jq -r "$TPL_PRELUDE $R_JQ" 2>&1 >&3); then
		err=${err#jq: error (at <stdin>:*): }
		echo "contain: template: executing: ${err#jq: error: }" >&2
		return 1
	fi 3>&1
}

# tpl_listing FORMAT DEFAULT HEADERS: a listing's rows (JSON objects on stdin) through FORMAT
# (a Go template, `table TEMPLATE`, "json", "table", or empty for DEFAULT, a `table` one).
# HEADERS is a JSON object of the column titles by field (Docker's: {"ID":"CONTAINER ID"}).
# Docker's \t and \n stand for a tab and a newline; a table's columns are aligned.
tpl_listing() {
	local f=${1:-$2} hdr=$3 table=0
	[ "$f" = table ] && f=$2
	[ "$f" = json ] && f='{{json .}}'
	if [[ $f == table* ]]; then
		table=1
		f=${f#table}
	fi
	f=${f#"${f%%[! ]*}"}
	f=${f%"${f##*[! ]}"}
	f=${f//\\t/$'\t'}
	f=${f//\\n/$'\n'}
	if [ $table = 1 ]; then
		{ jq -n "$hdr" && cat; } | tpl_apply "$f" | tpl_table
	else
		tpl_apply "$f"
	fi
}
# tpl_table: tab-separated lines aligned in columns (the last cell of a line is not padded),
# measured in display width, each column as wide as its widest cell and 3 more (10 at
# least), as Docker's tabwriter makes them.
tpl_table() {
	jq -Rrs "$TPL_PRELUDE"'
	  (rtrimstr("\n") | split("\n") | map(split("\t"))) as $rows
	  | ([$rows[] | length] | max // 0) as $n
	  | [range(0; $n) as $i | [$rows[] | select(length > $i + 1) | .[$i] | _w] | max // 0 | [. + 3, 10] | max] as $ws
	  | $rows[] | . as $r | [range(0; length) as $i | if $i < ($r | length) - 1 then ($r[$i] | _pad($ws[$i])) else $r[$i] end] | join("")'
}
