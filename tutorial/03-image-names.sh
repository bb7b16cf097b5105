#!/bin/bash
# 一.3 镜像名称: a registry holds repositories, a repository holds images, an image has a GUID
# and one or more tags (ubuntu:14.04).  The registry here is an OCI image layout directory.
. "$(dirname "$0")/lib.sh"
need_root
ensure_image tutorial
title "Repository:tag and the image id"
show contain tag tutorial ubuntu:14.04
show contain tag tutorial ubuntu:16.04
show contain images
n=$(contain images | awk '$1 == "ubuntu"' | awk '{print $3}' | sort -u | wc -l)
check_eq "two tags, one image id" 1 "$n"
shown contain run ubuntu:14.04
check "docker run ubuntu:14.04: runs (its sh reads no input and exits 0)" test "$RC" = 0
shown contain run --rm ubuntu:14.04 echo running ubuntu:14.04
check "run by repository:tag" contains "$OUT" "running ubuntu:14.04"
id=$(contain images | awk '$1 == "ubuntu" && $2 == "14.04" {print $3}')
check "run by id prefix" contains "$(contain run --rm "${id:0:6}" echo ok)" ok
title "A registry: push, then pull into an empty store"
show contain push ubuntu:14.04 "$TUT_TMP/registry"
show ls "$TUT_TMP/registry" "$TUT_TMP/registry/blobs/sha256"
show contain rmi ubuntu:14.04 ubuntu:16.04
fresh=$(mktemp -d)
on_exit "rm -rf $fresh"
show env CONTAIN_ROOT="$fresh" contain pull "$TUT_TMP/registry" ubuntu:14.04
id2=$(CONTAIN_ROOT="$fresh" contain images | awk '$1 == "ubuntu" {print $3}')
check_eq "the pulled image has the same id" "$id" "$id2"
check "the pulled image runs" contains "$(CONTAIN_ROOT="$fresh" contain run --rm ubuntu:14.04 echo pulled)" pulled
finish
