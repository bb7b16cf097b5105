# shellcheck shell=bash
# contain's registry.sh: images in and out: the transports (oci:, oci-archive:,
# docker-archive:), push, pull, save and load.
# Read by the front script (contain) for the commands that need it; never run alone.

# contain: a registry without a network, as an OCI image layout directory (oci-layout,
# index.json, blobs/sha256/...), and save/load of one tar archive of such a layout.
# Every blob's digest is checked when it is read; nothing is stored before all are checked.

need_jq() { command -v jq >/dev/null || die "$1: needs jq (apt-get install jq)"; }

MT_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_INDEX=application/vnd.oci.image.index.v1+json
MT_CONFIG=application/vnd.oci.image.config.v1+json
MT_LAYER=application/vnd.oci.image.layer.v1.tar

# transport SPEC: T_KIND (oci, oci-archive, docker-archive; empty for a plain path), T_PATH and
# T_REF (what follows the path's first ':', as skopeo splits it: a tag, or NAME:TAG).
transport() {
	T_KIND= T_REF=
	T_PATH=$1
	case $1 in
	oci:*) T_KIND=oci T_PATH=${1#oci:} ;;
	oci-archive:*) T_KIND=oci-archive T_PATH=${1#oci-archive:} ;;
	docker-archive:*) T_KIND=docker-archive T_PATH=${1#docker-archive:} ;;
	*) return 0 ;;
	esac
	if [[ $T_PATH == *:* ]]; then
		T_REF=${T_PATH#*:}
		T_PATH=${T_PATH%%:*}
	fi
	[ -n "$T_PATH" ] || die "'$1': no path after '$T_KIND:'"
}
# short_name NAME: NAME without the registry prefixes other tools add to local names.
short_name() {
	local n=$1
	n=${n#docker.io/library/}
	n=${n#docker.io/}
	n=${n#localhost/}
	echo "$n"
}

# push_image ID REFNAME FULLNAME DIR MODE: copy the image into the layout DIR, its index entry
# annotated as the ecosystem writes it: org.opencontainers.image.ref.name = the tag alone,
# io.containerd.image.name = NAME:TAG.  MODE push replaces an entry with the same ref.name
# (as skopeo does), save one with the same full name (an archive may hold app:1 and db:1).
push_image() {
	local id=$1 rn=$2 cn=$3 dir=$4 mode=$5 h layers="" first=1 m
	mkdir -p "$dir/blobs/sha256" || die "push: cannot create $dir"
	[ -e "$dir/oci-layout" ] || echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	[ -e "$dir/index.json" ] || printf '{"schemaVersion":2,"mediaType":"%s","manifests":[]}\n' "$MT_INDEX" >"$dir/index.json"
	cp_blob() {
		local src=$1 dst="$dir/blobs/sha256/${1##*/}"
		if [ -e "$dst" ] && [ "$(sha256_of "$dst")" = "${1##*/}" ]; then return 0; fi
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
	PUSHED_DIGEST=sha256:$md
	local idx="$dir/index.json.tmp.$$"
	jq -c --arg r "$rn" --arg c "$cn" --arg d "sha256:$md" --argjson s "$msize" --arg mt "$MT_MANIFEST" --arg mode "$mode" '
		def rn: .annotations["org.opencontainers.image.ref.name"] // "";
		def cn: .annotations["io.containerd.image.name"] // "";
		.manifests = ([.manifests[] | select(if $mode == "push" then ($r == "" or rn != $r) else ($c == "" or cn != $c) end)]
		+ [{mediaType: $mt, digest: $d, size: $s}
		   + (if $r == "" and $c == "" then {} else {annotations: (
			(if $r == "" then {} else {"org.opencontainers.image.ref.name": $r} end)
			+ (if $c == "" then {} else {"io.containerd.image.name": $c} end))} end)])' \
		"$dir/index.json" >"$idx" && mv -- "$idx" "$dir/index.json"
}

# image_names REF ID: I_NAME and I_TAG = REF's name and tag when REF is a tag of image ID,
# else empty.
image_names() {
	I_NAME= I_TAG=
	if parse_ref "$1" && image_tags "$2" | grep -xF -- "$R_NAME:$R_TAG" >/dev/null; then
		I_NAME=$R_NAME I_TAG=$R_TAG
	fi
}
# dest_names REF: from the REF after a transport's path (TAG or NAME:TAG) and I_NAME/I_TAG,
# D_RN (ref.name: the tag) and D_CN (the full NAME:TAG, empty without a name).
dest_names() {
	local r=$1
	if [ -z "$r" ]; then
		D_RN=$I_TAG
		D_CN=${I_NAME:+$I_NAME:$I_TAG}
	elif [[ $r == *:* ]]; then
		parse_ref "$r" || die "invalid reference format: '$r' (NAME:TAG)"
		D_RN=$R_TAG D_CN=$R_NAME:$R_TAG
	else
		[[ $r =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "invalid tag: '$r'"
		D_RN=$r
		D_CN=${I_NAME:+$I_NAME:$r}
	fi
}

# write_archive LAYOUT FILE FORMAT: a tar of the OCI layout LAYOUT; FORMAT docker (and
# plain save) adds docker save's manifest.json and repositories, pointing at the same blobs,
# so that docker load, podman load, skopeo's docker-archive: and oci-archive: all read it.
write_archive() {
	local lay=$1 out=$2 fmt=$3
	if [ "$fmt" != oci ]; then
		local md cn cfg rt="[]"
		local -a ents=()
		declare -A repos=()
		while IFS=$'\t' read -r md cn; do
			cfg=$(jq -r .config.digest "$lay/blobs/sha256/${md#sha256:}")
			rt=$(if [ -n "$cn" ]; then jq -cn --arg c "$cn" '[$c]'; else echo '[]'; fi)
			ents+=("$(jq -c --argjson rt "$rt" '{Config: ("blobs/sha256/" + (.config.digest | sub("^sha256:"; ""))), RepoTags: $rt,
				Layers: [.layers[].digest | "blobs/sha256/" + sub("^sha256:"; "")]}' "$lay/blobs/sha256/${md#sha256:}")")
			if [ -n "$cn" ]; then
				repos[$cn]=$(jq -r '.layers[-1].digest // "" | sub("^sha256:"; "")' "$lay/blobs/sha256/${md#sha256:}")
			fi
		done < <(jq -r '.manifests[] | [.digest, (.annotations["io.containerd.image.name"] // "")] | @tsv' "$lay/index.json")
		printf '%s\n' "${ents[@]}" | jq -cs . >"$lay/manifest.json" || return 1
		local k
		for k in "${!repos[@]}"; do
			jq -cn --arg n "${k%:*}" --arg t "${k##*:}" --arg h "${repos[$k]}" '{($n): {($t): $h}}'
		done | jq -cs 'reduce .[] as $x ({}; . * $x)' >"$lay/repositories" || return 1
	fi
	# entries named as docker save names them (no leading ./)
	local -a top=(oci-layout index.json blobs)
	[ -f "$lay/manifest.json" ] && top+=(manifest.json repositories)
	if [ "$out" = - ]; then
		tar --sort=name --owner=0 --group=0 --numeric-owner -C "$lay" -cf - -- "${top[@]}"
	else
		local tmp="$out.tmp.$$"
		TX_TMP+=("$tmp")
		tar --sort=name --owner=0 --group=0 --numeric-owner -C "$lay" -cf "$tmp" -- "${top[@]}" && mv -- "$tmp" "$out"
	fi
}

cmd_push() {
	[ $# -eq 2 ] || die "push: usage: contain push IMAGE DIR|oci:DIR[:TAG]|oci-archive:FILE[:TAG]|docker-archive:FILE[:NAME:TAG]"
	need_jq push
	store_init
	tx_begin
	local id work
	id=$(image_resolve "$1") || exit
	image_names "$1" "$id"
	transport "$2"
	dest_names "$T_REF"
	case $T_KIND in
	"" | oci)
		[ -e "$T_PATH" ] && [ ! -d "$T_PATH" ] && die "push: $T_PATH is not a directory (use oci-archive:$T_PATH or docker-archive:$T_PATH for an archive)"
		push_image "$id" "$D_RN" "$D_CN" "$T_PATH" push
		;;
	oci-archive | docker-archive)
		tx_work work push
		push_image "$id" "$D_RN" "$D_CN" "$work/layout" save
		write_archive "$work/layout" "$T_PATH" "${T_KIND%-archive}" || die "push: cannot write $T_PATH"
		;;
	esac
	echo "${D_CN:-${D_RN:-${id:0:12}}}: digest: $PUSHED_DIGEST"
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

# pull_manifest DIR MANIFEST_DIGEST WORK: verify and store one image, untagged (in a transaction:
# tx_begin first; the store is locked once everything is checked); PULLED_ID = its id.
pull_manifest() {
	local dir=$1 md=$2 work=$3 mf cfg cd
	mf=$(verify_blob "$dir" "$md") || exit
	jq -e . "$mf" >/dev/null 2>&1 || die "pull: manifest $md is not JSON"
	if [ "$(jq -r '.mediaType // ""' "$mf")" = "$MT_INDEX" ] || jq -e '.manifests' "$mf" >/dev/null 2>&1; then
		md=$(jq -r --arg a "$(arch)" '[.manifests[] | select((.platform.architecture // $a) == $a)][0].digest // ""' "$mf")
		[ -n "$md" ] || die "pull: no image for $(arch) in $2"
		pull_manifest "$dir" "$md" "$work"
		return
	fi
	cd=$(jq -r '.config.digest // ""' "$mf")
	cfg=$(verify_blob "$dir" "$cd") || exit
	jq -e . "$cfg" >/dev/null 2>&1 || die "pull: config $cd is not JSON"
	local -a ldig diffs
	mapfile -t ldig < <(jq -r '(.layers // [])[].digest' "$mf")
	mapfile -t diffs < <(jq -r '(.rootfs.diff_ids // [])[]' "$cfg")
	[ ${#ldig[@]} -eq ${#diffs[@]} ] || die "pull: the manifest lists ${#ldig[@]} layers but the config ${#diffs[@]}"
	local i f err
	for i in "${!ldig[@]}"; do
		f=$(verify_blob "$dir" "${ldig[i]}") || exit
		err=$(decompress "$f" "$work/$i.tar" 2>&1) || die "pull: layer ${ldig[i]}: ${err:-cannot decompress}"
		[ "sha256:$(sha256_of "$work/$i.tar")" = "${diffs[i]}" ] ||
			die "pull: layer ${ldig[i]} does not match the config's diff_id ${diffs[i]}"
	done
	# Everything checked: store it.
	tx_lock
	N_LAYERS=()
	for i in "${!ldig[@]}"; do
		layer_store "$work/$i.tar" || die "pull: cannot unpack layer ${ldig[i]}"
		N_LAYERS+=("$L_HEX")
	done
	local id=${cd#sha256:}
	if [ ! -d "$ROOT/images/$id" ]; then
		local d="$ROOT/images/$id.new.$$" created
		TX_TMP+=("$d")
		mkdir -p "$d" || die "pull: cannot write the image"
		printf '%s\n' "${N_LAYERS[@]}" >"$d/layers"
		jq -j '(.config.Cmd // [])[] | (., "\u0000")' "$cfg" >"$d/cmd"
		jq -j '(.config.Entrypoint // [])[] | (., "\u0000")' "$cfg" >"$d/entrypoint"
		jq -j '(.config.Env // [])[] | (., "\u0000")' "$cfg" >"$d/env"
		jq -r '.config.WorkingDir // ""' "$cfg" >"$d/workdir"
		jq -r '.config.User // ""' "$cfg" >"$d/user"
		# ExposedPorts, "80/tcp" lines, for run -P
		jq -r '(.config.ExposedPorts // {}) | keys[] | if test("/") then . else . + "/tcp" end' "$cfg" >"$d/exposed"
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
		TX_UNDO+=("$ROOT/images/$id")
		[ -e "$ROOT/blobs/sha256/$id" ] || TX_UNDO+=("$ROOT/blobs/sha256/$id")
		cp -- "$cfg" "$ROOT/blobs/sha256/$id" && mv -- "$d" "$ROOT/images/$id" || die "pull: cannot write the image"
	fi
	rm -f -- "$work"/*.tar
	PULLED_ID=$id
}

# unpack_archive FILE WORK: the archive FILE (- for stdin) unpacked in WORK/ar; A_LAYOUT = an
# OCI layout of its images (a docker save archive is translated: one index entry per RepoTag,
# annotated with the full name).
unpack_archive() {
	local in=$1 work=$2 ar="$2/ar"
	mkdir -p "$ar"
	if [ "$in" = - ]; then
		tar -C "$ar" --no-same-owner -xf - 2>/dev/null || die "cannot read the archive from stdin"
	else
		[ -r "$in" ] || die "cannot read '$in'"
		tar -C "$ar" --no-same-owner -xf "$in" 2>/dev/null || die "'$in' is not a tar archive"
	fi
	A_LAYOUT=$ar
	if [ -f "$ar/index.json" ] && [ -d "$ar/blobs" ] &&
		{ [ ! -f "$ar/manifest.json" ] || jq -e '[.manifests[] | .annotations // {} | select(.["io.containerd.image.name"] // .["org.opencontainers.image.ref.name"])] | length > 0' "$ar/index.json" >/dev/null 2>&1; }; then
		return 0
	fi
	[ -f "$ar/manifest.json" ] || die "the archive is neither an OCI layout nor a docker save archive"
	jq -e 'type == "array"' "$ar/manifest.json" >/dev/null 2>&1 || die "the archive's manifest.json is not a docker save manifest"
	# docker save's format: manifest.json with Config, RepoTags and Layers paths.
	local lay="$work/oci" n i cfgf id l h layers first t idx="[]"
	mkdir -p "$lay/blobs/sha256"
	n=$(jq 'length' "$ar/manifest.json")
	for ((i = 0; i < n; i++)); do
		cfgf="$ar/$(jq -r ".[$i].Config" "$ar/manifest.json")"
		[ -f "$cfgf" ] || die "the archive's manifest.json names a missing config"
		id=$(sha256_of "$cfgf")
		ln -f -- "$cfgf" "$lay/blobs/sha256/$id" 2>/dev/null || cp -- "$cfgf" "$lay/blobs/sha256/$id"
		layers="" first=1
		while IFS= read -r l; do
			[ -f "$ar/$l" ] || die "the archive's manifest.json names a missing layer '$l'"
			h=$(sha256_of "$ar/$l")
			ln -f -- "$ar/$l" "$lay/blobs/sha256/$h" 2>/dev/null || cp -- "$ar/$l" "$lay/blobs/sha256/$h"
			[ $first = 1 ] || layers+=","
			first=0
			layers+="{\"mediaType\":\"$MT_LAYER\",\"digest\":\"sha256:$h\",\"size\":$(stat -c %s "$ar/$l")}"
		done < <(jq -r ".[$i].Layers[]" "$ar/manifest.json")
		printf '{"schemaVersion":2,"config":{"mediaType":"%s","digest":"sha256:%s","size":%s},"layers":[%s]}' \
			"$MT_CONFIG" "$id" "$(stat -c %s "$cfgf")" "$layers" >"$lay/m"
		h=$(sha256_of "$lay/m")
		mv -- "$lay/m" "$lay/blobs/sha256/$h"
		idx=$(jq -c --arg d "sha256:$h" --argjson tags "$(jq -c ".[$i].RepoTags // []" "$ar/manifest.json")" '
			. + (if ($tags | length) == 0 then [{digest: $d}] else
				[$tags[] | {digest: $d, annotations: {"io.containerd.image.name": ., "org.opencontainers.image.ref.name": (. | sub(".*:"; ""))}}] end)' <<<"$idx")
	done
	jq -cn --argjson m "$idx" '{schemaVersion: 2, manifests: $m}' >"$lay/index.json"
	A_LAYOUT=$lay
}

# select_image LAYOUT SELECTORS ALLOW_ONE: S_DIGEST, S_RN, S_CN of the first index entry whose
# ref.name or full name (registry prefix apart) is one of SELECTORS (a JSON array), else with
# ALLOW_ONE=1 the layout's only entry.
select_image() {
	local out
	out=$(jq -r --argjson sels "$2" --arg one "$3" '
		def cn: (.annotations["io.containerd.image.name"] // "") | sub("^(docker.io/(library/)?|localhost/)"; "");
		def rn: .annotations["org.opencontainers.image.ref.name"] // "";
		. as $i | ([$sels[] as $s | $i.manifests[] | select(rn == $s)] + [$sels[] as $s | $i.manifests[] | select(cn == $s)]
		+ (if $one == "1" and ($i.manifests | length) == 1 then [$i.manifests[0]] else [] end))
		| .[0] // empty | [.digest, (rn | if . == "" then "-" else . end), (cn | if . == "" then "-" else . end)] | @tsv' "$1/index.json") ||
		die "pull: $1/index.json is not an OCI index"
	[ -n "$out" ] || return 1
	IFS=$'\t' read -r S_DIGEST S_RN S_CN <<<"$out"
	[ "$S_RN" = - ] && S_RN=
	[ "$S_CN" = - ] && S_CN=
	return 0
}

# entry_name RN CN: L_NAME and L_TAG, the local name of an index entry, or empty: its ref.name
# when that is a full NAME:TAG (podman's oci-archive, contain before issue 22), else the name of
# its io.containerd.image.name with the ref.name as tag (umoci keeps the full name of the image
# an entry was made from).
entry_name() {
	L_NAME= L_TAG=
	local rn cn
	rn=$(short_name "$1")
	cn=$(short_name "$2")
	if [[ $rn == *:* ]] && parse_ref "$rn"; then
		L_NAME=$R_NAME L_TAG=$R_TAG
	elif [ -n "$cn" ] && parse_ref "$cn"; then
		L_NAME=$R_NAME L_TAG=$R_TAG
		[ -n "$rn" ] && parse_ref "$L_NAME:$rn" && L_TAG=$rn
	fi
	return 0
}

# contain pull SOURCE [NAME[:TAG]]: one image from an OCI layout (DIR, oci:DIR[:REF]) or an
# archive (oci-archive:FILE[:REF], docker-archive:FILE[:REF], a FILE).
cmd_pull() {
	[ $# -eq 1 ] || [ $# -eq 2 ] || die "pull: usage: contain pull DIR|oci:DIR[:TAG]|oci-archive:FILE[:TAG]|docker-archive:FILE[:NAME:TAG] [NAME[:TAG]]"
	need_jq pull
	local src=$1 lname="" ltag="" explicit=0 lay sels one=0 work
	if [ $# -eq 2 ]; then
		need_ref "$2"
		lname=$R_NAME ltag=$R_TAG
		[[ $2 == *":$R_TAG" ]] && explicit=1
	fi
	store_init
	tx_begin
	tx_work work pull
	transport "$src"
	case $T_KIND in
	"" | oci)
		if [ -z "$T_KIND" ] && [ -f "$T_PATH" ]; then
			unpack_archive "$T_PATH" "$work"
			lay=$A_LAYOUT
		else
			lay=$T_PATH
			[ -f "$lay/index.json" ] || die "pull: $lay is not an OCI image layout (no index.json)"
		fi
		;;
	*)
		unpack_archive "$T_PATH" "$work"
		lay=$A_LAYOUT
		;;
	esac
	if [ -n "$T_REF" ]; then
		sels=$(jq -cn --arg r "$T_REF" '[$r]')
	elif [ -n "$lname" ]; then
		sels=$(jq -cn --arg n "$lname:$ltag" --arg t "$ltag" '[$n, $t]')
		[ $explicit = 1 ] || one=1
	else
		sels='["latest"]' one=1
	fi
	select_image "$lay" "$sels" "$one" ||
		die "pull: ${T_PATH} has no image ${T_REF:-${lname:+$lname:}${ltag:-latest}}$([ $one = 1 ] && echo " (and more than one image: name one)")"
	if [ -n "$lname" ]; then
		if [ $explicit = 0 ] && [ -n "$T_REF" ]; then ltag=${T_REF##*:}; fi
	else
		entry_name "$S_RN" "$S_CN"
		lname=$L_NAME ltag=$L_TAG
	fi
	pull_manifest "$lay" "$S_DIGEST" "$work"
	[ -z "$lname" ] || tag_set "$lname" "$ltag" "$PULLED_ID" || die "pull: cannot write the tag"
	unlock
	if [ -n "$lname" ]; then
		echo "$lname:$ltag: pulled sha256:$PULLED_ID"
	else
		echo "pulled sha256:$PULLED_ID (untagged: name it with contain pull SOURCE NAME[:TAG] or contain tag)"
	fi
}

# contain save [-o FILE] IMAGE...: one archive that docker load, podman load and OCI tools read
# (an OCI layout plus docker's manifest.json and repositories); -o oci-archive:FILE writes the
# OCI layout alone, -o docker-archive:FILE the same as FILE.
cmd_save() {
	local out="" refs=()
	while [ $# -gt 0 ]; do
		case $1 in
		-o | --output) out=${2:-} && shift ;;
		--output=*) out=${1#*=} ;;
		-o?*) out=${1#-o} ;;
		-*) die "save: unknown option '$1'" ;;
		*) refs+=("$1") ;;
		esac
		shift
	done
	[ ${#refs[@]} -ge 1 ] || die "save: usage: contain save [-o FILE|oci-archive:FILE|docker-archive:FILE] IMAGE..."
	need_jq save
	store_init
	tx_begin
	local work r id fmt=docker
	tx_work work save
	transport "${out:--}"
	case $T_KIND in oci-archive) fmt=oci ;; esac
	[ "$T_KIND" = oci ] && die "save: writes an archive; for a layout directory use contain push IMAGE oci:DIR"
	for r in "${refs[@]}"; do
		id=$(image_resolve "$r") || exit
		image_names "$r" "$id"
		dest_names ""
		push_image "$id" "$D_RN" "$D_CN" "$work/layout" save
	done
	if [ "$T_PATH" = - ]; then
		[ -t 1 ] && die "save: cowardly refusing to write a tar to a terminal (use -o FILE or redirect)"
	fi
	write_archive "$work/layout" "$T_PATH" "$fmt" || die "save: cannot write $T_PATH"
}

# contain load [-i FILE]: every image of an archive (contain save, docker save, podman save in
# either format, skopeo's oci-archive: and docker-archive:).
cmd_load() {
	local in=- quiet=0
	while [ $# -gt 0 ]; do
		case $1 in
		-i | --input) in=${2:-} && shift ;;
		--input=*) in=${1#*=} ;;
		-q | --quiet) quiet=1 ;;
		*) die "load: usage: contain load [-i FILE]" ;;
		esac
		shift
	done
	need_jq load
	store_init
	tx_begin
	local work
	tx_work work load
	transport "$in"
	[ "$T_KIND" = oci ] && die "load: reads an archive; for a layout directory use contain pull oci:DIR"
	unpack_archive "$T_PATH" "$work"
	local md rn cn n=0 msgs=() tags=() t
	while IFS=$'\t' read -r md rn cn; do
		[ "$rn" = - ] && rn=
		[ "$cn" = - ] && cn=
		entry_name "$rn" "$cn"
		pull_manifest "$A_LAYOUT" "$md" "$work"
		n=$((n + 1))
		if [ -n "$L_NAME" ]; then
			tags+=("$L_NAME $L_TAG $PULLED_ID")
			msgs+=("Loaded image: $L_NAME:$L_TAG")
		else
			msgs+=("Loaded image ID: sha256:$PULLED_ID")
		fi
	done < <(jq -r '.manifests[] | [.digest, (.annotations["org.opencontainers.image.ref.name"] // "-"), (.annotations["io.containerd.image.name"] // "-")] | @tsv' "$A_LAYOUT/index.json")
	[ $n -gt 0 ] || die "load: the archive holds no image"
	for t in "${tags[@]}"; do
		read -r rn cn md <<<"$t"
		tag_set "$rn" "$cn" "$md" || die "load: cannot write the tag $rn:$cn"
	done
	unlock
	[ $quiet = 1 ] || printf '%s\n' "${msgs[@]}"
}
