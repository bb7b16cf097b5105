# shellcheck shell=bash
# contain's images.sh: the image store: layers, images and tags under a transaction, mkimage,
# import, images, tag, rmi, history, commit and export.
# Read by the front script (contain) for the commands that need it; never run alone.

# contain: the image store.
#
#   $ROOT/blobs/sha256/HEX   layer tarballs (OCI format: .wh. whiteouts) and image configs
#   $ROOT/layers/HEX/fs      the unpacked layer (overlay format: 0:0 whiteouts), read-only use
#   $ROOT/layers/HEX/size    its size in bytes
#   $ROOT/images/ID/         an image: layers (HEX per line, bottom first), cmd, entrypoint
#                            (NUL-separated), history (created TAB layer TAB created_by), created
#   $ROOT/repositories       NAME TAG ID, one tag per line
# An image id is the sha256 of its OCI config (which lists the layers' digests), as in docker;
# a layer id is the sha256 of its uncompressed tar (the OCI diff_id).

arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	*) uname -m ;;
	esac
}

image_layers() { cat "$ROOT/images/$1/layers"; }
image_size() {
	local total=0 h
	while read -r h; do
		total=$((total + $(cat "$ROOT/layers/$h/size" 2>/dev/null || echo 0)))
	done <"$ROOT/images/$1/layers"
	echo $total
}
image_tags() { awk -v i="$1" '$3 == i { print $1 ":" $2 }' "$ROOT/repositories"; }

# The tags are changed under the store's lock, written whole (a temporary file renamed over
# them); on an I/O error (a full disk) nothing is changed and nothing is left (status 1).
tag_set() { # NAME TAG ID
	local tmp="$ROOT/repositories.new.$$"
	[ -d "$ROOT/images/$3" ] || return 1
	{ awk -v n="$1" -v t="$2" '!($1 == n && $2 == t)' "$ROOT/repositories" >"$tmp" &&
		echo "$1 $2 $3" >>"$tmp" && mv "$tmp" "$ROOT/repositories"; } 2>/dev/null && {
		ev_emit image tag "sha256:$3" "\"name\":\"$1:$2\""
		return 0
	}
	rm -f -- "$tmp"
	return 1
}
tag_del() { # NAME TAG
	local tmp="$ROOT/repositories.new.$$"
	{ awk -v n="$1" -v t="$2" '!($1 == n && $2 == t)' "$ROOT/repositories" >"$tmp" &&
		mv "$tmp" "$ROOT/repositories"; } 2>/dev/null && return 0
	rm -f -- "$tmp"
	die "cannot write $ROOT/repositories (is the disk full?)"
}

# Transactions of the image commands: tx_begin, then TX_UNDO gets what the command creates in
# the store (removed if it fails: die, a signal) and TX_TMP its work files (always removed).
TX_UNDO=()
TX_TMP=()
tx_end() {
	local rc=$?
	trap - EXIT
	[ $rc -ne 0 ] && [ ${#TX_UNDO[@]} -gt 0 ] && rm -rf -- "${TX_UNDO[@]}"
	[ ${#TX_TMP[@]} -gt 0 ] && rm -rf -- "${TX_TMP[@]}"
	exit $rc
}
tx_begin() {
	TX_UNDO=()
	TX_TMP=()
	trap tx_end EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}
# tx_lock: lock the store once for the whole command (lock again would drop it for a moment).
TX_LOCKED=0
tx_lock() {
	[ $TX_LOCKED = 1 ] && return 0
	lock
	TX_LOCKED=1
}
# tx_work VAR KIND: VAR = a new work directory under $ROOT/tmp, removed when the command ends.
tx_work() {
	local -n _tw=$1
	_tw=$(mktemp -d "$ROOT/tmp/$2.XXXXXX") || die "cannot create a work directory under $ROOT/tmp"
	TX_TMP+=("$_tw")
}

# decompress SRC DST: DST = the tar in SRC, plain, gzip or zstd (by its first bytes).
decompress() {
	local magic
	magic=$(head -c4 -- "$1" | od -An -tx1 | tr -d ' \n') || return 1
	case $magic in
	1f8b*) gzip -dc -- "$1" >"$2" ;;
	28b52ffd) zstd -qdc -- "$1" >"$2" ;;
	fd377a58) echo "xz-compressed layers are not supported (OCI layers are tar, gzip or zstd)" >&2 && return 1 ;;
	425a68*) echo "bzip2-compressed layers are not supported (OCI layers are tar, gzip or zstd)" >&2 && return 1 ;;
	*) cp -- "$1" "$2" ;;
	esac
}

# Unpack the OCI layer tar $1 into the directory $2 with overlay whiteouts (mkrootfs --import:
# leading '/' stripped, '..', links out of the root and unlawful device nodes refused; on
# failure $2 is left as it was).
extract_layer() {
	mkdir -p "$2" || return 1
	mkrootfs --import "$1" "$2" >/dev/null
}

# A deterministic tar of a plain tree.
tar_tree() { tar --sort=name --numeric-owner --format=gnu -C "$1" -cf "$2" .; }

