#!/bin/bash
# 一.4 (net): with only a pid namespace a container shares the host's ports; a net namespace
# gives each container its own devices, addresses, routing table and /proc/net.  Two web
# servers on port 80, published on two host ports; the same with --network host, where the
# second bind fails; and one network namespace made by hand (veth + unshare-rs), as chapter 13
# does for the chain.  (tutorial/run-all runs this in a throwaway network namespace that
# stands for the host; by hand, `contain network prune` removes the bridge contain0.)
. "$(dirname "$0")/lib.sh"
need_root
command -v busybox >/dev/null || {
	bad "needs busybox (apt-get install busybox-static)"
	finish
}
contain inspect netbox >/dev/null 2>&1 || contain build netbox "$(type -P busybox)" >/dev/null
for w in a b; do
	mkdir -p "$TUT_TMP/www-$w"
	echo "hello from web-$w" >"$TUT_TMP/www-$w/index.html"
done
# get PORT: GET / on 127.0.0.1:PORT (nc, 3 s), the page's body
get() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 busybox nc -w 3 127.0.0.1 "$1" | sed '1,/^\r\{0,1\}$/d'; }

title "Two containers, each with its own eth0, address, routes and /proc/net"
show contain run -d --name web-a -p 8081:80 -v "$TUT_TMP/www-a:/www" netbox busybox httpd -f -p 80 -h /www
show contain run -d --name web-b -p 8082:80 -v "$TUT_TMP/www-b:/www" netbox busybox httpd -f -p 80 -h /www
wait_running web-a && wait_running web-b
shown_in web-a busybox ip -4 addr show eth0
a_addr=$(grep -o 'inet [0-9.]*' <<<"$OUT")
shown_in web-b busybox ip -4 addr show eth0
b_addr=$(grep -o 'inet [0-9.]*' <<<"$OUT")
check "each has an address on eth0 ($a_addr, $b_addr)" eval '[ -n "$a_addr" ] && [ -n "$b_addr" ] && [ "$a_addr" != "$b_addr" ]'
shown_in web-a busybox ip route
check "a default route through the bridge's gateway" contains "$OUT" "default via"
shown_in web-a busybox cat /proc/net/dev
check "its /proc/net shows lo and eth0 only" test "$(tail -n +3 <<<"$OUT" | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')" = "eth0 lo "
check "two network namespaces" test "$(contain exec web-a busybox readlink /proc/self/ns/net)" != "$(contain exec web-b busybox readlink /proc/self/ns/net)"
say "on the host: the bridge contain0 and one veth per container"
shown ip -br link
check "the bridge contain0" contains "$OUT" "contain0"

title "Both listen on port 80 without a conflict, published on two host ports"
shown contain port web-a
for ((i = 0; i < 50; i++)); do [ -n "$(get 8081)" ] && break; sleep 0.2; done
shownsh "printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 127.0.0.1 8081 | tail -1"
check "host port 8081 reaches web-a" contains "$OUT" "hello from web-a"
shownsh "printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 127.0.0.1 8082 | tail -1"
check "host port 8082 reaches web-b" contains "$OUT" "hello from web-b"
shown contain run -d --name web-c -p 8081:80 netbox busybox httpd -f -p 80
check "the same host port twice is refused" contains "$OUT" "port is already allocated"
contain rm -f web-c >/dev/null 2>&1

title "With --network host they share the host's ports: the second bind fails"
show contain run -d --name host-a --network host -v "$TUT_TMP/www-a:/www" netbox busybox httpd -f -p 8090 -h /www
wait_running host-a
for ((i = 0; i < 50; i++)); do [ -n "$(get 8090)" ] && break; sleep 0.2; done
shown contain run --rm --network host netbox busybox httpd -f -p 8090
check "the second container cannot bind port 8090" contains "$OUT" "in use"
contain rm -f host-a web-a web-b >/dev/null 2>&1

title "By hand: a network namespace, a veth pair, an address on each end"
on_exit "ip link del hand0; umount /run/netns/tut14; rm -f /run/netns/tut14"
showsh "mkdir -p /run/netns && touch /run/netns/tut14 && unshare-rs --net=/run/netns/tut14 --loopback true"
show ip link add hand0 type veth peer name hand1
show ip link set hand1 netns tut14
show ip addr add 10.200.0.1/24 dev hand0
show ip link set hand0 up
show unshare-rs --join --net=/run/netns/tut14 -- sh -c 'ip addr add 10.200.0.2/24 dev hand1 && ip link set hand1 up'
shown unshare-rs --join --net=/run/netns/tut14 -- ip -br addr
check "inside: lo and hand1 with 10.200.0.2" contains "$OUT" "10.200.0.2/24"
shown busybox ping -c 1 -W 3 10.200.0.2
check "the host reaches it through the veth" test "$RC" = 0
say "contain does the same with the CNI plugins: bridge (veth on contain0, host-local address),"
say "portmap (the -p DNAT rules), tuning; per network, docker's masquerade, forward and isolation"
say "rules; the namespace kept in a file until they are undone."
contain network prune -f >/dev/null 2>&1
finish
