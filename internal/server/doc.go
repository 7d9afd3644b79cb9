// Package server is loadsvc's gRPC face: it turns requests into loader plans,
// runs them, and turns every error into a gRPC status in one place
// (status.go), with google.rpc details a client can act on.
package server
