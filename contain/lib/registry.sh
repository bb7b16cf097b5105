# shellcheck shell=bash
# contain: a registry without a network, as an OCI image layout directory (oci-layout,
# index.json, blobs/sha256/...), and save/load of one tar archive of such a layout.
# Every blob's digest is checked when it is read; nothing is stored before all are checked.

need_jq() { command -v jq >/dev/null || die "$1: needs jq (apt-get install jq)"; }

MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_INDEX=application/vnd.oci.image.index.v1+json
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_LAYER=application/vnd.oci.image.layer.v1.tar

# push_image ID REFNAME DIR
push_image() {
	local id=$1 ref=$2 dir=$3 h layers="" first=1 m
	mkdir -p "$dir/blobs/sha256" || die "push: cannot create $dir"
	[ -e "$dir/oci-layout" ] || echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	[ -e "$dir/index.json" ] || printf '{"schemaVersion":2,"mediaType":"%s","manifests":[]}\n' "$MT_INDEX" >"$dir/index.json"
	cp_blob() {
		local src=$1 dst="$dir/blobs/sha256/$(basename "$1")"
		if [ -e "$dst" ] && [ "$(sha256_of "$dst")" = "$(basename "$1")" ]; then return 0; fi
		cp -- "$src" "$dst.tmp" && mv -- "$dst.tmp" "$dst"
	}
	cp_blob "$ROOT/blobs/sha256/$id" || die "push: cannot copy the config"
	while read -r h; do
		cp_blob "$ROOT/blobs/sha256/$h" || die "push: cannot copy layer $h"
		[ $first = 1 ] || layers+=","
		first=0
		layers+="{\"mediaType\":\"$MT_LAYER\",\"digest\":\"sha256:$h\",\"size\":$(stat -c %s "$ROOT/blobs/sha256/$h")}"
	done <"$ROOT/images/$id/layers"
	m="$dir/blobs/sha256/manifest.tmp.$$"
	printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$MT_MANIFEST" "$MT_CONFIG" "$id" "$(stat -c %s "$ROOT/blobs/sha256/$id")" "$layers" >"$m"
	local md msize
	md=$(sha256_of "$m")
	msize=$(stat -c %s "$m")
	mv -- "$m" "$dir/blobs/sha256/$md"
	local idx="$dir/index.json.tmp.$$"
	jq -c --arg r "$ref" --arg d "sha256:$md" --argjson s "$msize" --arg mt "$MT_MANIFEST" '
		.manifests = ([.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] != $r or $r == "")]
		+ [{mediaType: $mt, digest: $d, size: $s} + (if $r == "" then {} else {annotations: {"org.opencontainers.image.ref.name": $r}} end)])' \
		"$dir/index.json" >"$idx" && mv -- "$idx" "$dir/index.json"
}

