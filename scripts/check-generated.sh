#!/usr/bin/env bash
# check-generated.sh: regenerate the protobuf code into a temporary directory
# with the pinned tools in ./bin and compare it with the committed
# proto/**/*.pb.go. Fails, saying so, when they differ.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/bin"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

PATH="$bin:$PATH" "$bin/buf" generate --output "$tmp/fresh"

mkdir -p "$tmp/committed"
find proto -name '*.pb.go' -exec cp --parents {} "$tmp/committed/" \;

if ! diff -ru "$tmp/committed" "$tmp/fresh" >"$tmp/diff" 2>&1; then
	# Show paths as committed/... and regenerated/... rather than temporary ones.
	sed -e "s|$tmp/committed|committed|g" -e "s|$tmp/fresh|regenerated|g" "$tmp/diff" | head -n 80
	echo
	echo "check-generated: FAIL: the committed generated code in proto/ is stale"
	echo "check-generated: run 'make generate' and commit the result"
	exit 1
fi
n=$(find "$tmp/fresh" -name '*.pb.go' | wc -l)
echo "check-generated: ok ($n generated files up to date)"
