# contain: networking (sourced by contain, only for the commands that need it).
#
# Docker's networks built from the CNI plugins (Debian's containernetworking-plugins in
# /usr/lib/cni), called directly through the CNI protocol: the command and the container in
# the environment, one plugin's configuration on stdin, its result on stdout, each result
# handed to the next plugin as prevResult, and DEL in reverse order with the stored result.
#
#   $ROOT/networks/NAME.conflist   a network's plugin chain: bridge (host-local IPAM) ->
#                                  portmap -> tuning (firewall too, for networks written
#                                  before net_rules); NAME.json its metadata
#   $ROOT/containers/ID/network    a container's wishes: "net NAME IFNAME", "port PROTO
#                                  HOSTIP HOSTPORT CTRPORT", "addhost H:IP", "dns IP",
#                                  "dnssearch D", "dnsopt O" lines
#   $NETRUN/c/ID/                  its live network state: ns (the network namespace, bind
#                                  mounted from before the program starts until after DEL),
#                                  owner (the monitor's pid and start time), NAME.json (the
#                                  final ADD result), NAME.addr ("IFNAME IP PREFIX GW MAC")
#   $NETRUN/ports/PROTO-PORT       the host-port registry (the owner's id)
#   $NETRUN/members/NAME/ID        "IP NAME HOSTNAME" of each running container of NAME
#   $NETRUN/ipam/NAME/             host-local's leases
# NETRUN is /run/contain (a tmpfs: it goes at reboot with the namespaces, veths and rules it
# describes), or $ROOT/run for a private state root ($CONTAIN_ROOT) and for a user.

if [ -n "${CONTAIN_ROOT:-}" ] || [ "$ROOTLESS" = 1 ]; then NETRUN=$ROOT/run; else NETRUN=/run/contain; fi
NETDIR=$ROOT/networks
CNI_BIN=${CONTAIN_CNI_PATH:-/usr/lib/cni:/opt/cni/bin}
NET_DEFAULT_SUBNET=${CONTAIN_BRIDGE_SUBNET:-10.98.0.0/16}
NET_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

net_init() {
	[ -d "$NETRUN/c" ] && [ -d "$NETDIR" ] && return 0
	mkdir -p "$NETRUN/c" "$NETRUN/ports" "$NETRUN/members" "$NETRUN/ipam" "$NETRUN/lock" "$NETDIR" ||
		die "cannot create the network state directories ($NETRUN, $NETDIR)"
}

# net_lock NAME: an exclusive lock ($NETRUN/lock/NAME) on descriptor NET_LOCK_FD until
# net_unlock.
net_lock() {
	exec {NET_LOCK_FD}>>"$NETRUN/lock/$1" || die "cannot open $NETRUN/lock/$1"
	flock "$NET_LOCK_FD" || die "cannot lock $NETRUN/lock/$1"
}
net_unlock() { exec {NET_LOCK_FD}>&-; }

# ---------------------------------------------------------------- networks
# net_write NAME BRIDGE SUBNET GATEWAY INTERNAL: the network's conflist and metadata.
net_write() {
	local name=$1 br=$2 subnet=$3 gw=$4 internal=$5 id
	printf -v id '%08x%08x%08x%08x%08x%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM" \
		"$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM"
	jq -n --arg name "$name" --arg br "$br" --arg subnet "$subnet" --arg gw "$gw" \
		--argjson internal "$internal" --arg ipam "$NETRUN/ipam" '{
		cniVersion: "1.0.0", name: $name,
		plugins: ([
			{type: "bridge", bridge: $br, isGateway: ($internal | not), ipMasq: false,
			 hairpinMode: true,
			 ipam: ({type: "host-local", ranges: [[{subnet: $subnet, gateway: $gw}]],
			        dataDir: $ipam} + (if $internal then {} else {routes: [{dst: "0.0.0.0/0"}]} end))}]
			+ (if $internal then [] else [{type: "portmap", capabilities: {portMappings: true}}] end)
			+ [{type: "tuning", sysctl: {"net.ipv4.ip_unprivileged_port_start": "0"}}])
	}' >"$NETDIR/$name.conflist.tmp" &&
		jq -n --arg name "$name" --arg id "$id" --arg br "$br" --arg subnet "$subnet" --arg gw "$gw" \
			--argjson internal "$internal" --arg created "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" \
			'{Name: $name, Id: $id, Created: $created, Bridge: $br, Subnet: $subnet,
			  Gateway: $gw, Internal: $internal, Masquerade: ($internal | not), Forward: true}' >"$NETDIR/$name.json" &&
		mv -f -- "$NETDIR/$name.conflist.tmp" "$NETDIR/$name.conflist" && net_lines "$name"
}

# net_rules NETWORK: the network's own iptables rules, one set for all its containers as
# docker makes them, on the first start after the network was written or the machine booted
# ($NETRUN/rules/NETWORK says they are there):
# - Masquerade: `-s SUBNET ! -o BRIDGE -j MASQUERADE` in nat POSTROUTING (the bridge plugin's
#   ipMasq would make a chain of 2 rules and a jump per container: 7 iptables execs at each
#   start, 5 at each end, and a chain left behind when the namespace is gone before DEL);
# - Forward: what the firewall plugin (ingressPolicy same-bridge) writes per container,
#   written per network: in filter CNI-FORWARD (jumped to first from FORWARD, and jumping to
#   CNI-ADMIN first) `-s SUBNET -i BRIDGE -j ACCEPT` and `-d SUBNET -o BRIDGE` RELATED,
#   ESTABLISHED ACCEPT, and the bridge's isolation from the other networks' bridges in
#   CNI-ISOLATION-STAGE-1/2, the plugin's very rules (16 execs at each start, 4 at each end).
# network rm deletes the rules naming the bridge.  Networks written before (no Masquerade
# or Forward in their metadata) keep the plugins'.
net_rules() {
	local n=$1 sub br fd masq fwd
	[ -e "$NETRUN/rules/$n" ] && return 0
	net_field "$n" Masquerade
	masq=$R_FIELD
	net_field "$n" Forward
	fwd=$R_FIELD
	[ "$masq" = true ] || [ "$fwd" = true ] || return 0
	net_field "$n" Subnet
	sub=$R_FIELD
	net_field "$n" Bridge
	br=$R_FIELD
	mkdir -p "$NETRUN/rules"
	exec {fd}>>"$NETRUN/lock/rules" && flock "$fd"
	if [ ! -e "$NETRUN/rules/$n" ]; then
		local iso="CNI firewall plugin rules (ingressPolicy: same-bridge)" ok=1
		if [ "$masq" = true ]; then
			net_rule nat A POSTROUTING -s "$sub" ! -o "$br" -m comment --comment "contain:$n" -j MASQUERADE || ok=0
		fi
		if [ "$fwd" = true ]; then
			local ch
			for ch in CNI-FORWARD CNI-ADMIN CNI-ISOLATION-STAGE-1 CNI-ISOLATION-STAGE-2; do
				iptables -w -t filter -N "$ch" 2>/dev/null
			done
			net_rule filter I FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD &&
				net_rule filter I CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN &&
				net_rule filter A CNI-FORWARD -s "$sub" -i "$br" -m comment --comment "contain:$n" -j ACCEPT &&
				net_rule filter A CNI-FORWARD -d "$sub" -o "$br" -m conntrack --ctstate RELATED,ESTABLISHED \
					-m comment --comment "contain:$n" -j ACCEPT &&
				net_rule filter I FORWARD -m comment --comment "$iso" -j CNI-ISOLATION-STAGE-1 &&
				net_rule filter A CNI-ISOLATION-STAGE-1 -m comment --comment "$iso" -j RETURN &&
				net_rule filter A CNI-ISOLATION-STAGE-2 -m comment --comment "$iso" -j RETURN &&
				net_rule filter I CNI-ISOLATION-STAGE-1 -i "$br" ! -o "$br" -m comment --comment "$iso" -j CNI-ISOLATION-STAGE-2 &&
				net_rule filter I CNI-ISOLATION-STAGE-2 -o "$br" -m comment --comment "$iso" -j DROP || ok=0
		fi
		if [ $ok = 0 ]; then
			exec {fd}>&-
			return 1
		fi
		: >"$NETRUN/rules/$n"
	fi
	exec {fd}>&-
}
# net_rule TABLE A|I CHAIN RULE...: RULE in CHAIN unless it is there (A: appended, I: first).
net_rule() {
	local t=$1 how=$2 ch=$3
	shift 3
	iptables -w -t "$t" -C "$ch" "$@" 2>/dev/null && return 0
	if [ "$how" = I ]; then iptables -w -t "$t" -I "$ch" 1 "$@"; else iptables -w -t "$t" -A "$ch" "$@"; fi
}

