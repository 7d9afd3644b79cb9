#!/usr/bin/env bash
# generate-python.sh [OUT]: generate the Python client's stubs into OUT
# (default python/): loadsvc/v1 from proto/ (messages, .pyi types and the
# gRPC stub) and loadsvc/rpc from python/proto (the google.rpc status-detail
# mirrors, messages only), with the pinned buf in ./bin and Debian's protoc
# and grpc_python_plugin (python/buf.gen.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-python}
bin="$PWD/bin"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin/buf" generate --template python/buf.gen.yaml --output "$tmp"
"$bin/buf" generate python/proto --template python/buf.gen.yaml --output "$tmp"
# python/proto has no service: its gRPC module would be empty.
rm "$tmp/python/loadsvc/rpc/status_pb2_grpc.py"

mkdir -p "$out"
cp -r "$tmp/python/." "$out/"
