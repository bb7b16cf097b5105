# shellcheck shell=bash
# contain's build.sh: `contain build`: images from a Containerfile (FROM, RUN, COPY, ENV, ...
# with a cache of layers by key).
# Read by the front script (contain) for the commands that need it; never run alone.

# contain build -t NAME[:TAG] [-f FILE] [--build-arg K=V] [--no-cache] [--target STAGE] CONTEXT
# Each RUN runs in a container of our own chain (contain run --network none), its writable layer
# becomes the step's layer (whiteouts included).  The cache ($ROOT/buildcache/KEY: a layer) is
# keyed by the chain of the steps before (the base image's id, then each instruction, with
# its files' digest for COPY and ADD).

# bf_expand STR: BX = STR with $NAME, ${NAME}, ${NAME:-WORD} and ${NAME:+WORD} of BV (the
# ARG and ENV values), as Dockerfile substitutes them; \$ stays a literal $.
bf_expand() {
	local s=$1 out="" c n v w op
	while [ -n "$s" ]; do
		c=${s:0:1}
		if [ "$c" = '\' ] && [ "${s:1:1}" = '$' ]; then
			out+='$'
			s=${s:2}
		elif [ "$c" = '$' ] && [[ $s =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)(:[-+][^}]*)?\} ]]; then
			n=${BASH_REMATCH[1]} op=${BASH_REMATCH[2]}
			v=${BV[$n]-}
			if [ -n "$op" ]; then
				w=${op:2}
				if [ "${op:1:1}" = - ]; then [ -n "$v" ] || v=$w; else [ -n "$v" ] && v=$w; fi
			fi
			out+=$v
			s=${s:${#BASH_REMATCH[0]}}
		elif [ "$c" = '$' ] && [[ $s =~ ^\$([A-Za-z_][A-Za-z0-9_]*) ]]; then
			out+=${BV[${BASH_REMATCH[1]}]-}
			s=${s:${#BASH_REMATCH[0]}}
		else
			out+=$c
			s=${s:1}
		fi
	done
	BX=$out
}
# bf_words STR: BW = the words of STR, quotes as the shell takes them (no expansion).
bf_words() {
	BW=()
	[ -n "${1// /}" ] || return 0
	mapfile -d '' -t BW < <(printf '%s\n' "$1" | xargs printf '%s\0' 2>/dev/null) &&
		[ ${#BW[@]} -gt 0 ] || die "build: cannot split '$1' into words (unmatched quote?)"
}
# bf_argv STR: BA = the exec form (a JSON array of strings) or the shell form of STR.
bf_argv() {
	BA=()
	if [[ $1 == \[* ]] && mapfile -d '' -t BA < <(jq -j 'if type == "array" and all(type == "string") then "ok\u0000", (.[] | (., "\u0000")) else empty end' <<<"$1" 2>/dev/null) &&
		[ "${BA[0]:-}" = ok ]; then
		BA=("${BA[@]:1}")
	else
		BA=(/bin/sh -c "$1")
	fi
}
# bf_keyvals STR: BKV = NAME=VALUE words of ENV and LABEL (also the old form "NAME VALUE").
bf_keyvals() {
	BKV=()
	bf_expand "$1"
	local first=${BX%%[[:space:]]*}
	if [[ $first != *=* ]]; then
		local rest=${BX#"$first"}
		rest=${rest#"${rest%%[![:space:]]*}"}
		BKV=("$first=$rest")
		return
	fi
	bf_words "$BX"
	local w
	for w in "${BW[@]}"; do
		[[ $w == ?*=* ]] || die "build: '$w' is not NAME=VALUE"
		BKV+=("$w")
	done
}
bf_set() { # ARRAY NAME=VALUE: replace or add
	local -n _a=$1
	local i
	for i in "${!_a[@]}"; do
		[ "${_a[i]%%=*}" = "${2%%=*}" ] && unset '_a[i]'
	done
	_a=("${_a[@]}" "$2")
}

# bf_union_do LAYERS DIR CMD...: CMD with the union of LAYERS (bottom first) read-only at
# $ROOT/mnt, in a mount namespace of its own.
bf_union_do() {
	local -a ls lowers=()
	read -ra ls <<<"$1"
	shift
	local h i
	for ((i = ${#ls[@]} - 1; i >= 0; i--)); do lowers+=(--lower "$ROOT/layers/${ls[i]}/fs"); done
	[ ${#lowers[@]} -gt 0 ] || die "build: COPY --from a stage with no layer"
	tool_paths
	local -a ns=(--mount)
	[ "$ROOTLESS" = 1 ] && ns=(--user --map-root-user --mount)
	"${TOOL[unshare-rs]}" "${ns[@]}" -- "${TOOL[unionmount]}" -r "${lowers[@]}" "$ROOT/mnt" -- "$@"
}

# bf_copy_into SRCROOT FS DEST ADD SRC...: copy SRCs (globs, relative to SRCROOT) to DEST of
# the tree FS as Dockerfile's COPY does (ADD: local tar archives unpacked).
bf_copy_into() {
	local root=$1 fs=$2 dest=$3 add=$4 s m
	shift 4
	local -a srcs=()
	shopt -s nullglob dotglob
	for s in "$@"; do
		s=${s#/}
		[[ /$s/ == */../* ]] && die "build: '$s' is outside the build context"
		# shellcheck disable=SC2206
		m=("$root"/$s)
		[ ${#m[@]} -gt 0 ] || [ -e "$root/$s" ] || [ -L "$root/$s" ] || die "build: COPY: '$s' not found in the build context"
		[ ${#m[@]} -gt 0 ] || m=("$root/$s")
		srcs+=("${m[@]}")
	done
	shopt -u nullglob dotglob
	[[ $dest == /* ]] || dest=${N_WORKDIR:-/}/$dest
	local t="$fs$dest" todir=0
	[[ $dest == */ ]] || [ ${#srcs[@]} -gt 1 ] && todir=1
	for s in "${srcs[@]}"; do
		if [ "$add" = 1 ] && [ -f "$s" ] && tar -tf "$s" >/dev/null 2>&1; then
			mkdir -p -- "$t" && tar --numeric-owner -xpf "$s" -C "$t" || return 1
		elif [ -d "$s" ] && [ ! -L "$s" ]; then
			mkdir -p -- "$t" && cp -a -- "$s/." "$t/" || return 1
		elif [ $todir = 1 ]; then
			mkdir -p -- "$t" && cp -a -- "$s" "$t/" || return 1
		else
			mkdir -p -- "$(dirname -- "$t")" && cp -a -- "$s" "$t" || return 1
		fi
	done
	return 0
}

# bf_layer_from FS: store the tree FS as a layer of the stage (cache key BKEY); sets L_HEX.
bf_layer_from() {
	local fs=$1 tar="$1.tar"
	tar_tree "$fs" "$tar" || die "build: cannot pack the layer"
	lock
	layer_store "$tar" "$fs" || die "build: cannot store the layer"
	unlock
	bf_cache_put
}
bf_cache_put() {
	mkdir -p "$ROOT/buildcache"
	[ -e "$ROOT/buildcache/$BKEY" ] || TX_UNDO+=("$ROOT/buildcache/$BKEY")
	echo "$L_HEX" >"$ROOT/buildcache/$BKEY"
	L_TIME=$(now)
}
# bf_cached: true (L_HEX set) when the step BKEY is in the cache and may be used.
bf_cached() {
	[ "$BNOCACHE" = 0 ] && [ -s "$ROOT/buildcache/$BKEY" ] || return 1
	IFS= read -r L_HEX <"$ROOT/buildcache/$BKEY"
	# (the step's time is its first run's: a cached rebuild makes the same image id)
	L_TIME=$(stat -c %Y -- "$ROOT/buildcache/$BKEY")
	[ -d "$ROOT/layers/$L_HEX/fs" ] && [ -e "$ROOT/blobs/sha256/$L_HEX" ]
}
bf_key() { BKEY=$(printf '%s\n%s\n' "$BKEY" "$1" | sha256sum | cut -c1-64); }
bf_add_layer() { # HEX BY
	N_LAYERS+=("$1")
	N_HISTORY+=("$L_TIME"$'\t'"$1"$'\t'"$2")
}

# bf_run ARGV...: the step RUN in a container of the stage's image so far.
bf_run() {
	local work=$1
	shift
	local existed=0 cid rc=0 a
	# the step's image runs ARGV alone: no ENTRYPOINT nor CMD
	local -a sv_entry=("${N_ENTRY[@]}") sv_cmd=("${N_CMD[@]}")
	N_ENTRY=() N_CMD=()
	lock
	N_CREATED=$(now)
	make_image || die "build: cannot write the step's image"
	unlock
	N_ENTRY=("${sv_entry[@]}") N_CMD=("${sv_cmd[@]}")
	existed=1
	for a in "${TX_UNDO[@]}"; do [ "$a" = "$ROOT/images/$IMG_ID" ] && existed=0; done
	local img=$IMG_ID
	local -a envs=()
	for a in "${!BARGS_USED[@]}"; do envs+=(-e "$a=${BV[$a]-}"); done
	rm -f -- "$work/cid"
	# (contain's own chain, as contain(1) says, whatever the default runtime: a step's
	# container keeps nothing of a runtime's in the store)
	"$0" run --cidfile "$work/cid" --network none --runtime contain "${envs[@]}" "$img" "$@" </dev/null || rc=$?
	[ -s "$work/cid" ] && IFS= read -r cid <"$work/cid"
	if [ $rc = 0 ] && [ -n "${cid:-}" ]; then
		rm -rf -- "$work/fs" "$work/fs.tar"
		upper_to_tar "$ROOT/containers/$cid/upper" "$work/fs.tar" && cp -a -- "$ROOT/containers/$cid/upper" "$work/fs" || rc=125
	fi
	[ -n "${cid:-}" ] && "$0" rm -f "$cid" >/dev/null 2>&1
	# the step's image was only there to run the step
	if [ $existed = 0 ] && ! image_tags "$img" | grep -q .; then
		rm -rf -- "$ROOT/images/$img" "$ROOT/blobs/sha256/$img"
	fi
	[ $rc = 0 ] || die "build: RUN $* returned a non-zero code: $rc"
	lock
	layer_store "$work/fs.tar" "$work/fs" || die "build: cannot store the layer"
	unlock
	bf_cache_put
}

cmd_build_file() {
	local tag="" file="" ctx="" target="" BNOCACHE=0 a
	local -a bargs=()
	while [ $# -gt 0 ]; do
		case $1 in
		-t | --tag) tag=${2:-} && shift ;;
		--tag=*) tag=${1#*=} ;;
		-f | --file) file=${2:-} && shift ;;
		--file=*) file=${1#*=} ;;
		--build-arg) bargs+=("${2:-}") && shift ;;
		--build-arg=*) bargs+=("${1#*=}") ;;
		--target) target=${2:-} && shift ;;
		--target=*) target=${1#*=} ;;
		--no-cache) BNOCACHE=1 ;;
		-q | --quiet) ;;
		-*) die "build: unknown option '$1'" ;;
		*) [ -z "$ctx" ] || die "build: one CONTEXT only" && ctx=$1 ;;
		esac
		shift
	done
	[ -n "$ctx" ] || die "build: usage: contain build -t NAME[:TAG] [-f FILE] [--build-arg NAME=VALUE] [--no-cache] [--target STAGE] CONTEXT"
	[ -d "$ctx" ] || die "build: the context '$ctx' is not a directory"
	local name="" rtag=""
	if [ -n "$tag" ]; then
		need_ref "$tag"
		name=$R_NAME rtag=$R_TAG
	fi
	if [ -z "$file" ]; then
		if [ -f "$ctx/Containerfile" ]; then file=$ctx/Containerfile; else file=$ctx/Dockerfile; fi
	fi
	[ -f "$file" ] || die "build: cannot read '$file' (no Containerfile or Dockerfile in $ctx)"
	need_jq build
	store_init
	tx_begin
	local work
	tx_work work build
	# .dockerignore: the context copied without what it names
	local ign=$ctx/.dockerignore
	[ -f "$ctx/${file##*/}.dockerignore" ] && ign=$ctx/${file##*/}.dockerignore
	if [ -f "$ign" ]; then
		grep -v '^[[:space:]]*#' "$ign" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e 's#^/##' -e 's#^\./##' |
			grep -v '^$' >"$work/ignore"
		grep -q '^!' "$work/ignore" && warn "build: exceptions (!PATTERN) in $ign are not supported: ignored"
		mkdir -p "$work/ctx"
		(cd "$ctx" && find . -mindepth 1 -maxdepth 1 -printf '%P\0' |
			tar --anchored --no-wildcards-match-slash --exclude-from="$work/ignore" --null -T - -cf -) |
			tar -C "$work/ctx" -xpf - || die "build: cannot read the context"
		ctx=$work/ctx
	fi
	# the instructions: continuation lines joined, comments dropped
	local -a ins=()
	local line cur=""
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		if [ -z "$cur" ]; then
			[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		else
			[[ $line =~ ^[[:space:]]*# ]] && continue
		fi
		if [[ $line == *\\ ]]; then
			cur+=${line%\\}
			continue
		fi
		cur+=$line
		ins+=("$cur")
		cur=""
	done <"$file"
	[ -n "$cur" ] && ins+=("$cur")
	declare -A BV=() BARG=() STAGE_LAYERS=() BARGS_USED=()
	local -a stage_cfg=()
	for a in "${bargs[@]}"; do
		if [[ $a == *=* ]]; then BARG[${a%%=*}]=${a#*=}; else BARG[$a]=${!a-}; fi
	done
	local i kw rest n=0 stage=-1 sname from BKEY="" by
	local -a globals=()
	local total=${#ins[@]}
	for i in "${!ins[@]}"; do
		line=${ins[i]#"${ins[i]%%[![:space:]]*}"}
		kw=${line%%[[:space:]]*}
		rest=${line#"$kw"}
		rest=${rest#"${rest%%[![:space:]]*}"}
		kw=${kw^^}
		n=$((n + 1))
		echo "STEP $n/$total: $kw $rest"
		if [ "$kw" != FROM ] && [ $stage -lt 0 ]; then
			[ "$kw" = ARG ] || die "build: $kw before FROM"
		fi
		case $kw in
		FROM)
			[ $stage -ge 0 ] && bf_stage_end
			stage=$((stage + 1))
			BV=()
			for a in "${globals[@]}"; do BV[$a]=${BARG[$a]-${GV[$a]-}}; done
			bf_words "$rest"
			from=${BW[0]:-}
			sname=""
			[ ${#BW[@]} -ge 3 ] && [ "${BW[1]^^}" = AS ] && sname=${BW[2],,}
			bf_expand "$from"
			from=$BX
			N_LAYERS=() N_CMD=() N_ENTRY=() N_HISTORY=() N_ENV=() N_WORKDIR= N_USER= N_EXPOSED=() N_LABELS=() N_STOPSIGNAL=
			if [ "$from" = scratch ]; then
				BKEY=$(echo scratch | sha256sum | cut -c1-64)
			elif [ -n "${STAGE_LAYERS[${from,,}]+x}" ]; then
				eval "${stage_cfg[${STAGE_IDX[${from,,}]}]}"
				BKEY=${STAGE_KEY[${from,,}]}
			else
				local fid
				fid=$(image_resolve "$from") || exit
				load_image_vars "$fid"
				BKEY=$fid
			fi
			BSTAGE=$stage BSNAME=$sname
			local e havepath=0
			for e in "${N_ENV[@]}"; do
				BV[${e%%=*}]=${e#*=}
				[[ $e == PATH=* ]] && havepath=1
			done
			# a base without PATH gets the default one, as docker build and buildah give it
			[ $havepath = 1 ] || N_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "${N_ENV[@]}")
			;;
		ARG)
			bf_words "$rest"
			for a in "${BW[@]}"; do
				local an=${a%%=*} av=
				[[ $a == *=* ]] && bf_expand "${a#*=}" && av=$BX
				if [ $stage -lt 0 ]; then
					globals+=("$an")
					declare -gA GV
					GV[$an]=$av
					BV[$an]=${BARG[$an]-$av}
				else
					if [ -n "${BARG[$an]+x}" ]; then BV[$an]=${BARG[$an]}
					elif [[ $a == *=* ]]; then BV[$an]=$av
					elif [ -n "${GV[$an]+x}" ]; then BV[$an]=${BARG[$an]-${GV[$an]}}
					fi
					BARGS_USED[$an]=1
				fi
			done
			;;
		ENV)
			bf_keyvals "$rest"
			for a in "${BKV[@]}"; do
				bf_set N_ENV "$a"
				BV[${a%%=*}]=${a#*=}
			done
			;;
		LABEL)
			bf_keyvals "$rest"
			for a in "${BKV[@]}"; do bf_set N_LABELS "$a"; done
			;;
		WORKDIR)
			bf_expand "$rest"
			[[ $BX == /* ]] || BX=${N_WORKDIR:-/}/$BX
			N_WORKDIR=$(realpath -m -- "$BX")
			# made when no layer has it, as buildah makes it
			local h have=0
			for h in "${N_LAYERS[@]}"; do [ -d "$ROOT/layers/$h/fs$N_WORKDIR" ] && have=1; done
			if [ $have = 0 ] && [ "$N_WORKDIR" != / ]; then
				bf_key "WORKDIR $N_WORKDIR (made)"
				if ! bf_cached; then
					rm -rf -- "$work/fs" "$work/fs.tar"
					mkdir -p -- "$work/fs$N_WORKDIR"
					bf_layer_from "$work/fs"
				fi
				bf_add_layer "$L_HEX" "WORKDIR $N_WORKDIR"
			fi
			;;
		USER)
			bf_expand "$rest"
			N_USER=$BX
			;;
		EXPOSE)
			bf_expand "$rest"
			bf_words "$BX"
			for a in "${BW[@]}"; do
				[[ $a == */* ]] || a+=/tcp
				bf_set N_EXPOSED "$a"
			done
			;;
		STOPSIGNAL)
			bf_expand "$rest"
			N_STOPSIGNAL=$BX
			;;
		CMD)
			bf_argv "$rest"
			N_CMD=("${BA[@]}")
			;;
		ENTRYPOINT)
			bf_argv "$rest"
			N_ENTRY=("${BA[@]}")
			N_CMD=()
			;;
		RUN)
			bf_argv "$rest"
			local argsig=""
			for a in "${!BARGS_USED[@]}"; do argsig+="$a=${BV[$a]-} "; done
			local q
			printf -v q '%q ' "${BA[@]}" "|" "$argsig" "${N_USER:-}" "${N_WORKDIR:-}" "${N_ENV[@]}"
			bf_key "RUN $q"
			if bf_cached; then
				echo "--> Using cache $L_HEX"
			else
				bf_run "$work" "${BA[@]}"
			fi
			bf_add_layer "$L_HEX" "RUN $rest"
			;;
		COPY | ADD)
			bf_words "$rest"
			local -a cw=("${BW[@]}")
			local srcroot=$ctx fromst="" cflag
			while [ ${#cw[@]} -gt 0 ] && [[ ${cw[0]} == --* ]]; do
				cflag=${cw[0]}
				case $cflag in
				--from=*) fromst=${cflag#--from=} ;;
				--chown=* | --chmod=* | --link | --link=*) warn "build: $kw $cflag is not supported: ignored" ;;
				*) die "build: $kw: unknown option '$cflag'" ;;
				esac
				cw=("${cw[@]:1}")
			done
			[ ${#cw[@]} -ge 2 ] || die "build: $kw needs a source and a destination"
			for a in "${!cw[@]}"; do bf_expand "${cw[a]}" && cw[a]=$BX; done
			local dest=${cw[-1]}
			unset 'cw[-1]'
			rm -rf -- "$work/fs" "$work/fs.tar"
			mkdir -p "$work/fs"
			if [ -n "$fromst" ]; then
				local fl
				if [ -n "${STAGE_LAYERS[${fromst,,}]+x}" ]; then
					fl=${STAGE_LAYERS[${fromst,,}]}
				else
					local fid
					fid=$(image_resolve "$fromst") || exit
					fl=$(tr '\n' ' ' <"$ROOT/images/$fid/layers")
				fi
				bf_union_do "$fl" bash -c "$(declare -f bf_copy_into die warn); N_WORKDIR='${N_WORKDIR//\'/}'; bf_copy_into \"\$@\"" _ "$ROOT/mnt" "$work/fs" "$dest" 0 "${cw[@]}" ||
					die "build: $kw --from=$fromst ${cw[*]} failed"
			else
				bf_copy_into "$srcroot" "$work/fs" "$dest" "$([ "$kw" = ADD ] && echo 1 || echo 0)" "${cw[@]}" ||
					die "build: $kw ${cw[*]} failed"
				# files from the context are root's, as COPY without --chown makes them
				chown -hR 0:0 -- "$work/fs"
			fi
			local dg
			dg=$(tar --sort=name --numeric-owner --mtime=@0 -C "$work/fs" -cf - . | sha256sum | cut -c1-64)
			bf_key "$kw ${cw[*]} $dest ${N_WORKDIR:-} $dg"
			if bf_cached; then
				echo "--> Using cache $L_HEX"
				rm -rf -- "$work/fs"
			else
				bf_layer_from "$work/fs"
			fi
			bf_add_layer "$L_HEX" "$kw ${cw[*]} $dest"
			;;
		VOLUME | HEALTHCHECK | ONBUILD | SHELL | MAINTAINER)
			warn "build: $kw is not supported: ignored"
			;;
		*) die "build: unknown instruction '$kw'" ;;
		esac
		# every instruction is in the chain of keys (the metadata ones change later steps)
		case $kw in RUN | COPY | ADD | FROM) ;; *) bf_key "$kw $rest" ;; esac
	done
	[ $stage -ge 0 ] || die "build: no FROM in $file"
	if [ -n "$target" ]; then
		[ -n "${STAGE_IDX[${target,,}]+x}" ] || [ "$BSNAME" = "${target,,}" ] || die "build: no stage named '$target'"
		[ "$BSNAME" = "${target,,}" ] || eval "${stage_cfg[${STAGE_IDX[${target,,}]}]}"
	fi
	lock
	N_CREATED=$(now)
	[ ${#N_HISTORY[@]} -gt 0 ] && N_CREATED=${N_HISTORY[-1]%%$'\t'*}
	make_image || die "build: cannot write the image"
	[ -z "$name" ] || tag_set "$name" "$rtag" "$IMG_ID" || die "build: cannot write the tag"
	unlock
	echo "sha256:$IMG_ID"
}
# bf_stage_end: remember the stage's image (its config as shell code) for FROM and COPY --from.
declare -gA STAGE_IDX=() STAGE_KEY=()
bf_stage_end() {
	stage_cfg[BSTAGE]=$(declare -p N_LAYERS N_CMD N_ENTRY N_HISTORY N_ENV N_WORKDIR N_USER N_EXPOSED N_LABELS N_STOPSIGNAL | sed -E 's/^declare -[-a-zA-Z]* //')
	STAGE_LAYERS[$BSTAGE]="${N_LAYERS[*]}"
	STAGE_IDX[$BSTAGE]=$BSTAGE
	STAGE_KEY[$BSTAGE]=$BKEY
	if [ -n "$BSNAME" ]; then
		STAGE_LAYERS[$BSNAME]="${N_LAYERS[*]}"
		STAGE_IDX[$BSNAME]=$BSTAGE
		STAGE_KEY[$BSNAME]=$BKEY
	fi
}

# contain build: from a Containerfile when given -t, -f, --build-arg, --no-cache or --target, or
# a CONTEXT directory with a Containerfile or Dockerfile alone; else the host-programs build
# (contain mkimage, the document's method).
cmd_build_dispatch() {
	local a pos=() prev=""
	for a in "$@"; do
		case $prev in --file | --env | --workdir | --user | --cmd | --entrypoint | --from | -t | --tag | -f | --build-arg | --target)
			prev=""
			continue
			;;
		esac
		case $a in
		-t | --tag | --tag=* | -f | --build-arg | --build-arg=* | --no-cache | --target | --target=*) cmd_build_file "$@" && return ;;
		-*) prev=$a ;;
		*) pos+=("$a") ;;
		esac
	done
	if [ ${#pos[@]} -eq 1 ] && { [ -f "${pos[0]}/Containerfile" ] || [ -f "${pos[0]}/Dockerfile" ]; }; then
		cmd_build_file "$@"
	else
		cmd_build "$@"
	fi
}
