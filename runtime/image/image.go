package image

import (
	"log/slog"
	"time"
)

// Options configures a Store.
type Options struct {
	// Insecure lists registry hosts ("127.0.0.1:5000") that may be reached
	// over plain HTTP. Every other host is reached over HTTPS only, loopback
	// and private addresses included.
	Insecure []string
	// AuthFile is a Docker config.json with registry credentials
	// ("auths": {"host": {"auth": base64(user:pass)}} or "username" and
	// "password"). It is read at every pull, so edits take effect without a
	// restart. "" means no credentials beyond those a pull brings.
	AuthFile string
	// Platform is the "os/arch[/variant]" a multi-arch image resolves to;
	// "" means the host's runtime.GOOS/runtime.GOARCH.
	Platform string
	// Log receives the store's structured logs; nil discards them.
	Log *slog.Logger
}

// PullOptions are per-pull settings.
type PullOptions struct {
	// DockerConfigs holds the contents of kubernetes.io/dockerconfigjson
	// secrets ({"auths": {...}}) or legacy kubernetes.io/dockercfg ones
	// ({"host": {...}}). They are tried in order before Options.AuthFile.
	DockerConfigs [][]byte
}

// Config is the part of an image's configuration that a container runtime
// honours.
type Config struct {
	Entrypoint, Cmd, Env []string
	WorkingDir, User     string
}

// Image describes an image in the store.
type Image struct {
	// ID is the digest of the image's config, "sha256:...".
	ID string
	// RepoTags are normalised names: "docker.io/library/busybox:latest".
	RepoTags []string
	// RepoDigests are "docker.io/library/busybox@sha256:..." names: the
	// digest of what the pull reference resolved to (for a multi-arch image,
	// the index).
	RepoDigests []string
	// Size is the sum of the image's compressed layer sizes: the layer
	// blobs' sizes as pulled or imported (a `docker save` archive stores its
	// layers uncompressed, and then those sizes are what it has).
	Size int64
	// Layers are the layers' diffIDs (digests of the uncompressed tar
	// streams), bottom to top.
	Layers []string
	// Config holds the settings a runtime applies to the container process.
	Config Config
	// Created is the image's creation time as its config states it.
	Created time.Time
}

func (img *Image) clone() *Image {
	c := *img
	c.RepoTags = cloneStrings(img.RepoTags)
	c.RepoDigests = cloneStrings(img.RepoDigests)
	c.Layers = cloneStrings(img.Layers)
	c.Config.Entrypoint = cloneStrings(img.Config.Entrypoint)
	c.Config.Cmd = cloneStrings(img.Config.Cmd)
	c.Config.Env = cloneStrings(img.Config.Env)
	return &c
}

// cloneStrings copies s, keeping nil as nil.
func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}
