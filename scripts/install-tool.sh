#!/usr/bin/env bash
# install-tool.sh BIN_DIR NAME PACKAGE VERSION
#
# Installs PACKAGE@VERSION with `go install` into BIN_DIR as NAME, unless
# BIN_DIR/NAME is already a build of exactly that module version (read from
# the binary itself with `go version -m`, so no stamp file can go stale).
set -euo pipefail

bin_dir=$1 name=$2 pkg=$3 version=$4
target="$bin_dir/$name"

if [[ -x $target ]]; then
	have=$(go version -m "$target" 2>/dev/null | awk '$1 == "mod" { print $3; exit }')
	if [[ $have == "$version" ]]; then
		exit 0
	fi
	echo "==> $name: have ${have:-unknown version}, want $version"
fi

echo "==> go install $pkg@$version"
start=$SECONDS
mkdir -p "$bin_dir"
GOBIN="$bin_dir" go install "$pkg@$version"
echo "    $name $version installed in $((SECONDS - start))s"
