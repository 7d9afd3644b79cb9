#!/usr/bin/env bash
# check-python-generated.sh: regenerate the Python client's stubs into a
# temporary directory and compare them with the committed ones under
# python/loadsvc (every *_pb2.py, *_pb2.pyi and *_pb2_grpc.py). Fails,
# saying so, when they differ.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

scripts/generate-python.sh "$tmp/fresh"

mkdir -p "$tmp/committed"
(cd python && find loadsvc \( -name '*_pb2.py' -o -name '*_pb2.pyi' -o -name '*_pb2_grpc.py' \) -exec cp --parents {} "$tmp/committed/" \;)

if ! diff -ru "$tmp/committed" "$tmp/fresh" >"$tmp/diff" 2>&1; then
	sed -e "s|$tmp/committed|committed|g" -e "s|$tmp/fresh|regenerated|g" "$tmp/diff" | head -n 80
	echo
	echo "check-python-generated: FAIL: the committed Python stubs in python/loadsvc are stale"
	echo "check-python-generated: run 'make generate-python' and commit the result"
	exit 1
fi
n=$(find "$tmp/fresh" -type f | wc -l)
echo "check-python-generated: ok ($n generated files up to date)"
