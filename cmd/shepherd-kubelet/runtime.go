package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/shepherd-lab/shepherd/cmd/internal/cli"
	"github.com/shepherd-lab/shepherd/runtime/cgroups"
	"github.com/shepherd-lab/shepherd/runtime/container"
	"github.com/shepherd-lab/shepherd/runtime/image"
)

// options are the flags every runtime subcommand shares with the node agent.
type options struct {
	rootDir    string
	cgroupRoot string
	insecure   []string
	authFile   string
	logs       cli.LogOptions
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	cli.PathVar(fs, &o.rootDir, "root-dir", "/var/lib/shepherd/kubelet", "Directory for the kubelet's state: images/ (the image store) and runtime/ (containers).")
	fs.StringVar(&o.cgroupRoot, "cgroup-root", "shepherd", "Cgroup (relative to the cgroup v2 mount) under which containers' cgroups are made.")
	fs.StringSliceVar(&o.insecure, "insecure-registry", nil, "Registry hosts (host:port) that may be reached over plain HTTP.")
	cli.PathVar(fs, &o.authFile, "registry-auth-file", "", "Docker config.json with registry credentials.")
	o.logs.AddFlags(fs)
}

func (o *options) logger() (*slog.Logger, error) {
	return o.logs.Logger("shepherd-kubelet")
}

func (o *options) images() (*image.Store, error) {
	log, err := o.logger()
	if err != nil {
		return nil, err
	}
	return image.Open(filepath.Join(o.rootDir, "images"), image.Options{Insecure: o.insecure, AuthFile: o.authFile, Log: log})
}

// runtime opens the container runtime; the cgroup manager is set up only
// by commands that create containers (withCgroups).
func (o *options) runtime(withCgroups bool) (*container.Runtime, error) {
	return o.runtimeWith(withCgroups, false)
}

// runtimeWith also says whether to keep a spare monitor started ahead
// (the node agent does; one-shot commands would only waste it).
func (o *options) runtimeWith(withCgroups, spareMonitor bool) (*container.Runtime, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the container runtime needs root")
	}
	log, err := o.logger()
	if err != nil {
		return nil, err
	}
	cfg := container.Config{Root: filepath.Join(o.rootDir, "runtime"), Log: log, SpareMonitor: spareMonitor}
	if withCgroups {
		// What the host cannot enforce is the node agent's to log, once
		// at start-up; a debugging command warns only about the limits
		// it was asked for (see run), unless --log-level=debug.
		var cglog *slog.Logger
		if log.Enabled(context.Background(), slog.LevelDebug) {
			cglog = log
		}
		m, err := cgroups.Open(cgroups.Options{Root: o.cgroupRoot, Log: cglog})
		if err != nil {
			return nil, fmt.Errorf("cgroups: %w", err)
		}
		if !m.Available() {
			log.Warn("no usable cgroup v2 hierarchy: containers run without resource limits")
		} else if un := m.Unavailable(); len(un) > 0 {
			for c, why := range un {
				log.Debug("cgroup controller unavailable", "controller", c, "reason", why)
			}
		}
		cfg.Cgroups = m
	}
	return container.New(cfg)
}

// exitError carries a container's exit code out of main.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func exitCode(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// resolveContainer finds a container by full ID or unique prefix.
func resolveContainer(rt *container.Runtime, ref string) (*container.State, error) {
	if st, err := rt.State(ref); err == nil {
		return st, nil
	}
	list, err := rt.List()
	if err != nil {
		return nil, err
	}
	var match []*container.State
	for _, st := range list {
		if strings.HasPrefix(st.ID, ref) {
			match = append(match, st)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, fmt.Errorf("container %q: %w", ref, container.ErrNotFound)
	default:
		return nil, fmt.Errorf("container %q: prefix matches %d containers", ref, len(match))
	}
}