cmd_push() {
	[ $# -eq 2 ] || die "push: usage: contain push NAME[:TAG] DIR"
	need_jq push
	store_init
	local id ref=""
	id=$(image_resolve "$1") || exit
	if parse_ref "$1" && image_tags "$id" | grep -qxF -- "$R_NAME:$R_TAG"; then ref="$R_NAME:$R_TAG"; fi
	push_image "$id" "$ref" "$2"
	echo "${ref:-${id:0:12}}: digest: sha256:$(jq -r --arg r "$ref" '[.manifests[] | select((.annotations["org.opencontainers.image.ref.name"] // "") == $r)][-1].digest' "$2/index.json" | sed 's/^sha256://')"
}

# verify_blob DIR DIGEST: the path of the blob, after checking its digest.
verify_blob() {
	local dir=$1 d=${2#sha256:} f
	[[ $2 == sha256:* ]] && [[ $d =~ ^[0-9a-f]{64}$ ]] || die "unsupported digest '$2'"
	f="$dir/blobs/sha256/$d"
	[ -f "$f" ] || die "blob $2 is missing from $dir"
	[ "$(sha256_of "$f")" = "$d" ] || die "blob $2 in $dir is corrupted (its content does not match its digest)"
	echo "$f"
}

# pull_manifest DIR MANIFEST_DIGEST NAME TAG: verify and store one image.
pull_manifest() {
	local dir=$1 md=$2 name=$3 tag=$4 mf cfg cd
	mf=$(verify_blob "$dir" "$md") || exit
	if [ "$(jq -r '.mediaType // ""' "$mf")" = "$MT_INDEX" ] || jq -e '.manifests' "$mf" >/dev/null 2>&1; then
		md=$(jq -r --arg a "$(arch)" '[.manifests[] | select((.platform.architecture // $a) == $a)][0].digest' "$mf")
		pull_manifest "$dir" "$md" "$name" "$tag"
		return
	fi
	cd=$(jq -r '.config.digest' "$mf")
	cfg=$(verify_blob "$dir" "$cd") || exit
	local -a ldig lmt diffs
	mapfile -t ldig < <(jq -r '.layers[].digest' "$mf")
	mapfile -t lmt < <(jq -r '.layers[].mediaType' "$mf")
	mapfile -t diffs < <(jq -r '.rootfs.diff_ids[]' "$cfg")
	[ ${#ldig[@]} -eq ${#diffs[@]} ] || die "pull: the manifest lists ${#ldig[@]} layers but the config ${#diffs[@]}"
	local work i f
	work=$(mktemp -d "$ROOT/tmp/pull.XXXXXX") || die "cannot create a work directory"
	for i in "${!ldig[@]}"; do
		f=$(verify_blob "$dir" "${ldig[i]}") || {
			rm -rf -- "$work"
			exit 125
		}
		case ${lmt[i]} in
		*gzip*) gzip -dc -- "$f" >"$work/$i.tar" || die "pull: layer ${ldig[i]} is not valid gzip" ;;
		*zstd*) zstd -dc -- "$f" >"$work/$i.tar" 2>/dev/null || die "pull: cannot decompress zstd layer ${ldig[i]}" ;;
		*) cp -- "$f" "$work/$i.tar" ;;
		esac
		[ "sha256:$(sha256_of "$work/$i.tar")" = "${diffs[i]}" ] || {
			rm -rf -- "$work"
			die "pull: layer ${ldig[i]} does not match the config's diff_id ${diffs[i]}"
		}
	done
	# Everything checked: store it.
	lock
	N_LAYERS=()
	for i in "${!ldig[@]}"; do
		layer_store "$work/$i.tar" || die "pull: cannot unpack layer ${ldig[i]}"
		N_LAYERS+=("$L_HEX")
	done
	local id=${cd#sha256:}
	if [ ! -d "$ROOT/images/$id" ]; then
		local d="$ROOT/images/$id.new.$$" created
		mkdir -p "$d"
		printf '%s\n' "${N_LAYERS[@]}" >"$d/layers"
		jq -j '(.config.Cmd // [])[] | (., "\u0000")' "$cfg" >"$d/cmd"
		jq -j '(.config.Entrypoint // [])[] | (., "\u0000")' "$cfg" >"$d/entrypoint"
		created=$(date -d "$(jq -r '.created // "now"' "$cfg")" +%s 2>/dev/null || now)
		echo "$created" >"$d/created"
		local -a hist
		mapfile -t hist < <(jq -r '[(.history // [])[] | select(.empty_layer != true)][] | [(.created // ""), (.created_by // "")] | @tsv' "$cfg")
		for i in "${!N_LAYERS[@]}"; do
			local hc="" hb="pulled"
			if [ -n "${hist[i]:-}" ]; then
				hc=$(date -d "${hist[i]%%$'\t'*}" +%s 2>/dev/null)
				hb=${hist[i]#*$'\t'}
			fi
			printf '%s\t%s\t%s\n' "${hc:-$created}" "${N_LAYERS[i]}" "$hb"
		done >"$d/history"
		cp -- "$cfg" "$ROOT/blobs/sha256/$id"
		mv -- "$d" "$ROOT/images/$id"
	fi
	[ -n "$name" ] && tag_set "$name" "$tag" "$id"
	unlock
	rm -rf -- "$work"
	PULLED_ID=$id
}

cmd_pull() {
	[ $# -eq 2 ] || die "pull: usage: contain pull DIR NAME[:TAG]"
	need_jq pull
	local dir=$1
	[ -f "$dir/index.json" ] || die "pull: $dir is not an OCI image layout (no index.json)"
	need_ref "$2"
	local name=$R_NAME tag=$R_TAG md
	store_init
	md=$(jq -r --arg r "$name:$tag" --arg t "$tag" '
		[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r)] +
		[.manifests[] | select((.annotations["io.containerd.image.name"] // "" | sub("^docker.io/(library/)?"; "")) == $r)] |
		.[0].digest // ""' "$dir/index.json")
	[ -n "$md" ] || die "pull: $dir has no image $name:$tag"
	pull_manifest "$dir" "$md" "$name" "$tag"
	echo "$name:$tag: pulled sha256:$PULLED_ID"
}

cmd_save() {
	local out="" refs=()
	while [ $# -gt 0 ]; do
		case $1 in
		-o | --output) out=$2 && shift ;;
		-*) die "save: unknown option '$1'" ;;
		*) refs+=("$1") ;;
		esac
		shift
	done
	[ ${#refs[@]} -ge 1 ] || die "save: usage: contain save -o FILE IMAGE..."
	need_jq save
	store_init
	local work r id ref
	work=$(mktemp -d "$ROOT/tmp/save.XXXXXX") || die "cannot create a work directory"
	# shellcheck disable=SC2064
	trap "rm -rf -- '$work'" EXIT
	for r in "${refs[@]}"; do
		id=$(image_resolve "$r") || exit
		ref=""
		if parse_ref "$r" && image_tags "$id" | grep -qxF -- "$R_NAME:$R_TAG"; then ref="$R_NAME:$R_TAG"; fi
		push_image "$id" "$ref" "$work/layout"
	done
	if [ -n "$out" ]; then
		tar --sort=name -C "$work/layout" -cf "$out" . || die "save: cannot write $out"
	else
		[ -t 1 ] && die "save: refusing to write a tar to a terminal (use -o FILE)"
		tar --sort=name -C "$work/layout" -cf - .
	fi
}

cmd_load() {
	local in=""
	case ${1:-} in -i | --input) in=$2 ;; esac
	need_jq load
	store_init
	local work
	work=$(mktemp -d "$ROOT/tmp/load.XXXXXX") || die "cannot create a work directory"
	# shellcheck disable=SC2064
	trap "rm -rf -- '$work'" EXIT
	if [ -n "$in" ]; then
		tar -C "$work" -xf "$in" || die "load: cannot read $in"
	else
		tar -C "$work" -xf - || die "load: cannot read the archive from stdin"
	fi
	if [ -f "$work/index.json" ] && [ -d "$work/blobs" ]; then
		local md ref n
		while IFS=$'\t' read -r md ref n; do
			[ -n "$n" ] && ref=$(sed -E 's#^docker.io/(library/)?##' <<<"$n")
			if [ -n "$ref" ] && parse_ref "$ref" && [[ $ref == *:* ]]; then
				pull_manifest "$work" "$md" "$R_NAME" "$R_TAG"
				echo "Loaded image: $R_NAME:$R_TAG"
			else
				pull_manifest "$work" "$md" "" ""
				echo "Loaded image ID: sha256:$PULLED_ID"
			fi
		done < <(jq -r '.manifests[] | [.digest, (.annotations["org.opencontainers.image.ref.name"] // ""), (.annotations["io.containerd.image.name"] // "")] | @tsv' "$work/index.json")
	elif [ -f "$work/manifest.json" ]; then
		# docker save's own format: manifest.json with Config, RepoTags and Layers paths.
		local n i cfgf id
		n=$(jq 'length' "$work/manifest.json")
		for ((i = 0; i < n; i++)); do
			cfgf="$work/$(jq -r ".[$i].Config" "$work/manifest.json")"
			mkdir -p "$work/oci/blobs/sha256"
			id=$(sha256_of "$cfgf")
			cp -- "$cfgf" "$work/oci/blobs/sha256/$id"
			local layers="" l h first=1
			while read -r l; do
				h=$(sha256_of "$work/$l")
				cp -- "$work/$l" "$work/oci/blobs/sha256/$h"
				[ $first = 1 ] || layers+=","
				first=0
				layers+="{\"mediaType\":\"$MT_LAYER\",\"digest\":\"sha256:$h\",\"size\":0}"
			done < <(jq -r ".[$i].Layers[]" "$work/manifest.json")
			printf '{"schemaVersion":2,"config":{"digest":"sha256:%s"},"layers":[%s]}' "$id" "$layers" >"$work/oci/m"
			h=$(sha256_of "$work/oci/m")
			mv "$work/oci/m" "$work/oci/blobs/sha256/$h"
			local t
			t=$(jq -r ".[$i].RepoTags[0] // \"\"" "$work/manifest.json" | sed -E 's#^docker.io/(library/)?##')
			if [ -n "$t" ] && parse_ref "$t"; then
				pull_manifest "$work/oci" "sha256:$h" "$R_NAME" "$R_TAG"
				echo "Loaded image: $R_NAME:$R_TAG"
			else
				pull_manifest "$work/oci" "sha256:$h" "" ""
				echo "Loaded image ID: sha256:$PULLED_ID"
			fi
		done
	else
		die "load: the archive is neither an OCI layout nor a docker save archive"
	fi
}
