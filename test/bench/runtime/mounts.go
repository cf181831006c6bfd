package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/shepherd-lab/shepherd/internal/mountinfo"
)

// mount is one line of /proc/<pid>/mountinfo.
type mount = mountinfo.Mount

// readMounts reads a mountinfo file ("/proc/self/mountinfo").
func readMounts(name string) ([]mount, error) { return mountinfo.Read(name) }

// parseMounts parses mountinfo; a line it cannot read is an error here.
func parseMounts(r io.Reader) ([]mount, error) { return mountinfo.Parse(r) }

// cgroupLayout is how a mount table lays out the cgroup file systems.
type cgroupLayout struct {
	V1 []string // cgroup v1 hierarchies' mount points
	V2 []string // cgroup2 mount points
}

func layoutOf(ms []mount) cgroupLayout {
	var l cgroupLayout
	for _, m := range ms {
		switch m.FSType {
		case "cgroup":
			l.V1 = append(l.V1, m.Point)
		case "cgroup2":
			l.V2 = append(l.V2, m.Point)
		}
	}
	return l
}

// hybrid says whether controllers live in cgroup v1 while a cgroup2 file
// system is mounted beside them: the layout crun 1.8 refuses ("cgroups in
// hybrid mode not supported").
func (l cgroupLayout) hybrid() bool { return len(l.V1) > 0 && len(l.V2) > 0 }

func (l cgroupLayout) String() string {
	switch {
	case l.hybrid():
		return fmt.Sprintf("hybrid: %d cgroup v1 hierarchies (%s, ...), cgroup2 at %s",
			len(l.V1), filepath.Dir(l.V1[0]), strings.Join(l.V2, ", "))
	case len(l.V2) > 0:
		return "unified: cgroup2 at " + strings.Join(l.V2, ", ")
	case len(l.V1) > 0:
		return fmt.Sprintf("legacy: %d cgroup v1 hierarchies, no cgroup2", len(l.V1))
	}
	return "no cgroup file system mounted"
}

// mountsUnder returns the mount points at or below dir.
func mountsUnder(ms []mount, dir string) []string {
	var out []string
	for _, m := range ms {
		if m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m.Point)
		}
	}
	return out
}
