// Package deploy holds loadsvc's container image (Dockerfile) and
// Kubernetes manifests (k8s/base); it has no code, and its tests check that
// the image's binary is static and runs as a non-root user and that the
// manifests agree with the Kubernetes API and with each other. README.md
// says how to build, deploy and size the connection pool.
package deploy
