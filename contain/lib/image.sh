# shellcheck shell=bash
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

# parse_ref REF: sets R_NAME and R_TAG (NAME alone means NAME:latest).
parse_ref() {
	local ref=$1 last=${1##*:}
	if [ "$last" != "$ref" ] && [ "${last#*/}" = "$last" ]; then
		R_NAME=${ref%:*}
		R_TAG=$last
	else
		R_NAME=$ref
		R_TAG=latest
	fi
	[[ $R_NAME =~ ^[a-z0-9]+([._/-]+[a-z0-9]+)*$ ]] && [[ $R_TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]
}

# image_lookup REF: prints the full image id of a tag or unique id prefix; returns 1 if none,
# 2 if ambiguous.
image_lookup() {
	local ref=$1 id n m
	if parse_ref "$ref"; then
		id=$(awk -v n="$R_NAME" -v t="$R_TAG" '$1 == n && $2 == t { print $3 }' "$ROOT/repositories")
		[ -n "$id" ] && {
			echo "$id"
			return 0
		}
	fi
	ref=${ref#sha256:}
	[[ $ref =~ ^[0-9a-f]{1,64}$ ]] || return 1
	m=("$ROOT/images/$ref"*)
	n=${#m[@]}
	[ "$n" -eq 1 ] && {
		basename "${m[0]}"
		return 0
	}
	[ "$n" -gt 1 ] && return 2
	return 1
}
image_resolve() {
	local id rc
	id=$(image_lookup "$1")
	rc=$?
	case $rc in
	0) echo "$id" ;;
	2) die "image id prefix '$1' is ambiguous" ;;
	*)
		parse_ref "$1" && die "Unable to find image '$R_NAME:$R_TAG' locally"
		die "Unable to find image '$1' locally"
		;;
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

tag_set() { # NAME TAG ID
	local tmp="$ROOT/repositories.new.$$"
	awk -v n="$1" -v t="$2" '!($1 == n && $2 == t)' "$ROOT/repositories" >"$tmp" &&
		echo "$1 $2 $3" >>"$tmp" && mv "$tmp" "$ROOT/repositories"
}
tag_del() { # NAME TAG
	local tmp="$ROOT/repositories.new.$$"
	awk -v n="$1" -v t="$2" '!($1 == n && $2 == t)' "$ROOT/repositories" >"$tmp" &&
		mv "$tmp" "$ROOT/repositories"
}

mkrootfs_can_import() { mkrootfs --help 2>&1 | grep -q -- '--import'; }

# Unpack the OCI layer tar $1 into the directory $2 with overlay whiteouts.
extract_layer() {
	local tar=$1 dir=$2
	mkdir -p "$dir" || return 1
	if mkrootfs_can_import; then
		mkrootfs --import "$tar" "$dir" >/dev/null
		return
	fi
	# Fallback while mkrootfs lacks --import: GNU tar refuses '..' and strips leading '/'.
	tar --numeric-owner -xpf "$tar" -C "$dir" || return 1
	local f d b
	while IFS= read -r -d '' f; do
		d=$(dirname -- "$f")
		b=$(basename -- "$f")
		rm -f -- "$f"
		if [ "$b" = .wh..wh..opq ]; then
			setfattr -n trusted.overlay.opaque -v y -- "$d" 2>/dev/null ||
				warn "cannot mark $d opaque (setfattr missing?)"
		else
			rm -rf -- "${d:?}/${b#.wh.}"
			mknod -- "$d/${b#.wh.}" c 0 0 || return 1
		fi
	done < <(find "$dir" -depth -name '.wh.*' -print0)
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
	mv -- "$tar" "$ROOT/blobs/sha256/$hex" && mv -- "$ld" "$ROOT/layers/$hex"
}

# make_image: from the globals N_LAYERS (array, bottom first), N_CMD, N_ENTRY, N_HISTORY (array of
# "created<TAB>hex<TAB>by") and N_CREATED, write the config and the image; sets IMG_ID.
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
	for line in "${N_HISTORY[@]}"; do
		created=${line%%$'\t'*}
		by=${line##*$'\t'}
		[ $first = 1 ] || hist+=","
		first=0
		hist+="{\"created\":$(json_str "$(iso "$created")"),\"created_by\":$(json_str "$by")}"
	done
	{
		printf '{"architecture":"%s","config":{' "$(arch)"
		[ ${#N_ENTRY[@]} -gt 0 ] && printf '"Entrypoint":%s,' "$(json_arr "${N_ENTRY[@]}")"
		printf '"Cmd":%s},' "$(if [ ${#N_CMD[@]} -gt 0 ]; then json_arr "${N_CMD[@]}"; else echo null; fi)"
		printf '"created":%s,"history":[%s],"os":"linux",' "$(json_str "$(iso "$N_CREATED")")" "$hist"
		printf '"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diff"
	} >"$cfg" || return 1
	IMG_ID=$(sha256_of "$cfg")
	if [ -d "$ROOT/images/$IMG_ID" ]; then
		rm -f -- "$cfg"
		return 0
	fi
	local d="$ROOT/images/$IMG_ID.new.$$"
	mkdir -p "$d" || return 1
	printf '%s\n' "${N_LAYERS[@]}" >"$d/layers"
	write_nul "$d/cmd" "${N_CMD[@]}"
	write_nul "$d/entrypoint" "${N_ENTRY[@]}"
	printf '%s\n' "${N_HISTORY[@]}" >"$d/history"
	echo "$N_CREATED" >"$d/created"
	mv -- "$cfg" "$ROOT/blobs/sha256/$IMG_ID" && mv -- "$d" "$ROOT/images/$IMG_ID"
}

# Load an existing image into the N_ globals (to stack on it).
load_image_vars() {
	local id=$1
	mapfile -t N_LAYERS <"$ROOT/images/$id/layers"
	read_nul N_CMD "$ROOT/images/$id/cmd"
	read_nul N_ENTRY "$ROOT/images/$id/entrypoint"
	mapfile -t N_HISTORY <"$ROOT/images/$id/history"
}

need_ref() {
	parse_ref "$1" || die "invalid reference format: '$1' (NAME[:TAG], lowercase)"
}

cmd_build() {
	local ldd=() files=() cmd=() entry=() from="" setcmd=0
	while [ $# -gt 0 ]; do
		case $1 in
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
	[ $# -ge 1 ] || die "build: usage: contain build [--ldd] [--cmd CMD] [--from IMAGE] NAME[:TAG] [BINARY...]"
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
	N_LAYERS=() N_CMD=() N_ENTRY=() N_HISTORY=()
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
	lock
	layer_store "$work/layer.tar" "$work/fs" || die "build: cannot store the layer"
	N_LAYERS+=("$L_HEX")
	N_CREATED=$(now)
	N_HISTORY+=("$N_CREATED"$'\t'"$L_HEX"$'\t'"$by")
	make_image || die "build: cannot write the image"
	tag_set "$name" "$tag" "$IMG_ID"
	unlock
	echo "sha256:$IMG_ID"
}

cmd_import() {
	[ $# -ge 2 ] || die "import: usage: contain import NAME[:TAG] LAYER.tar..."
	need_ref "$1"
	local name=$R_NAME tag=$R_TAG f
	shift
	for f in "$@"; do [ -r "$f" ] || die "import: cannot read '$f'"; done
	store_init
	local work
	work=$(mktemp -d "$ROOT/tmp/import.XXXXXX") || die "cannot create a work directory"
	# shellcheck disable=SC2064
	trap "rm -rf -- '$work'" EXIT
	N_LAYERS=() N_CMD=() N_ENTRY=() N_HISTORY=()
	N_CREATED=$(now)
	lock
	local i=0
	for f in "$@"; do
		i=$((i + 1))
		if [ "$(head -c2 -- "$f" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
			gzip -dc -- "$f" >"$work/$i.tar" || die "import: '$f' is not a valid gzip file"
		else
			cp -- "$f" "$work/$i.tar" || die "import: cannot copy '$f'"
		fi
		tar -tf "$work/$i.tar" >/dev/null 2>&1 || die "import: '$f' is not a tar archive"
		layer_store "$work/$i.tar" || die "import: cannot unpack '$f'"
		N_LAYERS+=("$L_HEX")
		N_HISTORY+=("$N_CREATED"$'\t'"$L_HEX"$'\t'"contain import $(basename -- "$f")")
	done
	local top="$ROOT/layers/${N_LAYERS[-1]}/fs"
	if [ -e "$top/bin/sh" ] || [ -L "$top/bin/sh" ]; then N_CMD=(/bin/sh); fi
	make_image || die "import: cannot write the image"
	tag_set "$name" "$tag" "$IMG_ID"
	unlock
	echo "sha256:$IMG_ID"
}

cmd_images() {
	local quiet=0
	case ${1:-} in -q | --quiet) quiet=1 ;; esac
	store_init
	local d id
	{
		for d in "$ROOT"/images/*; do
			id=$(basename "$d")
			[[ $id == *.new.* ]] && continue
			local tags
			tags=$(awk -v i="$id" '$3 == i { print $1, $2 }' "$ROOT/repositories")
			[ -n "$tags" ] || tags="<none> <none>"
			while read -r n t; do
				printf '%s\t%s\t%s\t%s\t%s\n' "$(cat "$d/created")" "$n" "$t" "$id" "$(image_size "$id")"
			done <<<"$tags"
		done
	} | sort -t$'\t' -k1,1nr -k2,2 -k3,3 | {
		if [ $quiet = 1 ]; then
			cut -f4 | cut -c1-12 | uniq
			return
		fi
		printf '%-24s %-12s %-14s %-18s %s\n' REPOSITORY TAG "IMAGE ID" CREATED SIZE
		while IFS=$'\t' read -r c n t id s; do
			printf '%-24s %-12s %-14s %-18s %s\n' "$n" "$t" "${id:0:12}" "$(ago "$c")" "$(human_size "$s")"
		done
	}
}

cmd_tag() {
	[ $# -eq 2 ] || die "tag: usage: contain tag SOURCE[:TAG] TARGET[:TAG]"
	store_init
	local id
	id=$(image_resolve "$1") || exit
	need_ref "$2"
	lock
	tag_set "$R_NAME" "$R_TAG" "$id"
	unlock
}

# Names of containers using image $1.
image_users() {
	local c
	for c in "$ROOT"/containers/*/; do
		[ "$(cat "$c/image" 2>/dev/null)" = "$1" ] && basename "$c"
	done
}

image_delete() { # ID: remove the image and every layer no other image uses
	local id=$1 h others
	mapfile -t mine <"$ROOT/images/$id/layers"
	rm -rf -- "${ROOT:?}/images/$id" "$ROOT/blobs/sha256/$id"
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
		if parse_ref "$ref" && image_tags "$id" | grep -qxF -- "$R_NAME:$R_TAG"; then bytag=1; fi
		if [ $bytag = 1 ] && [ "$ntags" -gt 1 ]; then
			tag_del "$R_NAME" "$R_TAG"
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
		local t
		while read -r t; do
			[ -n "$t" ] || continue
			tag_del "${t%:*}" "${t##*:}"
			echo "Untagged: $t"
		done < <(image_tags "$id")
		[ -n "$users" ] || image_delete "$id"
	done
	unlock
	return $rc
}

cmd_history() {
	[ $# -eq 1 ] || die "history: usage: contain history IMAGE"
	store_init
	local id
	id=$(image_resolve "$1") || exit
	printf '%-14s %-18s %-50s %s\n' LAYER CREATED "CREATED BY" SIZE
	tac "$ROOT/images/$id/history" | while IFS=$'\t' read -r c h by; do
		printf '%-14s %-18s %-50s %s\n' "${h:0:12}" "$(ago "$c")" "${by:0:50}" \
			"$(human_size "$(cat "$ROOT/layers/$h/size" 2>/dev/null || echo 0)")"
	done
}

# The OCI tar of an overlay upper directory: 0:0 character devices become .wh.NAME, opaque
# directories get .wh..wh..opq.
upper_to_tar() {
	local upper=$1 tar=$2 stage f
	stage=$(mktemp -d "$ROOT/tmp/stage.XXXXXX") || return 1
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

cmd_commit() {
	[ $# -eq 2 ] || die "commit: usage: contain commit CONTAINER NAME[:TAG]"
	store_init
	local cid
	cid=$(container_resolve "$1") || exit
	need_ref "$2"
	local name=$R_NAME tag=$R_TAG c="$ROOT/containers/$cid"
	local work
	work=$(mktemp -d "$ROOT/tmp/commit.XXXXXX") || die "cannot create a work directory"
	# shellcheck disable=SC2064
	trap "rm -rf -- '$work'" EXIT
	upper_to_tar "$c/upper" "$work/layer.tar" || die "commit: cannot pack the container's layer"
	cp -a -- "$c/upper" "$work/fs" || die "commit: cannot copy the container's layer"
	lock
	load_image_vars "$(cat "$c/image")"
	layer_store "$work/layer.tar" "$work/fs" || die "commit: cannot store the layer"
	N_LAYERS+=("$L_HEX")
	N_CREATED=$(now)
	local -a ccmd
	read_nul ccmd "$c/cmd"
	N_HISTORY+=("$N_CREATED"$'\t'"$L_HEX"$'\t'"contain commit ${cid:0:12} (${ccmd[*]})")
	make_image || die "commit: cannot write the image"
	tag_set "$name" "$tag" "$IMG_ID"
	unlock
	echo "sha256:$IMG_ID"
}