# The default network `bridge` (bridge contain0), made on first use.
net_default() {
	[ -e "$NETDIR/bridge.conflist" ] && return 0
	need_jq_net
	net_lock networks
	local gw=${NET_DEFAULT_SUBNET%/*}
	[ -e "$NETDIR/bridge.conflist" ] ||
		net_write bridge contain0 "$NET_DEFAULT_SUBNET" "${gw%.*}.$((${gw##*.} + 1))" false ||
		die "cannot write the default network"
	net_unlock
}
need_jq_net() { command -v jq >/dev/null || die "networking needs jq (apt-get install jq)"; }

# net_field NAME KEY: a string or boolean of the network's metadata into R_FIELD (bash only).
net_field() {
	local t
	R_FIELD=
	IFS= read -r -d '' t <"$NETDIR/$1.json"
	[[ $t =~ \"$2\":\ *\"?([^\",}$'\n']*) ]] && R_FIELD=${BASH_REMATCH[1]}
	return 0
}

# ---------------------------------------------------------------- the CNI protocol
# net_cni CMD NETWORK CID NSFILE IFNAME PORTMAPPINGS PREV: run the network's chain (ADD:
# in order, each plugin's stdout the next one's prevResult; DEL: in reverse, each with the
# stored result PREV).  ADD's final result in R_CNI.  A failed ADD is undone by a DEL.
#
# What is left out or run side by side, because it changes nothing (bench/network.sh has
# the milliseconds each saves):
# - portmap, for a container that publishes no port: its ADD returns at once, and its DEL
#   only removes chains that ADD never made (9 iptables and 6 ip6tables execs).
# - tuning's DEL when it sets sysctls only: it restores a mac, mtu, promisc or allmulti it
#   saved, and nothing else (the sysctls go with the namespace).
# - IPv6: our networks have no IPv6, so portmap runs with a PATH holding iptables and no
#   ip6tables ($NETRUN/bin4): it then skips its IPv6 chains (their DEL alone made 7 execs).
# - The plugins after bridge (portmap, tuning; firewall) each hand back their prevResult
#   unchanged and touch disjoint things (their own chains, the namespace's sysctls): ADD
#   runs them together once bridge's result (the address) is known, each with that result
#   as prevResult, and the final result is the last one's, as in a sequential chain.  DEL
#   of the whole chain runs together too (each plugin removes only what its ADD made).  A
#   chain holding another plugin type runs one plugin at a time.
NET_PAR=" bridge portmap firewall tuning "
net_cni() {
	local cmd=$1 net=$2 cid=$3 ns=$4 ifname=$5 pm=${6:-[]} prev=${7:-} lines type conf rc=0 i
	local -a types=() confs=() pids=()
	NET_T0=$EPOCHREALTIME
	# the chain's lines, made by jq once when the network was written (net_lines)
	[ -r "$NETDIR/$net.$cmd" ] || net_lines "$net" || {
		R_ERR="network $net: cannot read $NETDIR/$net.conflist"
		return 1
	}
	lines=$(<"$NETDIR/$net.$cmd")
	lines=${lines//\"@PM@\"/$pm}
	R_ERR=
	while read -r type conf; do
		[ -n "$type" ] || continue
		[ "$type" = portmap ] && [ "$pm" = "[]" ] && continue
		[ "$cmd" = DEL ] && [ "$type" = tuning ] && ! [[ $conf =~ \"(mac|mtu|promisc|allmulti)\" ]] && continue
		types+=("$type") confs+=("$conf")
	done <<<"$lines"
	local par=1 tmp=$NETRUN/c/$cid/.cni
	for type in "${types[@]}"; do [[ $NET_PAR == *" $type "* ]] || par=0; done
	[ -d "$NETRUN/c/$cid" ] || par=0
	if [ "$cmd" = ADD ]; then
		# the first plugin (the interface and its address) alone, then the others
		for ((i = 0; i < ${#types[@]}; i++)); do
			if [ $i = 0 ] || [ $par = 0 ]; then
				net_plugin "$cmd" "$net" "$cid" "$ns" "$ifname" "${types[i]}" "${confs[i]}" "$prev" || {
					rc=1
					break
				}
				prev=$R_OUT
				continue
			fi
			net_plugin "$cmd" "$net" "$cid" "$ns" "$ifname" "${types[i]}" "${confs[i]}" "$prev" "$tmp.$i" &
			pids[i]=$!
		done
	else
		for ((i = 0; i < ${#types[@]}; i++)); do
			if [ $par = 0 ]; then
				net_plugin "$cmd" "$net" "$cid" "$ns" "$ifname" "${types[i]}" "${confs[i]}" "$prev" || rc=1
			else
				net_plugin "$cmd" "$net" "$cid" "$ns" "$ifname" "${types[i]}" "${confs[i]}" "$prev" "$tmp.$i" &
				pids[i]=$!
			fi
		done
	fi
	local last=$prev
	for i in "${!pids[@]}"; do
		if wait "${pids[i]}"; then
			[ "$cmd" = ADD ] && last=$(<"$tmp.$i")
		else
			rc=1
			[ -z "$R_ERR" ] && R_ERR=$(<"$tmp.$i")
		fi
	done
	# (the .cni.N files go with the container's directory: no rm exec here)
	if [ "$cmd" = ADD ]; then
		if [ $rc != 0 ]; then
			local e=$R_ERR
			net_cni DEL "$net" "$cid" "$ns" "$ifname" "$pm" "$prev"
			R_ERR=$e
			return 1
		fi
		R_CNI=$last
	fi
	return $rc
}

# net_plugin CMD NETWORK CID NSFILE IFNAME TYPE CONF PREV [OUTFILE]: one plugin run, its
# stdout into R_OUT (or, with OUTFILE, into that file, or its error message on failure), a
# failure's message into R_ERR.
net_plugin() {
	local cmd=$1 net=$2 type=$6 conf=$7 prev=$8 of=${9:-} p="" d out path=$NET_PATH t0=$EPOCHREALTIME
	[ -n "$prev" ] && conf="${conf%\}},\"prevResult\":$prev}"
	for d in ${CNI_BIN//:/ }; do [ -x "$d/$type" ] && p=$d/$type && break; done
	if [ -z "$p" ]; then
		R_ERR="network $net: no CNI plugin '$type' in $CNI_BIN (apt-get install containernetworking-plugins)"
		[ -n "$of" ] && echo "$R_ERR" >"$of"
		return 1
	fi
	[ "$type" = portmap ] && net_bin4 && path=$NETRUN/bin4
	out=$(env -i PATH="$path" CNI_COMMAND="$cmd" CNI_CONTAINERID="$3" CNI_NETNS="$4" \
		CNI_IFNAME="$5" CNI_PATH="$CNI_BIN" CNI_ARGS="IgnoreUnknown=1" "$p" <<<"$conf" 2>/dev/null)
	if [ $? != 0 ]; then
		[[ $out =~ \"msg\":\ *\"([^\"]*)\" ]] && out=${BASH_REMATCH[1]}
		R_ERR="network $net: $type $cmd: ${out:-failed}"
		[ -n "$of" ] && echo "$R_ERR" >"$of"
		return 1
	fi
	R_OUT=$out
	[ -n "$of" ] && printf '%s' "$out" >"$of"
	[ -n "${CONTAIN_NET_TIMES:-}" ] && net_time "$type $cmd" "$t0"
	return 0
}

# net_bin4: $NETRUN/bin4, a PATH for the plugins with iptables and without ip6tables.
net_bin4() {
	[ -e "$NETRUN/bin4/iptables" ] && return 0
	local t f
	mkdir -p "$NETRUN/bin4" || return 1
	for t in iptables iptables-save iptables-restore; do
		f=$(PATH=$NET_PATH command -v "$t") && ln -sf "$f" "$NETRUN/bin4/$t"
	done
	[ -e "$NETRUN/bin4/iptables" ]
}

# net_lines NETWORK: the network's conflist as the lines net_cni runs, NETWORK.ADD (in order)
# and NETWORK.DEL (reversed): "TYPE CONFIG" per plugin, its capabilities taken out and the
# list's cniVersion and name put in, "@PM@" where the port mappings go (one jq start for the
# network's life rather than one per ADD and DEL: 15 to 100 ms each on this machine).
net_lines() {
	local c
	for c in ADD DEL; do
		jq -rc --arg cmd "$c" '. as $l | .plugins
			| (if $cmd == "DEL" then reverse else . end) | .[]
			| "\(.type) \(del(.capabilities) + {cniVersion: $l.cniVersion, name: $l.name}
				+ (if .capabilities.portMappings then {runtimeConfig: {portMappings: "@PM@"}} else {} end))"' \
			"$NETDIR/$1.conflist" >"$NETDIR/.$1.$c.$$" &&
			mv -f -- "$NETDIR/.$1.$c.$$" "$NETDIR/$1.$c" || return 1
	done
}

# net_time WHAT START: with CONTAIN_NET_TIMES set, "contain: net: WHAT MS" on stderr (where
# the milliseconds of a network's setup and teardown go; bench/network.sh).
net_time() {
	local a=${EPOCHREALTIME/./} b=${2/./}
	printf 'contain: net: %s %d.%03d ms\n' "$1" $(((a - b) / 1000)) $(((a - b) % 1000)) >&2
}

# net_addr RESULT IFNAME: the container interface's address of a CNI result into R_ADDR
# ("IFNAME IP PREFIX GATEWAY MAC"), with bash alone.
net_addr() {
	local r=${1//[$'\n\t ']/} ip="" pfx="" gw="" mac=""
	[[ $r =~ \"address\":\"([0-9.]+)/([0-9]+)\" ]] && ip=${BASH_REMATCH[1]} pfx=${BASH_REMATCH[2]}
	[[ $r =~ \"gateway\":\"([0-9.]+)\" ]] && gw=${BASH_REMATCH[1]}
	[[ $r =~ \"name\":\"$2\",\"mac\":\"([0-9a-f:]+)\" ]] && mac=${BASH_REMATCH[1]}
	R_ADDR="$2 $ip $pfx ${gw:--} ${mac:--}"
}

# ---------------------------------------------------------------- a container's network
# net_conf CID: the container's network file into NET_NETS ("NAME IFNAME" words), NET_PORTS
# ("PROTO HOSTIP HOSTPORT CTRPORT"), NET_ADDHOSTS, NET_DNS, NET_DNSSEARCH, NET_DNSOPT.
net_conf() {
	local k v
	NET_NETS=() NET_PORTS=() NET_ADDHOSTS=() NET_DNS=() NET_DNSSEARCH=() NET_DNSOPT=()
	[ -r "$ROOT/containers/$1/network" ] || return 0
	while IFS=' ' read -r k v; do
		case $k in
		net) NET_NETS+=("$v") ;;
		port) NET_PORTS+=("$v") ;;
		addhost) NET_ADDHOSTS+=("$v") ;;
		dns) NET_DNS+=("$v") ;;
		dnssearch) NET_DNSSEARCH+=("$v") ;;
		dnsopt) NET_DNSOPT+=("$v") ;;
		esac
	done <"$ROOT/containers/$1/network"
}

# The container's port mappings as portmap's runtimeConfig.portMappings (JSON), into R_PM.
net_pm_json() {
	local p f sep=""
	R_PM="["
	for p in "${NET_PORTS[@]}"; do
		read -ra f <<<"$p"
		R_PM+="$sep{\"protocol\":\"${f[0]}\",\"hostPort\":${f[2]},\"containerPort\":${f[3]}"
		[ "${f[1]}" != 0.0.0.0 ] && R_PM+=",\"hostIP\":\"${f[1]}\""
		R_PM+="}"
		sep=,
	done
	R_PM+="]"
}

# net_claim_ports CID NAME: take the container's host ports in the registry, refused in
# docker's words when another container holds one.
net_claim_ports() {
	local cid=$1 name=$2 p f key o taken=()
	net_conf "$cid"
	[ ${#NET_PORTS[@]} -gt 0 ] || return 0
	net_init
	for p in "${NET_PORTS[@]}"; do
		read -ra f <<<"$p"
		key=$NETRUN/ports/${f[0]}-${f[2]}
		if ! (set -C && echo "$cid" >"$key") 2>/dev/null; then
			o=
			IFS= read -r o <"$key" 2>/dev/null
			if [ "$o" != "$cid" ] && [ -n "$o" ] && [ -d "$NETRUN/c/$o" ] && net_alive "$o"; then
				local t
				for t in "${taken[@]}"; do rm -f -- "$t"; done
				R_ERR="Error response from daemon: driver failed programming external connectivity on endpoint $name ($cid): Bind for ${f[1]}:${f[2]} failed: port is already allocated"
				return 1
			fi
			echo "$cid" >"$key"
		fi
		taken+=("$key")
	done
	return 0
}
net_release_ports() {
	local cid=$1 k o
	for k in "$NETRUN"/ports/*; do
		o=
		IFS= read -r o <"$k" 2>/dev/null
		[ "$o" = "$cid" ] && rm -f -- "$k"
	done
	return 0
}

# net_alive CID: the container's network owner (its monitor) still runs.
net_alive() {
	local pid st now= line=${2-}
	if [ $# -lt 2 ]; then
		[ -r "$NETRUN/c/$1/owner" ] || return 1
		IFS= read -r line <"$NETRUN/c/$1/owner"
	fi
	pid=${line%% *} st=${line#* }
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
	local s
	IFS= read -r s <"/proc/$pid/stat" 2>/dev/null || return 1
	s=${s##*) }
	read -ra now <<<"$s"
	[ "${now[19]:-}" = "$st" ]
}

# net_start_time PID: field 22 of /proc/PID/stat into R_ST.
net_start_time() {
	local s a
	IFS= read -r s <"/proc/$1/stat"
	s=${s##*) }
	read -ra a <<<"$s"
	R_ST=${a[19]}
}

# net_ns_of CID: the network namespace file of a running container into R_NS (its bind
# mount, or its pid 1's for a container without one: cinit_v's, which for a runtime's
# container is the runtime's record of it, never the runtime's own process, whose namespace
# is the host's); status 1 when it runs none.
net_ns_of() {
	R_NS=
	if [ -e "$NETRUN/c/$1/ns" ] && net_alive "$1"; then
		R_NS=$NETRUN/c/$1/ns
		return 0
	fi
	cinit_v "$1"
	[ -n "$R_INIT" ] && [ -e "/proc/$R_INIT/ns/net" ] || return 1
	R_NS=/proc/$R_INIT/ns/net
}

# net_up CID: before the program starts (META loaded): the network namespace kept in a bind
# mounted file, each network's ADD, the hosts and resolv.conf files, the peers' hosts files.
# The chain joins NET_JOIN.  Status 1 with R_ERR on failure (nothing left behind).
NET_JOIN=()
net_up() {
	local cid=$1 c="$ROOT/containers/$1" s n ifname a
	NET_JOIN=()
	case ${META[net]} in
	container:*)
		net_ns_of "${META[net]#container:}" || {
			R_ERR="cannot join network of a non running container: ${META[net]#container:}"
			return 1
		}
		NET_JOIN=("${TOOL[unshare-rs]}" --join "--net=$R_NS" --)
		return 0
		;;
	slirp4netns)
		net_slirp_up "$cid"
		return
		;;
	esac
	local tup=$EPOCHREALTIME
	need_jq_net
	net_init
	net_gc
	s=$NETRUN/c/$cid
	mkdir -p "$s" || {
		R_ERR="cannot create $s"
		return 1
	}
	net_start_time "$BASHPID"
	echo "$BASHPID $R_ST" >"$s/owner"
	: >"$s/ns"
	if ! "${TOOL[unshare-rs]}" "--net=$s/ns" --loopback true; then
		rm -rf -- "$s"
		R_ERR="cannot make the container's network namespace"
		return 1
	fi
	[ -n "${CONTAIN_NET_TIMES:-}" ] && net_time "gc and netns file" "$tup"
	net_claim_ports "$cid" "${META[name]}" || {
		local e=$R_ERR
		net_down "$cid"
		R_ERR=$e
		return 1
	}
	net_pm_json
	local pm=$R_PM
	for n in "${NET_NETS[@]}"; do
		ifname=${n#* } n=${n%% *}
		[ -e "$NETDIR/$n.conflist" ] || {
			local e="network $n not found"
			net_down "$cid"
			R_ERR=$e
			return 1
		}
		net_rules "$n" || {
			net_down "$cid"
			R_ERR="network $n: cannot add its iptables rules"
			return 1
		}
		# the ports are published on the first network's address, as docker publishes them.
		# A failed ADD (undone by its DEL) is tried again, twice: the plugins race on the
		# first creation of a bridge and on iptables under many parallel starts.
		local try=0
		until net_cni ADD "$n" "$cid" "$s/ns" "$ifname" "$pm" || ((++try > 2)); do sleep 0.2; done
		if ((try > 2)); then
			local e=$R_ERR
			net_down "$cid"
			R_ERR=$e
			return 1
		fi
		printf '%s\n' "$R_CNI" >"$s/$n.json"
		net_addr "$R_CNI" "$ifname"
		echo "$R_ADDR" >"$s/$n.addr"
		a=($R_ADDR)
		mkdir -p "$NETRUN/members/$n"
		echo "${a[1]} ${META[name]} ${META[hostname]}" >"$NETRUN/members/$n/$cid"
		[ "$pm" != "[]" ] && net_admit "$cid" "$n" "${a[1]}"
		pm="[]"
	done
	net_files "$cid"
	for n in "${NET_NETS[@]}"; do net_peers "${n%% *}" "$cid"; done
	NET_JOIN=("${TOOL[unshare-rs]}" --join "--net=$s/ns" --)
	[ -n "${CONTAIN_NET_TIMES:-}" ] && net_time "setup total" "$tup"
	return 0
}

# net_down CID: after the program ends: each network's DEL (while the namespace still
# exists: the bridge plugin deletes the veth inside it, and for a network written before
# net_rules, its masquerade chain through the address found there), then
# the namespace's bind mount, the ports, the membership, the peers' hosts files.  Idempotent.
net_down() {
	local cid=$1 s=$NETRUN/c/$1 f n ifname pm nets=() tdown=$EPOCHREALTIME
	# (the monitor of a slirp4netns container: its holder and slirp4netns end first)
	net_slirp_stop
	[ -d "$s" ] || return 0
	net_lock "c-$cid"
	if [ -d "$s" ]; then
		rm -f -- "$NETRUN/api/${cid:0:16}.sock"
		net_conf "$cid"
		net_pm_json
		pm=$R_PM
		# the published ports' ACCEPT rules, beside the plugins' DEL
		local apid=
		if [ -r "$s/admit" ]; then
			{
				local r
				while IFS= read -r r; do
					# shellcheck disable=SC2086
					iptables -w -t filter -D CNI-ADMIN $r 2>/dev/null
				done <"$s/admit"
			} &
			apid=$!
		fi
		for f in "$s"/*.json; do
			n=${f##*/} n=${n%.json}
			ifname=eth0
			[ -r "$s/$n.addr" ] && read -r ifname _ <"$s/$n.addr"
			[ -e "$NETDIR/$n.conflist" ] && net_cni DEL "$n" "$cid" "$s/ns" "$ifname" "$pm" "$(<"$f")"
			rm -f -- "$f" "$s/$n.addr" "$NETRUN/members/$n/$cid"
			nets+=("$n")
		done
		[ -n "$apid" ] && wait "$apid"
		umount "$s/ns" 2>/dev/null
		rm -rf -- "$s"
		net_release_ports "$cid"
		for n in "${nets[@]}"; do net_peers "$n" "$cid"; done
	fi
	rm -f -- "$NETRUN/lock/c-$cid"
	net_unlock
	[ -n "${CONTAIN_NET_TIMES:-}" ] && net_time "teardown total" "$tdown"
	return 0
}

