// Package imagetest builds container images and serves registries for
// tests: a busybox image from the host's static busybox, layers with
// arbitrary (including malicious) entries, an in-process registry, and
// docker-save archives. Everything stays on the machine: the registry
// listens on loopback and nothing is downloaded.
package imagetest
