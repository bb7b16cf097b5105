#!/bin/bash
# 一.2 容器名称: a 64-hex id, its 12-character short form, a prefix (4 characters is usually
# enough), --name, a random name when absent, --cidfile.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
title "The long UUID, the short one, and a name"
shown contain run -d --cidfile "$TUT_TMP/cid" tutorial sleep 1000
id=$OUT
say "long:  $id"
say "short: ${id:0:12}"
check "the id is 64 hex digits" eval '[[ $id =~ ^[0-9a-f]{64}$ ]]'
show contain ps
check "ps shows the short id" contains "$(contain ps)" "${id:0:12}"
name=$(contain inspect "$id" | grep -o '"Name":"/[^"]*"' | cut -d/ -f2 | tr -d '"')
check "a random name was assigned ($name)" eval '[[ $name =~ ^[a-z]+_[a-z]+$ ]]'
check "4 characters of the id are enough" eval 'contain inspect "${id:0:4}" >/dev/null'
show contain run -d --name xingdian tutorial sleep 1000
check "the name refers to the container" contain exec xingdian true
title "--cidfile writes the id for scripts"
show cat "$TUT_TMP/cid"
check_eq "the cidfile holds the id" "$id" "$(cat "$TUT_TMP/cid")"
shown contain run -d --cidfile "$TUT_TMP/cid" tutorial true
check "an existing cidfile is refused" contains "$OUT" "Container ID file found"
shown contain run -d --name xingdian tutorial true
check "a duplicate name is refused" contains "$OUT" "is already in use"
finish