# net_admit CID NETWORK IP: published ports let in through a FORWARD policy DROP (docker's
# DOCKER chain does it): one ACCEPT per port in the firewall plugin's admin chain, for the
# connections that portmap's DNAT sent to the container's port (not for the container's
# address reached directly); the rules kept in $s/admit for net_down.
net_admit() {
	local cid=$1 br p f r
	net_field "$2" Bridge
	br=$R_FIELD
	for p in "${NET_PORTS[@]}"; do
		read -ra f <<<"$p"
		r="-d $3/32 -o $br -p ${f[0]} -m ${f[0]} --dport ${f[3]} -m conntrack --ctstate DNAT -m comment --comment contain:${cid:0:12} -j ACCEPT"
		# shellcheck disable=SC2086
		iptables -w -t filter -I CNI-ADMIN $r 2>/dev/null && echo "$r" >>"$NETRUN/c/$cid/admit"
	done
}

# net_gc: the leftovers of containers whose monitor died (a crash, a SIGKILL): DEL, leases,
# rules, namespace files and ports.
net_gc() {
	local d cid k o
	for d in "$NETRUN"/c/*/; do
		d=${d%/}
		cid=${d##*/}
		# the owner read once: a container being set up has none yet, or one being written
		# (it reads empty a moment: 20 parallel starts saw a live one torn down), and is left
		# alone unless its directory is old
		o=
		[ -e "$d/owner" ] && IFS= read -r o <"$d/owner"
		if [[ $o =~ ^[0-9]+\ [0-9]+$ ]]; then
			net_alive "$cid" "$o" && continue
		else
			[ "$(find "$d" -maxdepth 0 -mmin +1 2>/dev/null)" ] || continue
		fi
		net_down "$cid"
	done
	for k in "$NETRUN"/ports/*; do
		o=
		IFS= read -r o <"$k" 2>/dev/null
		[ -n "$o" ] && [ ! -d "$ROOT/containers/$o" ] && rm -f -- "$k"
	done
	return 0
}

# net_files CID: the container's hosts and resolv.conf, as docker writes them.
net_files() {
	local cid=$1 c="$ROOT/containers/$1" s=$NETRUN/c/$1 f a h l
	{
		printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
		printf 'fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n'
		for h in "${NET_ADDHOSTS[@]}"; do printf '%s\t%s\n' "${h#*:}" "${h%%:*}"; done
		for f in "$s"/*.addr; do
			read -ra a <"$f"
			[ -n "${a[1]}" ] && printf '%s\t%s\n' "${a[1]}" "${META[hostname]}"
			break
		done
	} >"$c/hosts.base"
	net_hosts "$cid"
	{
		local ns=0
		if [ ${#NET_DNS[@]} -gt 0 ]; then
			printf 'nameserver %s\n' "${NET_DNS[@]}"
		else
			# slirp4netns's resolver first, as rootless podman writes it
			[ "${NET_SLIRP:-}" = 1 ] && echo "nameserver 10.0.2.3" && ns=1
			# the host's resolvers, minus loopback ones a container cannot reach
			while IFS= read -r l; do
				case $l in
				nameserver\ 127.* | nameserver\ ::1 | nameserver\ 0.0.0.0) ;;
				nameserver\ *) echo "$l" && ns=1 ;;
				search\ * | domain\ *) [ ${#NET_DNSSEARCH[@]} -gt 0 ] || echo "$l" ;;
				options\ *) [ ${#NET_DNSOPT[@]} -gt 0 ] || echo "$l" ;;
				esac
			done </etc/resolv.conf 2>/dev/null
			[ $ns = 1 ] || printf 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n'
		fi
		[ ${#NET_DNSSEARCH[@]} -gt 0 ] && echo "search ${NET_DNSSEARCH[*]}"
		[ ${#NET_DNSOPT[@]} -gt 0 ] && echo "options ${NET_DNSOPT[*]}"
	} >"$c/resolv.conf"
	echo "${META[hostname]}" >"$c/hostname"
	# the mount points, made now rather than by chroot-rs once the container runs (so that
	# `run -d` returns with its layer complete) where the image has none
	for f in hosts hostname resolv.conf; do
		image_file "${META[image]}" "etc/$f" && continue
		[ -e "$c/upper/etc/$f" ] && continue
		mkdir -p "$c/upper/etc" && : >"$c/upper/etc/$f"
	done
}

# net_hosts CID: rewrite the container's hosts file in place (its bind mount pins the inode):
# its own lines, then a line per running peer of each of its user networks (the default
# `bridge` resolves no names, as docker's).
net_hosts() {
	local cid=$1 c="$ROOT/containers/$1" n p l out seen=" " fd
	[ -r "$c/hosts.base" ] || return 0
	# (one at a time: a peer's start and another's end may rewrite the same file together)
	exec {fd}>>"$NETRUN/lock/hosts" && flock "$fd"
	out=$(<"$c/hosts.base")
	for n in "$NETRUN"/c/"$cid"/*.addr; do
		n=${n##*/} n=${n%.addr}
		[ "$n" = bridge ] && continue
		for p in "$NETRUN/members/$n"/*; do
			[ "${p##*/}" = "$cid" ] && continue
			IFS= read -r l <"$p" || continue
			read -ra l <<<"$l"
			[[ $seen == *" ${p##*/} "* ]] && continue
			seen+="${p##*/} "
			out+=$'\n'"${l[0]}"$'\t'"${l[1]}"
			[ "${l[2]}" != "${l[1]}" ] && out+=" ${l[2]}"
		done
	done
	{ printf '%s\n' "$out" >"$c/hosts"; } 2>/dev/null
	exec {fd}>&-
}
# net_peers NETWORK CID: the hosts files of NETWORK's other running containers.
net_peers() {
	local p
	[ "$1" = bridge ] && return 0
	for p in "$NETRUN/members/$1"/*; do
		[ "${p##*/}" = "$2" ] || net_hosts "${p##*/}"
	done
}

