// Package clientmod holds no code of its own: its test proves that the Go
// client (client/) can be required from a module outside this repository,
// as a worker's module requires it.
//
// The test makes a file-based GOPROXY from the working tree with
// golang.org/x/mod/zip — the client, and the API stubs (proto/) and pgtext
// at the versions client/go.mod names — and builds, vets and runs a worker
// module in a temporary directory that requires the client, with the
// workspace off (GOWORK=off) and an empty module cache of its own: only the
// client's go.mod decides what is built, as for any module that requires it.
// The worker loads rows through a real loadsvc on a throwaway PostgreSQL.
// The test also holds what a worker must not pull: no replace directive and
// no placeholder version in client/go.mod, proto/go.mod or pgtext/go.mod, and
// no pgx, Kubernetes, OpenTelemetry or Prometheus in the worker's build.
package clientmod