# Store the OCI layer tar $1 (moved in); with $2, the tree $2 (moved in) is its unpacked form.
# Sets L_HEX.
layer_store() {
	local tar=$1 tree=${2:-} hex
	hex=$(sha256_of "$tar") || return 1
	L_HEX=$hex
	if [ -d "$ROOT/layers/$hex/fs" ]; then
		rm -f -- "$tar"
		[ -n "$tree" ] && rm -rf -- "$tree"
		return 0
	fi
	local ld="$ROOT/layers/$hex.new.$$"
	rm -rf -- "$ld"
	TX_TMP+=("$ld")
	mkdir -p "$ld" || return 1
	if [ -n "$tree" ]; then
		mv -- "$tree" "$ld/fs" || return 1
	else
		extract_layer "$tar" "$ld/fs" || {
			rm -rf -- "$ld"
			return 1
		}
	fi
	du -sb --apparent-size "$ld/fs" | cut -f1 >"$ld/size"
	TX_UNDO+=("$ROOT/layers/$hex")
	[ -e "$ROOT/blobs/sha256/$hex" ] || TX_UNDO+=("$ROOT/blobs/sha256/$hex")
	mv -- "$tar" "$ROOT/blobs/sha256/$hex" && mv -- "$ld" "$ROOT/layers/$hex"
}

