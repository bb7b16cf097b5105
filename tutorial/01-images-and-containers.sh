#!/bin/bash
# 一.1 Docker的镜像和容器的区别: an image is read-only layers; `run` adds a writable layer with
# two states, Running and Exited; changes stay in the container, never in the image; several
# containers of one image are isolated; changing the image does not touch a running container.
. "$(dirname "$0")/lib.sh"
need_root
title "Images are read-only layers (docker images)"
ensure_image tutorial
show contain images
# one listing read for the header and the rows: CREATED's width can change between two calls
listing=$(contain images)
col=$(head -1 <<<"$listing" | grep -bo SIZE | cut -d: -f1)
check "SIZE lines up in every row (column $col)" eval '! tail -n +2 <<<"$listing" | cut -c$((col + 1)) | grep -q "^ *$"'
show contain history tutorial
img=$(contain inspect tutorial | grep -o '"Id":"sha256:[0-9a-f]*"' | head -1 | cut -d: -f3 | tr -d '"')
layers_sum() {
	local h
	for h in $(contain inspect "$img" | grep -o '"Layers":\[[^]]*' | grep -o '[0-9a-f]\{64\}'); do
		(cd "$CONTAIN_ROOT/layers/$h" && find . -printf '%y %m %s %p\n' | sort && find . -type f -exec sha256sum {} + | sort)
	done | sha256sum
}
before=$(layers_sum)

title "docker run imagename: a writable layer on top"
shown contain run tutorial
check "docker run imagename: its default command (sh) ran and exited" test "$RC" = 0
show contain ps -a
check "the container is Exited (0)" contains "$(contain ps -a)" "Exited (0)"
contain rm "$(contain ps -aq)" >/dev/null
show contain run -d --name box1 tutorial sh -c 'echo hello > /hello.txt; rm /bin/hostname; exec sleep 1000'
wait_running box1
show contain ps
check "box1 is Running" contains "$(contain ps)" "Up "
check_eq "the change is in the container's file system" hello "$(contain exec box1 cat /hello.txt)"
upper=$(contain inspect box1 | grep -o '"UpperDir":"[^"]*"' | cut -d'"' -f4)
show ls -l "$upper"
check "the container's writable layer holds hello.txt" test -f "$upper/hello.txt"
check "the deleted /bin/hostname is a whiteout (0:0 device) in the writable layer" test -n "$(find "$upper" -name hostname -type c)"
check "no image layer holds hello.txt" test -z "$(find "$CONTAIN_ROOT/layers" -name hello.txt)"

title "Another container of the same image is isolated"
shown contain run --rm tutorial sh -c 'cat /hello.txt 2>&1; ls /bin/hostname'
check "box2 does not see box1's file" contains "$OUT" "No such file"
check "box2 still has /bin/hostname" contains "$OUT" "/bin/hostname"

title "An image built on another: the parent's layers under the child's (FROM, build --from)"
show contain build --from tutorial child "$(command -v id)"
show contain history child
pl=$(contain inspect tutorial | grep -o '"Layers":\[[^]]*' | grep -o '[0-9a-f]\{64\}' | tr '\n' ' ')
cl=$(contain inspect child | grep -o '"Layers":\[[^]]*' | grep -o '[0-9a-f]\{64\}' | tr '\n' ' ')
say "tutorial's layers: $pl"
say "child's layers:    $cl"
check "the child's layers are the parent's, then one of its own" eval '[ "${cl#"$pl"}" != "$cl" ] && [ $(wc -w <<<"$cl") = $(($(wc -w <<<"$pl") + 1)) ]'
shown contain run --rm child sh -c 'id -u; ls /bin/hostname'
check "the child runs the parent's programs and its own" eval 'contains "$OUT" /bin/hostname && grep -qx 0 <<<"$OUT"'
show contain rmi child

title "Changing the image does not update a running container"
show contain build tutorial "$(command -v sh)" "$(command -v cat)" "$(command -v sleep)"
show contain images
check "box1 still runs on the old image $(echo "${img:0:12}")" \
	contains "$(contain inspect box1)" "\"Image\":\"sha256:$img\""
check_eq "box1 still has its files" hello "$(contain exec box1 cat /hello.txt)"
out=$(contain rmi "$img" 2>&1)
say "$out"
check "the old image cannot be removed while box1 uses it" contains "$out" "is using it"

title "Stop: Exited; start: the layer is still there"
show contain stop -t 1 box1
show contain ps -a
check "box1 is Exited" contains "$(contain ps -a)" "Exited ("
show contain start box1
wait_running box1
check_eq "the change survived stop/start" hello "$(contain exec box1 cat /hello.txt)"
show contain rm -f box1
check_eq "no image file changed" "$before" "$(layers_sum)"
contain tag "$img" tutorial:latest >/dev/null
finish
