// Package version is the version every Shepherd component reports. It is
// its own small package so that a component reports it without linking
// another's code (the kubelet needs no apiserver, nor its etcd server).
package version

import (
	"fmt"
	"runtime"

	"k8s.io/apimachinery/pkg/version"
)

// Version is Shepherd's own version, set at build time with
// -ldflags "-X github.com/shepherd-lab/shepherd/internal/version.Version=...".
var Version = "0.1.0"

// GitCommit is the commit built, set at build time.
var GitCommit = ""

// The Kubernetes version Shepherd reports: kubectl chooses its behaviour
// from it.
const (
	KubeMajor = "1"
	KubeMinor = "32"
)

// Info is what /version serves.
func Info() *version.Info {
	return &version.Info{
		Major:        KubeMajor,
		Minor:        KubeMinor,
		GitVersion:   GitVersion(),
		GitCommit:    GitCommit,
		GitTreeState: "clean",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// GitVersion is "v1.32.0-shepherd.<Version>": the Kubernetes version
// Shepherd serves and its own, as nodes and /version report it.
func GitVersion() string {
	return fmt.Sprintf("v%s.%s.0-shepherd.%s", KubeMajor, KubeMinor, Version)
}