# make_image: from the globals N_LAYERS (array, bottom first), N_CMD, N_ENTRY, N_ENV (NAME=VALUE
# words), N_WORKDIR, N_USER, N_HISTORY (array of "created<TAB>hex<TAB>by") and N_CREATED, write
# the config and the image; sets IMG_ID.
make_image() {
	local cfg="$ROOT/tmp/config.$$" h first line diff hist created by
	diff=""
	first=1
	for h in "${N_LAYERS[@]}"; do
		[ $first = 1 ] || diff+=","
		first=0
		diff+="\"sha256:$h\""
	done
	hist=""
	first=1
	local comment lh
	for line in "${N_HISTORY[@]}"; do
		IFS=$'\t' read -r created lh by comment <<<"$line"
		[ $first = 1 ] || hist+=","
		first=0
		hist+="{\"created\":$(json_str "$(iso "$created")"),\"created_by\":$(json_str "$by")${comment:+,\"comment\":$(json_str "$comment")}}"
	done
	{
		printf '{"architecture":"%s","config":{' "$(arch)"
		[ -n "${N_USER:-}" ] && printf '"User":%s,' "$(json_str "$N_USER")"
		[ ${#N_ENV[@]} -gt 0 ] && printf '"Env":%s,' "$(json_arr "${N_ENV[@]}")"
		[ -n "${N_WORKDIR:-}" ] && printf '"WorkingDir":%s,' "$(json_str "$N_WORKDIR")"
		[ ${#N_ENTRY[@]} -gt 0 ] && printf '"Entrypoint":%s,' "$(json_arr "${N_ENTRY[@]}")"
		if [ ${#N_EXPOSED[@]} -gt 0 ]; then
			printf '"ExposedPorts":{'
			local p c=""
			for p in "${N_EXPOSED[@]}"; do printf '%s%s:{}' "$c" "$(json_str "$p")" && c=,; done
			printf '},'
		fi
		if [ ${#N_LABELS[@]} -gt 0 ]; then
			printf '"Labels":{'
			local l c=""
			for l in "${N_LABELS[@]}"; do printf '%s%s:%s' "$c" "$(json_str "${l%%=*}")" "$(json_str "${l#*=}")" && c=,; done
			printf '},'
		fi
		[ -n "${N_STOPSIGNAL:-}" ] && printf '"StopSignal":%s,' "$(json_str "$N_STOPSIGNAL")"
		printf '"Cmd":%s},' "$(if [ ${#N_CMD[@]} -gt 0 ]; then json_arr "${N_CMD[@]}"; else echo null; fi)"
		[ -n "${N_AUTHOR:-}" ] && printf '"author":%s,' "$(json_str "$N_AUTHOR")"
		printf '"created":%s,"history":[%s],"os":"linux",' "$(json_str "$(iso "$N_CREATED")")" "$hist"
		printf '"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diff"
	} >"$cfg" || return 1
	IMG_ID=$(sha256_of "$cfg")
	if [ -d "$ROOT/images/$IMG_ID" ]; then
		rm -f -- "$cfg"
		return 0
	fi
	local d="$ROOT/images/$IMG_ID.new.$$"
	TX_TMP+=("$d" "$cfg")
	mkdir -p "$d" || return 1
	printf '%s\n' "${N_LAYERS[@]}" >"$d/layers"
	write_nul "$d/cmd" "${N_CMD[@]}"
	write_nul "$d/entrypoint" "${N_ENTRY[@]}"
	[ ${#N_ENV[@]} -gt 0 ] && write_nul "$d/env" "${N_ENV[@]}"
	[ -n "${N_WORKDIR:-}" ] && echo "$N_WORKDIR" >"$d/workdir"
	[ -n "${N_USER:-}" ] && echo "$N_USER" >"$d/user"
	[ ${#N_EXPOSED[@]} -gt 0 ] && printf '%s\n' "${N_EXPOSED[@]}" >"$d/exposed"
	printf '%s\n' "${N_HISTORY[@]}" >"$d/history"
	echo "$N_CREATED" >"$d/created"
	TX_UNDO+=("$ROOT/images/$IMG_ID")
	[ -e "$ROOT/blobs/sha256/$IMG_ID" ] || TX_UNDO+=("$ROOT/blobs/sha256/$IMG_ID")
	mv -- "$cfg" "$ROOT/blobs/sha256/$IMG_ID" && mv -- "$d" "$ROOT/images/$IMG_ID"
}

# Load an existing image into the N_ globals (to stack on it).
load_image_vars() {
	local id=$1
	mapfile -t N_LAYERS <"$ROOT/images/$id/layers"
	read_nul N_CMD "$ROOT/images/$id/cmd"
	read_nul N_ENTRY "$ROOT/images/$id/entrypoint"
	read_nul N_ENV "$ROOT/images/$id/env"
	N_WORKDIR= N_USER=
	[ -s "$ROOT/images/$id/workdir" ] && IFS= read -r N_WORKDIR <"$ROOT/images/$id/workdir"
	[ -s "$ROOT/images/$id/user" ] && IFS= read -r N_USER <"$ROOT/images/$id/user"
	mapfile -t N_HISTORY <"$ROOT/images/$id/history"
	N_EXPOSED=() N_LABELS=() N_STOPSIGNAL=
	[ -s "$ROOT/images/$id/exposed" ] && mapfile -t N_EXPOSED <"$ROOT/images/$id/exposed"
	if command -v jq >/dev/null; then
		# (one jq: the stop signal first, then the labels)
		mapfile -t N_LABELS < <(jq -r '(.config.StopSignal // ""), ((.config.Labels // {}) | to_entries[] | "\(.key)=\(.value)")' "$ROOT/blobs/sha256/$id")
		N_STOPSIGNAL=${N_LABELS[0]:-}
		N_LABELS=("${N_LABELS[@]:1}")
	fi
}
N_EXPOSED=()
N_LABELS=()
N_STOPSIGNAL=

need_ref() {
	parse_ref "$1" || die "invalid reference format: '$1' (NAME[:TAG], lowercase)"
}

cmd_build() {
	local ldd=() files=() cmd=() entry=() from="" setcmd=0 envs=() workdir="" user=""
	local setworkdir=0 setuser=0
	while [ $# -gt 0 ]; do
		case $1 in
		--env) envs+=("$2") && shift ;;
		--env=*) envs+=("${1#*=}") ;;
		--workdir) workdir=$2 setworkdir=1 && shift ;;
		--workdir=*) workdir=${1#*=} setworkdir=1 ;;
		--user) user=$2 setuser=1 && shift ;;
		--user=*) user=${1#*=} setuser=1 ;;
		--ldd) ldd=(--ldd) ;;
		--file) files+=(--file "$2") && shift ;;
		--file=*) files+=(--file "${1#*=}") ;;
		--cmd) read -ra cmd <<<"$2" && setcmd=1 && shift ;;
		--entrypoint) read -ra entry <<<"$2" && shift ;;
		--from) from=$2 && shift ;;
		--) shift && break ;;
		-*) die "build: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[ $# -ge 1 ] || die "build: usage: contain build [--ldd] [--cmd CMD] [--env NAME=VALUE] [--workdir DIR] [--user USER] [--from IMAGE] NAME[:TAG] [BINARY...]"
	need_ref "$1"
	local name=$R_NAME tag=$R_TAG
	shift
	store_init
	local parent=""
	[ -n "$from" ] && parent=$(image_resolve "$from")
	local work
	work=$(mktemp -d "$ROOT/tmp/build.XXXXXX") || die "cannot create a build directory"
	# shellcheck disable=SC2064
	trap "rm -rf -- '$work'" EXIT
	if ! mkrootfs "${ldd[@]}" "${files[@]}" "$work/fs" "$@"; then
		die "build: mkrootfs failed"
	fi
	tar_tree "$work/fs" "$work/layer.tar" || die "build: cannot pack the layer"
	local by="contain build ${ldd[*]} $*"
	N_LAYERS=() N_CMD=() N_ENTRY=() N_HISTORY=() N_ENV=() N_WORKDIR= N_USER=
	[ -n "$parent" ] && load_image_vars "$parent"
	if [ $setcmd = 1 ]; then
		N_CMD=("${cmd[@]}")
	elif [ -z "$parent" ]; then
		if [ -e "$work/fs/bin/sh" ] || [ -L "$work/fs/bin/sh" ]; then
			N_CMD=(/bin/sh)
		elif [ -e "$work/fs/bin/bash" ] || [ -L "$work/fs/bin/bash" ]; then
			N_CMD=(/bin/bash)
		fi
	fi
	[ ${#entry[@]} -gt 0 ] && N_ENTRY=("${entry[@]}")
	# --env NAME=VALUE as Dockerfile's ENV: added to (or replacing in) the parent's Env.
	local e i
	for e in "${envs[@]}"; do
		[[ $e == ?*=* ]] || die "build: --env needs NAME=VALUE, not '$e'"
		for i in "${!N_ENV[@]}"; do
			[ "${N_ENV[i]%%=*}" = "${e%%=*}" ] && unset 'N_ENV[i]'
		done
		N_ENV=("${N_ENV[@]}" "$e")
	done
	if [ $setworkdir = 1 ]; then
		[ -z "$workdir" ] || [[ $workdir == /* ]] || die "build: --workdir needs an absolute path"
		N_WORKDIR=$workdir
	fi
	[ $setuser = 1 ] && N_USER=$user
	lock
	layer_store "$work/layer.tar" "$work/fs" || die "build: cannot store the layer"
	N_LAYERS+=("$L_HEX")
	N_CREATED=$(now)
	N_HISTORY+=("$N_CREATED"$'\t'"$L_HEX"$'\t'"$by")
	make_image || die "build: cannot write the image"
	tag_set "$name" "$tag" "$IMG_ID" || die "build: cannot write the tag (is the disk full?)"
	unlock
	echo "sha256:$IMG_ID"
}

cmd_import() {
	[ $# -ge 2 ] || die "import: usage: contain import NAME[:TAG] LAYER.tar[.gz|.zst]..."
	need_ref "$1"
	local name=$R_NAME tag=$R_TAG f
	shift
	for f in "$@"; do [ -r "$f" ] || die "import: cannot read '$f'"; done
	store_init
	tx_begin
	local work err
	tx_work work import
	N_LAYERS=() N_CMD=() N_ENTRY=() N_HISTORY=() N_ENV=() N_WORKDIR= N_USER=
	N_CREATED=$(now)
	lock
	local i=0
	for f in "$@"; do
		i=$((i + 1))
		err=$(decompress "$f" "$work/$i.tar" 2>&1) || die "import: '$f': ${err:-cannot decompress}"
		layer_store "$work/$i.tar" || die "import: cannot unpack '$f'"
		N_LAYERS+=("$L_HEX")
		N_HISTORY+=("$N_CREATED"$'\t'"$L_HEX"$'\t'"contain import $(basename -- "$f")")
	done
	local top="$ROOT/layers/${N_LAYERS[-1]}/fs"
	if [ -e "$top/bin/sh" ] || [ -L "$top/bin/sh" ]; then N_CMD=(/bin/sh); fi
	make_image || die "import: cannot write the image"
	tag_set "$name" "$tag" "$IMG_ID" || die "import: cannot write the tag"
	unlock
	echo "sha256:$IMG_ID"
}

IMAGES_HEADERS='{"Repository":"REPOSITORY","Tag":"TAG","ID":"IMAGE ID","Digest":"DIGEST","CreatedSince":"CREATED","CreatedAt":"CREATED AT","Size":"SIZE","VirtualSize":"SIZE","SharedSize":"SHARED SIZE","UniqueSize":"UNIQUE SIZE","Containers":"CONTAINERS"}'
# contain images [-a] [-q] [--no-trunc] [--digests] [-f KEY=VALUE]... [--format FORMAT]
# [REPOSITORY[:TAG]]: the images, newest first, a row per tag (docker's columns).
cmd_images() {
	local quiet=0 trunc=1 format="" want="" a
	local -A FILTERS=()
	FILTER_KEYS="dangling reference label before since"
	while [ $# -gt 0 ]; do
		a=$1
		case $a in
		-q | --quiet) quiet=1 ;;
		-a | --all | --digests) ;;
		-aq | -qa) quiet=1 ;;
		--no-trunc) trunc=0 ;;
		-f | -f* | --filter | --filter=*)
			opt_value images "$@"
			filter_add "$R_OPT"
			shift "$R_SHIFT"
			continue
			;;
		--format | --format=*)
			opt_value images "$@"
			format=$R_OPT
			shift "$R_SHIFT"
			continue
			;;
		--help) echo "Usage: contain images [-a] [-q] [--no-trunc] [-f KEY=VALUE] [--format FORMAT] [REPOSITORY[:TAG]]" && return 0 ;;
		-*) die "images: unknown flag: $a (see 'contain images --help')" ;;
		*)
			[ -z "$want" ] || die "images: \"contain images\" requires at most 1 argument"
			want=$a
			;;
		esac
		shift
	done
	store_init
	local v
	local -A dang=() ref=()
	local before="" since=""
	if filter_has dangling; then
		while IFS= read -r v; do
			case $v in true | 1) dang[1]=1 ;; false | 0) dang[0]=1 ;; "") ;; *) die "invalid filter 'dangling=$v'" ;; esac
		done <<<"${FILTERS[dangling]}"
	fi
	if filter_has before; then
		image_find "$(head -n1 <<<"${FILTERS[before]}")" || die "No such image: $(head -n1 <<<"${FILTERS[before]}")"
		before=$(cat "$ROOT/images/$R_ID/created")
	fi
	if filter_has since; then
		image_find "$(head -n1 <<<"${FILTERS[since]}")" || die "No such image: $(head -n1 <<<"${FILTERS[since]}")"
		since=$(cat "$ROOT/images/$R_ID/created")
	fi
	local d id n t c sz ok labels
	local -a rows=()
	local -A seen=()
	while IFS=$'\t' read -r c n t id sz; do
		[ -n "$id" ] || continue
		if [ -n "$want" ]; then
			if [[ $want == *:* ]]; then [ "$n:$t" = "$want" ] || continue; else [ "$n" = "$want" ] || continue; fi
		fi
		if filter_has dangling; then
			if [ "$n" = "<none>" ]; then [ -n "${dang[1]:-}" ] || continue; else [ -n "${dang[0]:-}" ] || continue; fi
		fi
		if filter_has reference; then
			ok=0
			while IFS= read -r v; do
				[ -z "$v" ] && continue
				# shellcheck disable=SC2053
				if [[ $v == *:* ]]; then [[ "$n:$t" == $v ]] && ok=1; else [[ $n == $v ]] && ok=1; fi
			done <<<"${FILTERS[reference]}"
			[ $ok = 1 ] || continue
		fi
		[ -n "$before" ] && { [ "$c" -lt "$before" ] || continue; }
		[ -n "$since" ] && { [ "$c" -gt "$since" ] || continue; }
		if filter_has label; then
			labels=$(jq -c '.config.Labels // {}' "$ROOT/blobs/sha256/$id" 2>/dev/null) || labels={}
			ok=1
			while IFS= read -r v; do
				[ -z "$v" ] && continue
				if [[ $v == *=* ]]; then
					jq -e --arg k "${v%%=*}" --arg v "${v#*=}" '.[$k] == $v' >/dev/null <<<"$labels" || ok=0
				else
					jq -e --arg k "$v" 'has($k)' >/dev/null <<<"$labels" || ok=0
				fi
			done <<<"${FILTERS[label]}"
			[ $ok = 1 ] || continue
		fi
		if [ $quiet = 1 ]; then
			[ -n "${seen[$id]:-}" ] && continue
			seen[$id]=1
			if [ $trunc = 1 ]; then echo "${id:0:12}"; else echo "sha256:$id"; fi
			continue
		fi
		local sid=sha256:$id
		[ $trunc = 1 ] && sid=${id:0:12}
		rows+=("$(printf '{"Repository":%s,"Tag":%s,"ID":"%s","Digest":"<none>","CreatedSince":"%s","CreatedAt":"%s","Size":"%s","VirtualSize":"%s","SharedSize":"N/A","UniqueSize":"N/A","Containers":"N/A"}' \
			"$(json_str "$n")" "$(json_str "$t")" "$sid" "$(ago "$c")" "$(list_time "$c")" \
			"$(human_size "$sz")" "$(human_size "$sz")")")
	done < <(
		for d in "$ROOT"/images/*; do
			id=${d##*/}
			[[ $id == *.new.* ]] && continue
			[ -r "$d/created" ] || continue
			local tags
			tags=$(awk -v i="$id" '$3 == i { print $1, $2 }' "$ROOT/repositories")
			[ -n "$tags" ] || tags="<none> <none>"
			while read -r n t; do
				printf '%s\t%s\t%s\t%s\t%s\n' "$(cat "$d/created")" "$n" "$t" "$id" "$(image_size "$id")"
			done <<<"$tags"
		done | sort -t$'\t' -k1,1nr -k2,2 -k3,3
	)
	[ $quiet = 1 ] && return 0
	{
		[ ${#rows[@]} -gt 0 ] && printf '%s\n' "${rows[@]}"
		:
	} | tpl_listing "$format" 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}' "$IMAGES_HEADERS"
}

cmd_tag() {
	[ $# -eq 2 ] || die "tag: usage: contain tag SOURCE[:TAG] TARGET[:TAG]"
	store_init
	local id
	need_ref "$2"
	# (resolved under the lock: an rmi of the image may not come in between)
	lock
	id=$(image_resolve "$1") || exit
	tag_set "$R_NAME" "$R_TAG" "$id" || die "cannot write $ROOT/repositories (is the disk full?)"
	unlock
}

# Names of containers using image $1.
image_users() {
	local c
	local cid im
	for c in "$ROOT"/containers/*/; do
		cid=${c%/}
		cid=${cid##*/}
		cread im "$cid" image && [ "$im" = "$1" ] && echo "$cid"
	done
}

image_delete() { # ID [DIR]: remove the image (moved to DIR) and every layer no other image uses
	local id=$1 dir=${2:-$ROOT/images/$1} h others
	mapfile -t mine <"$dir/layers"
	rm -rf -- "${dir:?}" "$ROOT/blobs/sha256/$id"
	ev_emit image delete "sha256:$id" "\"name\":\"sha256:$id\""
	echo "Deleted: sha256:$id"
	others=$(cat "$ROOT"/images/*/layers 2>/dev/null)
	for h in "${mine[@]}"; do
		grep -qx -- "$h" <<<"$others" && continue
		[ -d "$ROOT/layers/$h" ] || continue
		rm -rf -- "${ROOT:?}/layers/$h" "$ROOT/blobs/sha256/$h"
		echo "Deleted: sha256:$h"
	done
}

cmd_rmi() {
	local force=0 rc=0 ref id users ntags
	while [ $# -gt 0 ]; do
		case $1 in
		-f | --force) force=1 ;;
		-*) die "rmi: unknown option '$1'" ;;
		*) break ;;
		esac
		shift
	done
	[ $# -ge 1 ] || die "rmi: usage: contain rmi [-f] IMAGE..."
	lock
	for ref in "$@"; do
		id=$(image_lookup "$ref") || {
			echo "contain: Error: No such image: $ref" >&2
			rc=1
			continue
		}
		users=$(image_users "$id" | head -1)
		ntags=$(image_tags "$id" | wc -l)
		local bytag=0
		if parse_ref "$ref" && image_tags "$id" | grep -xF -- "$R_NAME:$R_TAG" >/dev/null; then bytag=1; fi
		if [ $bytag = 1 ] && [ "$ntags" -gt 1 ]; then
			tag_del "$R_NAME" "$R_TAG"
			ev_emit image untag "sha256:$id" "\"name\":\"$R_NAME:$R_TAG\""
			echo "Untagged: $R_NAME:$R_TAG"
			continue
		fi
		if [ -n "$users" ] && [ $force = 0 ]; then
			echo "contain: conflict: unable to remove image $ref (${id:0:12}): container ${users:0:12} is using it" >&2
			rc=1
			continue
		fi
		if [ $bytag = 0 ] && [ "$ntags" -gt 1 ] && [ $force = 0 ]; then
			echo "contain: conflict: unable to delete ${id:0:12} (must be forced) - image is referenced in multiple repositories" >&2
			rc=1
			continue
		fi
		# A run creates its container without the lock, then checks that its image is still
		# there: the image is moved out of the store first, then its users are looked for
		# again (a run in between finds it gone, or is found and the image comes back).
		local gone="" t
		if [ -z "$users" ]; then
			gone="$ROOT/tmp/rmi.$id.$$"
			mv -- "$ROOT/images/$id" "$gone" 2>/dev/null || die "cannot remove the image ${id:0:12}"
			users=$(image_users "$id" | head -1)
			if [ -n "$users" ]; then
				mv -- "$gone" "$ROOT/images/$id"
				gone=""
				if [ $force = 0 ]; then
					echo "contain: conflict: unable to remove image $ref (${id:0:12}): container ${users:0:12} is using it" >&2
					rc=1
					continue
				fi
			fi
		fi
		while read -r t; do
			[ -n "$t" ] || continue
			tag_del "${t%:*}" "${t##*:}"
			ev_emit image untag "sha256:$id" "\"name\":\"$t\""
			echo "Untagged: $t"
		done < <(image_tags "$id")
		[ -n "$users" ] || image_delete "$id" "${gone:-$ROOT/images/$id}"
	done
	unlock
	return $rc
}

HISTORY_HEADERS='{"ID":"IMAGE","CreatedSince":"CREATED","CreatedAt":"CREATED AT","CreatedBy":"CREATED BY","Size":"SIZE","Comment":"COMMENT"}'
# contain history [-H=false] [-q] [--no-trunc] [--format FORMAT] IMAGE: its layers, newest
# first; CREATED BY cut at 45 columns, as docker cuts it.
cmd_history() {
	local quiet=0 trunc=1 human=1 format="" img="" a
	while [ $# -gt 0 ]; do
		a=$1
		case $a in
		-q | --quiet) quiet=1 ;;
		--no-trunc) trunc=0 ;;
		-H | --human | -H=true | --human=true) human=1 ;;
		-H=false | --human=false) human=0 ;;
		--format | --format=*)
			opt_value history "$@"
			format=$R_OPT
			shift "$R_SHIFT"
			continue
			;;
		--help) echo "Usage: contain history [-H] [-q] [--no-trunc] [--format FORMAT] IMAGE" && return 0 ;;
		-*) die "history: unknown flag: $a" ;;
		*)
			[ -z "$img" ] || die "history: usage: contain history IMAGE"
			img=$a
			;;
		esac
		shift
	done
	[ -n "$img" ] || die "history: usage: contain history IMAGE"
	store_init
	local id c h by sz first=1 hid
	id=$(image_resolve "$img") || exit
	local -a rows=()
	local comment
	while IFS=$'\t' read -r c h by comment; do
		sz=$(cat "$ROOT/layers/$h/size" 2>/dev/null || echo 0)
		# docker names the image's own id on the top row, <missing> below it
		hid="<missing>"
		if [ $first = 1 ]; then
			hid=sha256:$id
			[ $trunc = 1 ] && hid=${id:0:12}
			first=0
		fi
		if [ $quiet = 1 ]; then
			echo "$hid"
			continue
		fi
		rows+=("$(printf '{"ID":%s,"CreatedSince":%s,"CreatedAt":%s,"CreatedBy":%s,"Size":%s,"Comment":%s}' \
			"$(json_str "$hid")" "$(json_str "$(if [ $human = 1 ]; then ago "$c"; else iso "$c"; fi)")" \
			"$(json_str "$(iso "$c")")" "$(json_str "$by")" \
			"$(json_str "$(if [ $human = 1 ]; then human_size "$sz"; else echo "$sz"; fi)")" "$(json_str "$comment")")")
	done < <(tac "$ROOT/images/$id/history")
	[ $quiet = 1 ] && return 0
	{
		[ ${#rows[@]} -gt 0 ] && printf '%s\n' "${rows[@]}"
		:
	} | jq -c --argjson t "$([ $trunc = 1 ] && echo true || echo false)" "$TPL_PRELUDE"' .CreatedBy |= (if $t then _ellipsis(45) else . end)' |
		tpl_listing "$format" 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}' "$HISTORY_HEADERS"
}

# The OCI tar of an overlay upper directory: 0:0 character devices become .wh.NAME, opaque
# directories get .wh..wh..opq.
upper_to_tar() {
	local upper=$1 tar=$2 stage f
	stage=$(mktemp -d "$ROOT/tmp/stage.XXXXXX") || return 1
	TX_TMP+=("$stage")
	cp -a -- "$upper/." "$stage/" || return 1
	while IFS= read -r -d '' f; do
		[ "$(stat -c %t:%T -- "$f")" = 0:0 ] || continue
		rm -f -- "$f"
		: >"$(dirname -- "$f")/.wh.$(basename -- "$f")"
	done < <(find "$stage" -type c -print0)
	if command -v getfattr >/dev/null; then
		while IFS= read -r -d '' f; do
			if [ "$(getfattr --only-values -n trusted.overlay.opaque -- "$upper/${f#"$stage"/}" 2>/dev/null)" = y ]; then
				: >"$f/.wh..wh..opq"
			fi
		done < <(find "$stage" -mindepth 1 -type d -print0)
	fi
	tar_tree "$stage" "$tar"
	local rc=$?
	rm -rf -- "$stage"
	return $rc
}

# commit_change INSTRUCTION: docker commit's -c/--change (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
# USER, WORKDIR, STOPSIGNAL; JSON or shell form) applied to the N_ globals.
commit_change() {
	local ins=${1%%[[:space:]]*} arg=${1#*[[:space:]]} w k v i
	local -a words=()
	[ "$ins" != "$1" ] || arg=""
	arg=${arg#"${arg%%[![:space:]]*}"}
	case ${ins^^} in
	CMD | ENTRYPOINT)
		# an exec form ["a","b"], else the shell form (sh -c)
		if [[ $arg == \[* ]]; then
			local js
			js=$(jq -r 'if type == "array" then map(tostring) | @sh else error("not a list") end' <<<"$arg" 2>/dev/null) ||
				die "commit: invalid --change \"$1\": a JSON list of strings or a command line"
			eval "words=($js)"
		elif [ -n "$arg" ]; then
			words=(/bin/sh -c "$arg")
		fi
		if [ "${ins^^}" = CMD ]; then N_CMD=("${words[@]}"); else N_ENTRY=("${words[@]}"); fi
		;;
	ENV)
		local -a pairs=()
		if [[ ${arg%%[[:space:]]*} == *=* ]]; then
			for w in $arg; do
				[[ $w == ?*=* ]] || die "commit: invalid --change \"$1\": ENV NAME=VALUE"
				v=${w#*=}
				v=${v#\"}
				pairs+=("${w%%=*}=${v%\"}")
			done
		else
			k=${arg%%[[:space:]]*} v=${arg#*[[:space:]]}
			[ -n "$k" ] && [ "$k" != "$arg" ] || die "commit: invalid --change \"$1\": ENV NAME VALUE"
			pairs+=("$k=$v")
		fi
		for w in "${pairs[@]}"; do
			for i in "${!N_ENV[@]}"; do [ "${N_ENV[i]%%=*}" = "${w%%=*}" ] && unset 'N_ENV[i]'; done
			N_ENV=("${N_ENV[@]}" "$w")
		done
		;;
	EXPOSE)
		for w in $arg; do
			[[ $w == */* ]] || w+=/tcp
			[[ $w =~ ^[0-9]+/(tcp|udp|sctp)$ ]] || die "commit: invalid --change \"$1\": EXPOSE PORT[/PROTO]"
			N_EXPOSED+=("$w")
		done
		;;
	LABEL)
		for w in $arg; do
			[[ $w == ?*=* ]] || die "commit: invalid --change \"$1\": LABEL KEY=VALUE"
			N_LABELS+=("${w//\"/}")
		done
		;;
	USER) N_USER=$arg ;;
	WORKDIR)
		[[ $arg == /* ]] || die "commit: invalid --change \"$1\": WORKDIR needs an absolute path"
		N_WORKDIR=$arg
		;;
	STOPSIGNAL) N_STOPSIGNAL=$arg ;;
	*) die "commit: invalid --change \"$1\": ${ins^^} is not a supported instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, STOPSIGNAL)" ;;
	esac
}

# contain commit [-m MESSAGE] [-c INSTRUCTION]... [-a AUTHOR] [-p] CONTAINER [NAME[:TAG]]: the
# container's writable layer on top of its image, a new image (untagged without NAME); -m is
# the layer's history comment, -c changes the new image's config as docker commit's.
cmd_commit() {
	local msg="" author=""
	local -a changes=() args=()
	while [ $# -gt 0 ]; do
		case $1 in
		-m | --message | -c | --change | -a | --author)
			[ $# -ge 2 ] || die "commit: flag needs an argument: $1"
			case $1 in
			-m | --message) msg=$2 ;;
			-c | --change) changes+=("$2") ;;
			*) author=$2 ;;
			esac
			shift
			;;
		--message=*) msg=${1#*=} ;;
		--change=*) changes+=("${1#*=}") ;;
		--author=*) author=${1#*=} ;;
		-p | --pause | --pause=true | --pause=false) ;;
		--) shift && args+=("$@") && break ;;
		-*) die "commit: unknown flag: $1" ;;
		*) args+=("$1") ;;
		esac
		shift
	done
	[ ${#args[@]} -ge 1 ] && [ ${#args[@]} -le 2 ] || die "commit: usage: contain commit [-m MESSAGE] [-c INSTRUCTION] CONTAINER [NAME[:TAG]]"
	store_init
	local cid name="" tag=""
	cid=$(container_resolve "${args[0]}") || exit
	if [ ${#args[@]} = 2 ]; then
		need_ref "${args[1]}"
		name=$R_NAME tag=$R_TAG
	fi
	local c="$ROOT/containers/$cid" work ch
	tx_begin
	tx_work work commit
	# (one line on a failure: the tools' own messages, one per file on a full disk, are off)
	upper_to_tar "$c/upper" "$work/layer.tar" 2>/dev/null || die "commit: cannot pack the container's layer (is the disk full?)"
	cp -a -- "$c/upper" "$work/fs" 2>/dev/null || die "commit: cannot copy the container's layer (is the disk full?)"
	lock
	load_image_vars "$(cfile "$cid" image)"
	for ch in "${changes[@]}"; do commit_change "$ch"; done
	layer_store "$work/layer.tar" "$work/fs" 2>/dev/null || die "commit: cannot store the layer (is the disk full?)"
	N_LAYERS+=("$L_HEX")
	N_CREATED=$(now)
	meta_load "$cid"
	# (a history line: created, layer, created_by, and the comment when there is one)
	N_HISTORY+=("$N_CREATED"$'\t'"$L_HEX"$'\t'"contain commit ${cid:0:12} (${CMD[*]})${msg:+$'\t'${msg//[$'\t\n']/ }}")
	N_AUTHOR=$author
	make_image 2>/dev/null || die "commit: cannot write the image (is the disk full?)"
	N_AUTHOR=
	if [ -n "$name" ]; then
		tag_set "$name" "$tag" "$IMG_ID" || die "commit: cannot write the tag"
	fi
	unlock
	echo "sha256:$IMG_ID"
}

# contain export [-o FILE] CONTAINER: the container's file system (its image with its
# changes, no volume, /proc, /dev nor /sys) as a tar archive, as docker export writes it.
# A running container's is read through its root (/proc/PID/root, one file system);
# a stopped one's through a read-only union of its layer over the image's, mounted in a
# mount namespace of its own that ends with the tar.
cmd_export() {
	local out=""
	case ${1:-} in
	-o | --output) out=${2:-} && shift 2 ;;
	--output=* | -o?*) out=${1#--output=} && out=${out#-o} && shift ;;
	esac
	[ $# -eq 1 ] || die "export: usage: contain export [-o FILE] CONTAINER"
	store_init
	local cid
	cid=$(container_resolve "$1") || exit
	if [ -z "$out" ] && [ -t 1 ]; then
		die "export: cowardly refusing to save to a terminal. Use the -o flag or redirect"
	fi
	local -a tarc=(tar --numeric-owner --one-file-system --sort=name -cf "${out:--}")
	local init h
	case $(cstate "$cid") in
	running | paused)
		init=$(cinit "$cid")
		[ -n "$init" ] || die "export: container ${cid:0:12} has no init process"
		"${tarc[@]}" -C "/proc/$init/root" . || die "export: tar failed"
		;;
	*)
		meta_load "$cid"
		tool_paths
		local -a ls lowers=(--lower "$ROOT/containers/$cid/upper") ns=(--mount)
		mapfile -t ls <"$ROOT/images/${META[image]}/layers"
		for ((h = ${#ls[@]} - 1; h >= 0; h--)); do lowers+=(--lower "$ROOT/layers/${ls[h]}/fs"); done
		[ "$ROOTLESS" = 1 ] && ns=(--user --map-root-user --mount)
		# tar writes the archive to a file given relative to the caller's directory.
		[ -n "$out" ] && [[ $out != /* ]] && [ "$out" != - ] && tarc[-1]=$PWD/$out
		"${TOOL[unshare-rs]}" "${ns[@]}" -- "${TOOL[unionmount]}" -r "${lowers[@]}" "$ROOT/mnt" -- \
			"${tarc[@]}" -C "$ROOT/mnt" . || die "export: tar failed"
		;;
	esac
}
