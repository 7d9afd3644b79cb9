#!/usr/bin/env bash
# check-client-deps.sh: the Go client is a module of its own so that a worker
# importing it builds grpc and protobuf, not the service's dependencies. Fail
# when the client's module requires, or its package graph holds, pgx,
# Kubernetes, OpenTelemetry or Prometheus.
set -euo pipefail
cd "$(dirname "$0")/../client"
forbidden='jackc/pgx|k8s\.io|sigs\.k8s\.io|go\.opentelemetry\.io|prometheus'
export GOWORK=off # the client as a worker sees it, without the workspace
if required=$(sed -n '/^require/,/^)/p' go.mod | grep -E "$forbidden"); then
	echo "check-client-deps: client/go.mod requires what a worker must not pull:"
	echo "$required"
	exit 1
fi
if built=$(go list -deps . | grep -E "$forbidden"); then
	echo "check-client-deps: the client package builds what a worker must not pull:"
	echo "$built"
	exit 1
fi
echo "check-client-deps: ok (client/go.mod requires $(sed -n '/^require/,/^)/p' go.mod | grep -cv -e '^require' -e '^)') modules; no pgx, Kubernetes, OpenTelemetry or Prometheus)"