# ---------------------------------------------------------------- rootless: slirp4netns
# net_slirp_up CID: the network rootless podman gives a user's containers: a holder of a
# user and a network namespace (lo up, ports from 0 bindable as docker's tuning makes them,
# ICMP echo sockets allowed), slirp4netns attached to it (tap0 10.0.2.100/24, gateway and
# host 10.0.2.2, DNS 10.0.2.3, MTU 65520, the host's loopback out of reach), and each -p
# published through slirp4netns's API socket (add_hostfwd, sent with socat).  The holder and
# slirp4netns read a pipe of the monitor's: they end when net_down closes it, or when the
# monitor dies.  As root the holder makes a network namespace only.
net_slirp_up() {
	local cid=$1 s=$NETRUN/c/$1 x p f proto api hp sp
	local -a hold
	command -v slirp4netns >/dev/null || {
		R_ERR="network slirp4netns: slirp4netns is not installed (apt-get install slirp4netns)"
		return 1
	}
	net_conf "$cid"
	if [ ${#NET_PORTS[@]} -gt 0 ] && ! command -v socat >/dev/null; then
		R_ERR="network slirp4netns: publishing ports needs socat (apt-get install socat)"
		return 1
	fi
	net_init
	net_gc
	mkdir -p "$s" "$NETRUN/api" || {
		R_ERR="cannot create $s"
		return 1
	}
	net_start_time "$BASHPID"
	echo "$BASHPID $R_ST" >"$s/owner"
	net_claim_ports "$cid" "${META[name]}" || {
		rm -rf -- "$s"
		return 1
	}
	# (a FIFO we hold open for reading and writing: no open of it blocks, and every read
	# has a time limit)
	rm -f -- "$s/ready"
	if ! mkfifo -m 600 "$s/ready" || ! exec {NET_READY_FD}<>"$s/ready"; then
		R_ERR="cannot create $s/ready"
		net_down "$cid"
		return 1
	fi
	hold=("${TOOL[unshare-rs]}" --net --loopback)
	[ "$ROOTLESS" = 1 ] && hold=("${TOOL[unshare-rs]}" --user --map-root-user --net --loopback)
	# (its "up" once the namespaces are made; then it waits for the end of its input)
	exec {NET_HOLD_FD}> >(exec {NET_READY_FD}<&- && exec "${hold[@]}" -- /bin/sh -c '{ echo 0 >/proc/sys/net/ipv4/ip_unprivileged_port_start
		echo "0 2147483647" >/proc/sys/net/ipv4/ping_group_range; } 2>/dev/null; echo up; exec cat >/dev/null' >"$s/ready" 2>>"$s/log")
	hp=$!
	NET_SLIRP_PIDS=("$hp")
	net_slirp_ready "$hp" 0
	if [ "$x" != up ]; then
		R_ERR="network slirp4netns: cannot make the container's network namespace${x:+: $x}"
		net_slirp_fail "$cid"
		return 1
	fi
	# API socket path: sun_path holds 108 bytes, so a short name
	api=$NETRUN/api/${cid:0:16}.sock
	rm -f -- "$api"
	exec {NET_SLIRP_FD}> >(exec {NET_READY_FD}<&- {NET_HOLD_FD}>&- && exec slirp4netns --configure --mtu=65520 --disable-host-loopback \
		--enable-seccomp --api-socket "$api" --exit-fd=0 --ready-fd=3 "$hp" tap0 \
		3>"$s/ready" >>"$s/log" 2>&1)
	sp=$!
	NET_SLIRP_PIDS+=("$sp")
	net_slirp_ready "$sp" 1
	exec {NET_READY_FD}<&-
	NET_READY_FD=
	if [ "$x" != 1 ]; then
		R_ERR="network slirp4netns: $(tail -n 1 "$s/log" 2>/dev/null || echo "did not start")"
		net_slirp_fail "$cid"
		return 1
	fi
	echo "$hp $sp" >"$s/slirp"
	echo "tap0 10.0.2.100 24 10.0.2.2 -" >"$s/slirp4netns.addr"
	for p in "${NET_PORTS[@]}"; do
		read -ra f <<<"$p"
		proto=${f[0]}
		x=$(printf '{"execute":"add_hostfwd","arguments":{"proto":"%s","host_addr":"%s","host_port":%s,"guest_addr":"10.0.2.100","guest_port":%s}}' \
			"$proto" "${f[1]}" "${f[2]}" "${f[3]}" | socat -t 10 - "UNIX-CONNECT:$api" 2>&1)
		if [[ $x != *'"return"'* ]]; then
			[[ $x =~ \"desc\":\ *\"([^\"]*)\" ]] && x=${BASH_REMATCH[1]}
			R_ERR="driver failed programming external connectivity on endpoint ${META[name]} ($cid): cannot publish ${f[1]}:${f[2]}/$proto: ${x:-no answer from slirp4netns}"
			net_slirp_fail "$cid"
			return 1
		fi
	done
	local j=(--join)
	[ "$ROOTLESS" = 1 ] && j+=("--user=/proc/$hp/ns/user")
	NET_JOIN=("${TOOL[unshare-rs]}" "${j[@]}" "--net=/proc/$hp/ns/net" --)
	NET_SLIRP=1
	net_files "$cid"
	return 0
}
# net_slirp_ready PID N: a line (N=0) or N characters from NET_READY_FD into x, while PID
# runs, 30 s at most.
net_slirp_ready() {
	local i
	x=
	for ((i = 0; i < 300; i++)); do
		if [ "$2" = 0 ]; then
			read -r -t 0.1 -u "$NET_READY_FD" x && return 0
		else
			read -r -N "$2" -t 0.1 -u "$NET_READY_FD" x && return 0
		fi
		kill -0 "$1" 2>/dev/null || return 1
	done
	return 1
}
net_slirp_fail() {
	local e=$R_ERR
	if [ -n "${NET_READY_FD:-}" ]; then
		exec {NET_READY_FD}<&-
		NET_READY_FD=
	fi
	net_slirp_stop
	net_down "$1"
	R_ERR=$e
}
# net_slirp_stop: slirp4netns and the holder end (their input closed, then a SIGTERM),
# waited for.
NET_SLIRP_PIDS=()
net_slirp_stop() {
	if [ -n "${NET_SLIRP_FD:-}" ]; then
		exec {NET_SLIRP_FD}>&-
		NET_SLIRP_FD=
	fi
	if [ -n "${NET_HOLD_FD:-}" ]; then
		exec {NET_HOLD_FD}>&-
		NET_HOLD_FD=
	fi
	# (a process started after them, a relay of the container's input, may hold their pipes:
	# they are ours, not yet waited for, so their pids are still theirs)
	if [ ${#NET_SLIRP_PIDS[@]} -gt 0 ]; then
		kill "${NET_SLIRP_PIDS[@]}" 2>/dev/null
		wait "${NET_SLIRP_PIDS[@]}" 2>/dev/null
	fi
	NET_SLIRP_PIDS=()
	return 0
}

# ---------------------------------------------------------------- run's options
# net_port_spec SPEC: docker's -p [IP:][HOSTPORT:]CTRPORT[/PROTO] (ranges expanded) into the
# array R_PORTS of "PROTO HOSTIP HOSTPORT CTRPORT" (HOSTPORT 0: an ephemeral port).
net_port_spec() {
	local spec=$1 proto=tcp ip=0.0.0.0 hp="" cp rest
	R_PORTS=()
	[[ $spec == */* ]] && proto=${spec##*/} spec=${spec%/*}
	case $proto in tcp | udp | sctp) ;; *) die "invalid proto: $proto" ;; esac
	local -a f
	IFS=: read -ra f <<<"$spec"
	case ${#f[@]} in
	1) cp=${f[0]} ;;
	2) hp=${f[0]} cp=${f[1]} ;;
	3) ip=${f[0]} hp=${f[1]} cp=${f[2]} ;;
	*) die "invalid port specification: \"$1\"" ;;
	esac
	[ -n "$ip" ] || ip=0.0.0.0
	[[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "invalid IP address: $ip"
	local clo chi hlo hhi i
	[[ $cp =~ ^([0-9]+)(-([0-9]+))?$ ]] || die "invalid containerPort: $cp"
	clo=${BASH_REMATCH[1]} chi=${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}
	if [ -n "$hp" ]; then
		[[ $hp =~ ^([0-9]+)(-([0-9]+))?$ ]] || die "invalid hostPort: $hp"
		hlo=${BASH_REMATCH[1]} hhi=${BASH_REMATCH[3]:-${BASH_REMATCH[1]}}
		[ $((hhi - hlo)) = $((chi - clo)) ] || die "invalid ranges specified for container and host Ports: $cp and $hp"
	else
		hlo=0 hhi=0
	fi
	for ((i = clo; i <= chi; i++)); do
		((i >= 1 && i <= 65535)) || die "invalid containerPort: $i"
		if [ "$hlo" = 0 ]; then
			R_PORTS+=("$proto $ip 0 $i")
		else
			((hlo + i - clo <= 65535)) || die "invalid hostPort: $hp"
			R_PORTS+=("$proto $ip $((hlo + i - clo)) $i")
		fi
	done
}

# net_ephemeral PROTO: a free host port (the registry's and the kernel's view) from 32768
# up, into R_PORT.
net_ephemeral() {
	local p
	for ((p = 32768; p < 61000; p++)); do
		[ -e "$NETRUN/ports/$1-$p" ] && continue
		[[ " $NET_EPH_TAKEN " == *" $1-$p "* ]] && continue
		NET_EPH_TAKEN+=" $1-$p"
		R_PORT=$p
		return 0
	done
	die "no free host port"
}

# net_run_config CID NET PORTS ADDHOSTS DNS DNSSEARCH DNSOPT (array names): check run's
# network options and write the container's network file; META[net] normalized.
net_run_config() {
	local cid=$1 net=$2 c="$ROOT/containers/$1" p f
	local -n _ports=$3 _ah=$4 _dns=$5 _ds=$6 _do=$7
	net_init
	NET_EPH_TAKEN=
	{
		case $net in
		none | host | container:* | slirp4netns) ;;
		*) echo "net $net eth0" ;;
		esac
		for p in "${_ports[@]}"; do
			read -ra f <<<"$p"
			if [ "${f[2]}" = 0 ]; then
				net_ephemeral "${f[0]}"
				f[2]=$R_PORT
			fi
			echo "port ${f[*]}"
		done
		for p in "${_ah[@]}"; do echo "addhost $p"; done
		for p in "${_dns[@]}"; do echo "dns $p"; done
		for p in "${_ds[@]}"; do echo "dnssearch $p"; done
		for p in "${_do[@]}"; do echo "dnsopt $p"; done
	} >"$c/network"
}

# net_check_mode NET: a --network value: none, host, bridge, container:NAME|ID (its id into
# R_NET) or a user network; dies on an unknown one.
net_check_mode() {
	R_NET=$1
	case $1 in
	none | host) ;;
	default) R_NET=bridge ;&
	bridge)
		# a user's default network: slirp4netns's (rootless docker and podman give theirs)
		if [ "$ROOTLESS" = 1 ]; then
			net_check_mode slirp4netns
			return
		fi
		net_init
		net_default
		;;
	slirp4netns)
		R_NET=slirp4netns
		command -v slirp4netns >/dev/null || die "network slirp4netns: slirp4netns is not installed (apt-get install slirp4netns)"
		net_init
		;;
	container:*)
		local t=${1#container:} cid
		[ -n "$t" ] || die "invalid network mode: $1"
		cid=$(net_container_resolve "$t") || exit 125
		R_NET=container:$cid
		;;
	*)
		[ "$ROOTLESS" = 1 ] && die "user networks need root"
		[ -e "$NETDIR/$1.conflist" ] || die "Error response from daemon: network $1 not found"
		;;
	esac
}
# A container's id by name, id or prefix (without the rest of contain).
net_container_resolve() {
	local a=$1 d n m=()
	for d in "$ROOT"/containers/*/; do
		d=${d%/} d=${d##*/}
		cread n "$d" name && [ "$n" = "$a" ] && echo "$d" && return 0
	done
	[[ $a =~ ^[0-9a-f]{1,64}$ ]] && m=("$ROOT/containers/$a"*/)
	[ ${#m[@]} -eq 1 ] && {
		d=${m[0]%/}
		echo "${d##*/}"
		return 0
	}
	echo "contain: Error: No such container: $a" >&2
	return 1
}

# ---------------------------------------------------------------- contain port
cmd_port() {
	[ $# -ge 1 ] || die "port: usage: contain port CONTAINER [PRIVATE_PORT[/PROTO]]"
	store_init
	local cid p f want=${2:-} found=0
	cid=$(container_resolve "$1") || exit
	net_conf "$cid"
	[ -n "$want" ] && [[ $want != */* ]] && want+=/tcp
	case $(cstate "$cid") in running | paused) ;; *) return 0 ;; esac
	for p in "${NET_PORTS[@]}"; do
		read -ra f <<<"$p"
		if [ -n "$want" ]; then
			[ "${f[3]}/${f[0]}" = "$want" ] || continue
			echo "${f[1]}:${f[2]}"
		else
			echo "${f[3]}/${f[0]} -> ${f[1]}:${f[2]}"
		fi
		found=1
	done
	[ -n "$want" ] && [ $found = 0 ] && die "Error: No public port '$want' published for $1"
	return 0
}

# ---------------------------------------------------------------- inspect
# net_inspect_json CID: the container's NetworkSettings in docker's shape (one JSON value).
net_inspect_json() {
	local cid=$1 s=$NETRUN/c/$1 n f a first=1 ports="{" nets="{" p sep="" ip="" gw="" mac="" pfx=0
	local -A seen=()
	net_conf "$cid"
	for p in "${NET_PORTS[@]}"; do
		read -ra f <<<"$p"
		local k="${f[3]}/${f[0]}"
		seen[$k]+="${seen[$k]:+,}{\"HostIp\":\"${f[1]}\",\"HostPort\":\"${f[2]}\"}"
	done
	for p in "${!seen[@]}"; do
		ports+="$sep\"$p\":[${seen[$p]}]"
		sep=,
	done
	ports+="}"
	sep=""
	for n in "${NET_NETS[@]}"; do
		n=${n%% *}
		a=(- - 0 "" "")
		[ -r "$s/$n.addr" ] && read -ra a <"$s/$n.addr"
		local nid="" aip=${a[1]} agw=${a[3]} amac=${a[4]}
		[ "$aip" = - ] && aip=""
		[ "$agw" = - ] && agw=""
		[ "$amac" = - ] && amac=""
		[ -r "$NETDIR/$n.json" ] && net_field "$n" Id && nid=$R_FIELD
		nets+="$sep\"$n\":{\"Aliases\":null,\"NetworkID\":\"$nid\",\"EndpointID\":\"\",\"Gateway\":\"$agw\",\"IPAddress\":\"$aip\",\"IPPrefixLen\":${a[2]:-0},\"MacAddress\":\"$amac\"}"
		sep=,
		if [ $first = 1 ]; then
			ip=$aip gw=$agw mac=$amac pfx=${a[2]:-0}
			first=0
		fi
	done
	if [ ${#NET_NETS[@]} = 0 ]; then
		local mode
		cread mode "$cid" net
		case $mode in none | host) nets+="\"$mode\":{\"Aliases\":null,\"NetworkID\":\"\",\"EndpointID\":\"\",\"Gateway\":\"\",\"IPAddress\":\"\",\"IPPrefixLen\":0,\"MacAddress\":\"\"}" ;; esac
	fi
	nets+="}"
	local key="" hp
	[ -e "$s/ns" ] && key=$s/ns
	[ -r "$s/slirp" ] && read -r hp _ <"$s/slirp" && key=/proc/$hp/ns/net
	printf '{"SandboxKey":"%s","Ports":%s,"Gateway":"%s","IPAddress":"%s","IPPrefixLen":%s,"MacAddress":"%s","Networks":%s}' \
		"$key" "$ports" "$gw" "$ip" "${pfx:-0}" "$mac" "$nets"
}

# ---------------------------------------------------------------- contain network
net_subnet_free() { # SUBNET: no network of ours and no host route overlaps it (same /24 test)
	local n t
	for n in "$NETDIR"/*.json; do
		IFS= read -r -d '' t <"$n"
		[[ $t == *"\"$1\""* ]] && return 1
	done
	ip -4 route show 2>/dev/null | grep -q "^${1%/*}" && return 1
	return 0
}

cmd_network() {
	local sub=${1:-}
	shift || true
	need_jq_net
	store_init
	net_init
	net_gc
	[ "$ROOTLESS" = 1 ] || net_default
	case $sub in
	create) net_create "$@" ;;
	ls | list) net_ls "$@" ;;
	inspect) net_inspect "$@" ;;
	rm | remove) net_rm "$@" ;;
	prune) net_prune "$@" ;;
	connect) net_connect "$@" ;;
	disconnect) net_disconnect "$@" ;;
	"" | --help | help)
		cat <<'EOF'
Usage: contain network COMMAND

  create [--subnet CIDR] [--gateway IP] [--internal] NAME
  ls [-q]
  inspect NETWORK...
  rm NETWORK...
  prune [-f]
  connect NETWORK CONTAINER
  disconnect [-f] NETWORK CONTAINER
EOF
		;;
	*) die "network: unknown command '$sub' (see 'contain network --help')" ;;
	esac
}

net_create() {
	local subnet="" gw="" internal=false name="" driver=bridge
	while [ $# -gt 0 ]; do
		case $1 in
		--subnet=*) subnet=${1#*=} ;;
		--subnet) subnet=${2:-} && shift ;;
		--gateway=*) gw=${1#*=} ;;
		--gateway) gw=${2:-} && shift ;;
		--internal) internal=true ;;
		-d=* | --driver=*) driver=${1#*=} ;;
		-d | --driver) driver=${2:-} && shift ;;
		-*) die "network create: unknown option '$1'" ;;
		*) [ -z "$name" ] || die "network create: usage: contain network create [OPTIONS] NETWORK" && name=$1 ;;
		esac
		shift
	done
	[ -n "$name" ] || die "network create: usage: contain network create [OPTIONS] NETWORK"
	[ "$driver" = bridge ] || die "network create: only the bridge driver is supported"
	[[ $name =~ ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ ]] || die "invalid network name \"$name\""
	case $name in none | host | bridge | default) die "Error response from daemon: network with name $name already exists" ;; esac
	lock
	[ -e "$NETDIR/$name.conflist" ] && die "Error response from daemon: network with name $name already exists"
	if [ -n "$subnet" ]; then
		[[ $subnet =~ ^([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})/([0-9]{1,2})$ ]] ||
			die "invalid subnet $subnet"
		net_subnet_free "$subnet" || die "Error response from daemon: Pool overlaps with other one on this address space"
	else
		local i
		for ((i = 1; i < 255; i++)); do
			net_subnet_free "10.99.$i.0/24" && subnet=10.99.$i.0/24 && break
		done
		[ -n "$subnet" ] || die "Error response from daemon: could not find an available, non-overlapping IPv4 address pool"
	fi
	if [ -z "$gw" ]; then
		local b=${subnet%/*}
		gw=${b%.*}.$((${b##*.} + 1))
	fi
	[[ $gw =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "invalid gateway $gw"
	# a bridge name of at most 15 bytes: ct- and the id's start
	local br i
	for ((i = 0; i < 100; i++)); do
		printf -v br 'ct-%08x' "$SRANDOM"
		grep -qs "\"$br\"" "$NETDIR"/*.json && continue
		break
	done
	net_write "$name" "$br" "$subnet" "$gw" "$internal" || die "cannot write network $name"
	net_field "$name" Id
	echo "$R_FIELD"
}

net_ls() {
	local q=0 f n
	[ "${1:-}" = -q ] || [ "${1:-}" = --quiet ] && q=1
	[ $q = 1 ] || printf '%-14s %-20s %-8s %s\n' "NETWORK ID" NAME DRIVER SCOPE
	for f in "$NETDIR"/*.json; do
		n=${f##*/} n=${n%.json}
		net_field "$n" Id
		if [ $q = 1 ]; then echo "${R_FIELD:0:12}"; else printf '%-14s %-20s %-8s %s\n' "${R_FIELD:0:12}" "$n" bridge local; fi
	done
	if [ $q = 0 ]; then
		printf '%-14s %-20s %-8s %s\n' "-" host host local
		printf '%-14s %-20s %-8s %s\n' "-" none null local
	fi
}

# net_resolve ARG: a network by name or id prefix into R_NET.
net_resolve() {
	local f n
	R_NET=
	[ -e "$NETDIR/$1.json" ] && R_NET=$1 && return 0
	for f in "$NETDIR"/*.json; do
		n=${f##*/} n=${n%.json}
		net_field "$n" Id
		[[ $R_FIELD == "$1"* ]] && R_NET=$n && return 0
	done
	return 1
}

net_inspect() {
	local a n sep="" out="["
	[ $# -ge 1 ] || die "network inspect: usage: contain network inspect NETWORK..."
	for a in "$@"; do
		net_resolve "$a" || die "Error: No such network: $a"
		n=$R_NET
		local ctrs="{" csep="" m cid nm a4
		for m in "$NETRUN/members/$n"/*; do
			cid=${m##*/}
			read -r a4 nm _ <"$m"
			local pfx="" mac=""
			if [ -r "$NETRUN/c/$cid/$n.addr" ]; then
				local -a ad
				read -ra ad <"$NETRUN/c/$cid/$n.addr"
				pfx=${ad[2]} mac=${ad[4]}
			fi
			ctrs+="$csep\"$cid\":{\"Name\":\"$nm\",\"MacAddress\":\"$mac\",\"IPv4Address\":\"$a4/$pfx\"}"
			csep=,
		done
		ctrs+="}"
		out+=$sep$(jq --argjson c "$ctrs" '{Name, Id, Created, Scope: "local", Driver: "bridge",
			EnableIPv6: false, IPAM: {Driver: "default", Config: [{Subnet, Gateway}]},
			Internal, Containers: $c, Options: {"com.docker.network.bridge.name": .Bridge}}' "$NETDIR/$n.json")
		sep=,
	done
	printf '%s]\n' "$out" | jq .
}

# net_users NETWORK: the containers (any state) attached to NETWORK, into R_USERS.
net_users() {
	local d cid k v
	R_USERS=()
	for d in "$ROOT"/containers/*/; do
		d=${d%/} cid=${d##*/}
		[ -r "$d/network" ] || continue
		while read -r k v _; do
			[ "$k" = net ] && [ "$v" = "$1" ] && R_USERS+=("$cid") && break
		done <"$d/network"
	done
}

# net_remove NETWORK: the bridge, the isolation rules naming it, the leases, the files.
net_remove() {
	local n=$1 br t
	net_field "$n" Bridge
	br=$R_FIELD
	if [ -n "$br" ]; then
		ip link del "$br" 2>/dev/null
		# the isolation rules (the firewall plugin leaves them at DEL) and our own per-network rules:
		# remove the ones naming it
		local line tb
		for tb in filter nat; do
			while IFS= read -r line; do
				[[ $line == "-A "* ]] || continue
				# (iptables -S quotes comments as a shell would read them)
				eval "iptables -w -t $tb -D ${line#-A }" 2>/dev/null
			done < <(iptables -t $tb -S 2>/dev/null | grep -E -- "-[io] $br( |$)")
		done
	fi
	rm -rf -- "${NETRUN:?}/ipam/$n" "${NETRUN:?}/members/$n" "${NETRUN:?}/rules/$n"
	rm -f -- "$NETDIR/$n.conflist" "$NETDIR/$n.json" "$NETDIR/$n.ADD" "$NETDIR/$n.DEL"
}

net_rm() {
	local a rc=0
	[ $# -ge 1 ] || die "network rm: usage: contain network rm NETWORK..."
	lock
	for a in "$@"; do
		if ! net_resolve "$a"; then
			echo "contain: Error response from daemon: network $a not found" >&2
			rc=1
			continue
		fi
		net_users "$R_NET"
		if [ ${#R_USERS[@]} -gt 0 ]; then
			echo "contain: Error response from daemon: error while removing network: network $R_NET id $(net_field "$R_NET" Id && echo "$R_FIELD") has active endpoints" >&2
			rc=1
			continue
		fi
		net_remove "$R_NET"
		echo "$a"
	done
	return $rc
}

# network prune: every network no container uses, the default one too (its bridge contain0
# and rules: what `make uninstall` calls to leave no trace).
net_prune() {
	local f n
	lock
	for f in "$NETDIR"/*.json; do
		n=${f##*/} n=${n%.json}
		net_users "$n"
		[ ${#R_USERS[@]} -gt 0 ] && continue
		net_remove "$n"
		[ "$n" = bridge ] || echo "$n"
	done
	# the shared chains the plugins leave, once no network of ours is left
	if ! compgen -G "$NETDIR/*.json" >/dev/null && ! compgen -G "$NETRUN/c/*" >/dev/null; then
		net_flush_shared
	fi
	return 0
}
# The CNI plugins' shared chains (CNI-HOSTPORT-*, CNI-FORWARD, CNI-ADMIN, CNI-ISOLATION-*),
# once no container uses them (no per-container CNI chain is left, ours or another runtime's).
net_flush_shared() {
	local t ch line
	# another CNI user's container (a per-container chain that is not ours: ours are gone)
	# keeps them
	iptables-save 2>/dev/null | grep -qE '^:CNI-(DN-|[0-9a-f]{24} )' && return 0
	for t in nat filter; do
		while IFS= read -r line; do
			eval "iptables -w -t $t -D ${line#-A }" 2>/dev/null
		done < <(iptables -t $t -S 2>/dev/null | grep -E '^-A (PREROUTING|OUTPUT|POSTROUTING|FORWARD|INPUT) .*-j CNI-')
		for ch in $(iptables -t $t -S 2>/dev/null | sed -n 's/^-N \(CNI-[^ ]*\)$/\1/p'); do
			iptables -t $t -F "$ch" 2>/dev/null
		done
		for ch in $(iptables -t $t -S 2>/dev/null | sed -n 's/^-N \(CNI-[^ ]*\)$/\1/p'); do
			iptables -t $t -X "$ch" 2>/dev/null
		done
	done
}

net_connect() {
	local n cid used i ifname
	[ $# -ge 2 ] || die "network connect: usage: contain network connect NETWORK CONTAINER"
	while [[ ${1:-} == -* ]]; do shift; done
	net_resolve "$1" || die "Error response from daemon: network $1 not found"
	n=$R_NET
	cid=$(container_resolve "$2") || exit
	net_conf "$cid"
	local mode
	cread mode "$cid" net
	case $mode in none | host | container:*) die "Error response from daemon: container cannot be disconnected from host network or connected to host network" ;; esac
	used=" "
	for i in "${NET_NETS[@]}"; do
		[ "${i%% *}" = "$n" ] && die "Error response from daemon: endpoint with name $(cfile "$cid" name) already exists in network $n"
		used+="${i#* } "
	done
	for ((i = 0; i < 100; i++)); do [[ $used == *" eth$i "* ]] || break; done
	ifname=eth$i
	echo "net $n $ifname" >>"$ROOT/containers/$cid/network"
	case $(cstate "$cid") in running | paused) ;; *) return 0 ;; esac
	local s=$NETRUN/c/$cid
	net_lock "c-$cid"
	meta_load "$cid"
	net_conf "$cid"
	if ! net_cni ADD "$n" "$cid" "$s/ns" "$ifname" "[]"; then
		net_unlock
		sed -i "/^net $n $ifname\$/d" "$ROOT/containers/$cid/network"
		die "$R_ERR"
	fi
	printf '%s\n' "$R_CNI" >"$s/$n.json"
	net_addr "$R_CNI" "$ifname"
	echo "$R_ADDR" >"$s/$n.addr"
	local -a a=($R_ADDR)
	mkdir -p "$NETRUN/members/$n"
	echo "${a[1]} ${META[name]} ${META[hostname]}" >"$NETRUN/members/$n/$cid"
	net_unlock
	net_hosts "$cid"
	net_peers "$n" "$cid"
}

net_disconnect() {
	local n cid s line found=0
	while [[ ${1:-} == -* ]]; do shift; done
	[ $# -ge 2 ] || die "network disconnect: usage: contain network disconnect NETWORK CONTAINER"
	net_resolve "$1" || die "Error response from daemon: network $1 not found"
	n=$R_NET
	cid=$(container_resolve "$2") || exit
	net_conf "$cid"
	for line in "${NET_NETS[@]}"; do [ "${line%% *}" = "$n" ] && found=1; done
	[ $found = 1 ] || die "Error response from daemon: container $cid is not connected to network $n"
	s=$NETRUN/c/$cid
	net_lock "c-$cid"
	if [ -r "$s/$n.json" ]; then
		local ifname=eth0
		read -r ifname _ <"$s/$n.addr"
		net_pm_json
		net_cni DEL "$n" "$cid" "$s/ns" "$ifname" "$R_PM" "$(<"$s/$n.json")"
		rm -f -- "$s/$n.json" "$s/$n.addr" "$NETRUN/members/$n/$cid"
	fi
	sed -i "/^net $n /d" "$ROOT/containers/$cid/network"
	net_unlock
	net_hosts "$cid"
	net_peers "$n" "$cid"
}
